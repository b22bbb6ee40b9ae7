"""Which write errors mean "another transaction was in the way" and are worth retrying at once.

SQLite: `database is locked` / `busy` (its busy timeout ran out while another connection wrote).
PostgreSQL: a serialization failure, a deadlock (the server rolled one transaction back) or a lock wait
past `lock_timeout`. Anything else (a constraint, a lost connection, a statement timeout) is not a lock
error: retrying at once would fail the same way.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from knowledge.dialects import version_for

# serialization_failure, deadlock_detected, lock_not_available
POSTGRESQL_LOCK_STATES = frozenset({"40001", "40P01", "55P03"})


def _sqlite(exc: BaseException) -> bool:
    return isinstance(exc, OperationalError) and any(word in str(exc.orig).lower() for word in ("locked", "busy"))


def _postgresql(exc: BaseException) -> bool:
    return isinstance(exc, OperationalError) and getattr(exc.orig, "sqlstate", None) in POSTGRESQL_LOCK_STATES


_LOCK_ERROR: dict[str, Callable[[BaseException], bool]] = {"sqlite": _sqlite, "postgresql": _postgresql}


def for_engine(engine: Engine) -> Callable[[BaseException], bool]:
    """The test for `engine`: takes an exception, True when it is a lock error."""
    return version_for(_LOCK_ERROR, engine, "telling lock errors")
