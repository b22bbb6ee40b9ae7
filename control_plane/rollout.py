"""Rollout of the LLM-skip optimisation: which messages may skip LLM validation, and stable canary buckets.

Modes: `disabled` (every message is validated: the baseline), `shadow` (every message is validated; for those the
patterns would have skipped, the agreement of the two is measured), `canary` (users whose stable bucket falls in
the canary share skip as in `enabled`; the others as in `shadow`), `enabled` (confident messages skip).
"""

from __future__ import annotations

import hashlib
from typing import Literal, Protocol

RolloutMode = Literal["disabled", "shadow", "canary", "enabled"]
ROLLOUT_MODES: tuple[RolloutMode, ...] = ("disabled", "shadow", "canary", "enabled")
BUCKETS = 10_000  # canary shares to a hundredth of a percent


def canary_bucket(user: str) -> int:
    """The user's bucket in [0, BUCKETS): a hash of the id, the same in every process and after every restart
    (Python's hash() is salted per process, so it would not do)."""
    digest = hashlib.blake2b(user.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % BUCKETS


def in_canary(user: str | None, percent: float) -> bool:
    """Whether `user` gets skipping at a canary of `percent` %; a message with no user never does."""
    if user is None or percent <= 0:
        return False
    return canary_bucket(user) < round(percent * BUCKETS / 100)


class RolloutGate(Protocol):
    """What the control plane asks of the rollout: may this message skip, and how did a check of a skip turn out."""

    def skip_allowed(self) -> bool:
        """Whether the message being decided (the current request's) may skip LLM validation."""

    def observe_agreement(self, agreed: bool) -> None:
        """The LLM checked a decision the patterns would have skipped: did it agree?"""
