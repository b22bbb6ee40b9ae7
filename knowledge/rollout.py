"""The stored rollout of the LLM-skip optimisation: read by every instance, written by an operator or a rollback."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import DateTime, Float, String, bindparam, text

from knowledge.db import Database

ChangedBy = Literal["operator", "automatic"]

_READ = text("SELECT mode, canary_percent, changed_at, changed_by, reason FROM rolloutsetting WHERE id = 1").columns(
    mode=String(), canary_percent=Float(), changed_at=DateTime(), changed_by=String(), reason=String())
_WRITE = text(
    "INSERT INTO rolloutsetting (id, mode, canary_percent, changed_at, changed_by, reason) "
    "VALUES (1, :mode, :percent, :now, :by, :reason) "
    "ON CONFLICT (id) DO UPDATE SET mode = excluded.mode, canary_percent = excluded.canary_percent, "
    "changed_at = excluded.changed_at, changed_by = excluded.changed_by, reason = excluded.reason"
).bindparams(bindparam("now", type_=DateTime()))
# An automatic rollback only moves away from the mode it judged: an operator's change meanwhile wins.
_ROLL_BACK = text(
    "UPDATE rolloutsetting SET mode = :mode, changed_at = :now, changed_by = 'automatic', reason = :reason "
    "WHERE id = 1 AND mode = :from_mode"
).bindparams(bindparam("now", type_=DateTime()))


@dataclass(frozen=True)
class StoredRollout:
    mode: str
    canary_percent: float
    changed_at: datetime
    changed_by: str
    reason: str | None


def read_rollout(db: Database) -> StoredRollout | None:
    """The stored rollout; None when nobody set one (the setting's mode applies)."""
    with db.engine.connect() as connection:
        row = connection.execute(_READ).first()
    if row is None:
        return None
    return StoredRollout(str(row.mode), float(row.canary_percent), row.changed_at, str(row.changed_by), row.reason)


def write_rollout(db: Database, mode: str, canary_percent: float, *, changed_by: ChangedBy = "operator",
                  reason: str | None = None) -> None:
    with db.engine.begin() as connection:
        connection.execute(_WRITE, {"mode": mode, "percent": canary_percent, "now": _now(), "by": changed_by,
                                    "reason": reason})


def roll_back(db: Database, from_mode: str, to_mode: str, canary_percent: float, reason: str) -> bool:
    """Move from `from_mode` to `to_mode` with `reason`; False when the stored mode is no longer `from_mode`
    (another instance rolled back first, or an operator changed it)."""
    with db.engine.begin() as connection:
        if connection.execute(_READ).first() is None:  # the setting's mode was in force: store the rollback
            connection.execute(_WRITE, {"mode": to_mode, "percent": canary_percent, "now": _now(),
                                        "by": "automatic", "reason": reason})
            return True
        result = connection.execute(_ROLL_BACK, {"mode": to_mode, "now": _now(), "reason": reason,
                                                 "from_mode": from_mode})
        return bool(result.rowcount)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
