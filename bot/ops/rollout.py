"""The rollout controller: the LLM-skip optimisation's mode as stored in the database, followed by this instance.

It answers the control plane's question (may this message skip LLM validation?) from the mode and, in canary,
the current request's user; it counts how the LLM's checks of skip decisions turned out and how slow requests
are, and rolls back to `shadow` by itself when the rollback thresholds are crossed (in `canary` or `enabled`).
Every instance reads the stored mode every ROLLOUT_REFRESH_S, so a change by `pitcrew rollout set` or by another
instance's rollback reaches all of them.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import SQLAlchemyError

from bot.observability import current_request
from bot.observability.observers import REQUEST_SUMMARIES
from control_plane.rollout import in_canary
from knowledge.db import Database
from knowledge.rollout import StoredRollout, read_rollout, roll_back

if TYPE_CHECKING:
    from bot.observability.metrics import Metrics
    from bot.settings import Settings

log = logging.getLogger(__name__)

ROLLBACK_TO = "shadow"


@dataclass(frozen=True)
class RolloutState:
    mode: str
    canary_percent: float
    changed_at: datetime | None = None  # None: the setting's mode, never changed at run time
    changed_by: str = "setting"  # setting | operator | automatic
    reason: str | None = None

    @property
    def rolled_back(self) -> bool:
        return self.changed_by == "automatic"

    def as_json(self) -> dict[str, Any]:
        return {"mode": self.mode, "canary_percent": self.canary_percent,
                "changed_at": self.changed_at.isoformat() if self.changed_at else None,
                "changed_by": self.changed_by, "reason": self.reason}

    @classmethod
    def stored(cls, row: StoredRollout) -> RolloutState:
        return cls(row.mode, row.canary_percent, row.changed_at, row.changed_by, row.reason)


def current_state(db: Database, settings: Settings) -> RolloutState:
    """The rollout in force: the stored one, else LATENCY_OPTIMIZATION_MODE and CANARY_PERCENT (blocking)."""
    row = read_rollout(db)
    if row is None:
        return RolloutState(settings.latency_optimization_mode, settings.canary_percent)
    return RolloutState.stored(row)


class RolloutController:
    """The control plane's RolloutGate for one process. `start()` on the running loop; `stop()` at the end."""

    def __init__(self, db: Database, settings: Settings, *, metrics: Metrics | None = None,
                 state: RolloutState | None = None) -> None:
        self._db = db
        self._settings = settings
        self._metrics = metrics
        self.state = state or RolloutState(settings.latency_optimization_mode, settings.canary_percent)
        self._checks: deque[bool] = deque(maxlen=settings.rollback_window)
        self._slow: list[str] = []  # correlation ids of the current run of slow requests
        self._rolling_back = False
        self._rollback_task: asyncio.Task[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self.on_change: list[Callable[[RolloutState], None]] = []  # told of every change this instance sees

    # The gate -----------------------------------------------------------------------------------------

    def skip_allowed(self) -> bool:
        mode = self.state.mode
        if mode == "enabled":
            return True
        if mode != "canary":
            return False
        request = current_request()
        return in_canary(request.user if request is not None else None, self.state.canary_percent)

    def observe_agreement(self, agreed: bool) -> None:
        self._checks.append(agreed)
        if self._metrics is not None:
            self._metrics.observe_shadow(agreed)
        self._judge()

    def agreement(self) -> tuple[int, int]:
        """(checked, agreed) over the last ROLLBACK_WINDOW checked skip decisions."""
        return len(self._checks), sum(self._checks)

    # Watching requests --------------------------------------------------------------------------------

    def observe_request(self, fields: dict[str, Any]) -> None:
        total_ms = fields.get("total_time_ms")
        if isinstance(total_ms, (int, float)) and total_ms > self._settings.rollback_slow_ms:
            self._slow.append(str(fields.get("correlation_id")))
            self._judge()
        else:
            self._slow.clear()

    def rollback_reason(self) -> str | None:
        """Why the current mode must roll back now; None while it is within the thresholds."""
        settings = self._settings
        checked, agreed = self.agreement()
        if checked >= settings.rollback_min_checks:
            disagreement = (checked - agreed) / checked
            if disagreement > settings.rollback_disagreement:
                return (f"shadow disagreement {disagreement:.1%} over the last {checked} checked skip decisions "
                        f"(threshold {settings.rollback_disagreement:.1%})")
        if len(self._slow) >= settings.rollback_slow_consecutive:
            ids = ", ".join(self._slow[-3:])
            return (f"{len(self._slow)} requests in a row over {settings.rollback_slow_ms:g} ms "
                    f"(threshold {settings.rollback_slow_consecutive}; e.g. {ids})")
        return None

    def _judge(self) -> None:
        if self._rolling_back or self.state.mode not in ("canary", "enabled"):
            return
        reason = self.rollback_reason()
        if reason is None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a synchronous caller): nothing to store the rollback with
            return
        judged = self.state
        self._rolling_back = True
        # Skipping stops on this instance at once; the database (written off the loop) tells the others.
        self._use(replace(judged, mode=ROLLBACK_TO, changed_by="automatic", reason=reason,
                          changed_at=datetime.now(UTC).replace(tzinfo=None)))
        self._rollback_task = loop.create_task(self._roll_back(judged, reason), name="rollout-rollback")

    async def _roll_back(self, judged: RolloutState, reason: str) -> None:
        try:
            stored = await asyncio.to_thread(roll_back, self._db, judged.mode, ROLLBACK_TO, judged.canary_percent,
                                             reason)
            log.warning("automatic rollback of the LLM-skip optimisation",
                        extra={"from_mode": judged.mode, "to_mode": ROLLBACK_TO, "reason": reason, "stored": stored})
            if self._metrics is not None:
                self._metrics.rollbacks.inc()
        except SQLAlchemyError:
            log.exception("could not store the automatic rollback; this instance stays in shadow")
            return  # and keeps it: a refresh would bring the judged mode back
        finally:
            self._rolling_back = False
        await self.refresh()

    # Following the stored mode ------------------------------------------------------------------------

    def _use(self, state: RolloutState) -> None:
        if state == self.state:
            return
        if (state.mode, state.canary_percent) != (self.state.mode, self.state.canary_percent):
            self._checks.clear()  # what was measured judged the previous mode
            self._slow.clear()
        self.state = state
        for listener in self.on_change:
            listener(state)

    def load(self) -> None:
        """Read the stored mode now (blocking)."""
        self._use(current_state(self._db, self._settings))

    async def refresh(self) -> None:
        if self._rolling_back:  # the stored mode is about to change: reading it now would undo the rollback here
            return
        try:
            state = await asyncio.to_thread(current_state, self._db, self._settings)
        except SQLAlchemyError as exc:
            log.warning("could not read the rollout mode; keeping the current one", extra={"error": type(exc).__name__})
            return
        self._use(state)

    def start(self) -> None:
        REQUEST_SUMMARIES.add(self.observe_request)
        self._task = asyncio.get_running_loop().create_task(self._follow(), name="rollout-refresh")

    async def _follow(self) -> None:
        while True:
            await asyncio.sleep(self._settings.rollout_refresh_s)
            await self.refresh()

    async def stop(self) -> None:
        REQUEST_SUMMARIES.remove(self.observe_request)
        if self._rollback_task is not None:  # a rollback being stored is finished, not lost
            await asyncio.gather(self._rollback_task, return_exceptions=True)
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
