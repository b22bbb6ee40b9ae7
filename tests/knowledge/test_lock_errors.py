"""Which write errors are another transaction's lock in the way (retried at once) and which are not."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from knowledge.db import Database, PoolSettings, create_db_engine
from knowledge.dialects import lock_errors

INSERT = text("INSERT INTO knowledgerevision (id, revision, changed_at) VALUES (1, 1, '2026-01-01')")


def error_of(run: object) -> SQLAlchemyError:
    with pytest.raises(SQLAlchemyError) as raised:
        run()  # type: ignore[operator]
    return raised.value


@pytest.mark.sqlite_only
def test_sqlite_locked_is_a_lock_error_and_a_constraint_is_not(tmp_path: Path) -> None:
    path = tmp_path / "locks.db"
    Database(f"sqlite:///{path}").close()
    engine = create_db_engine(f"sqlite:///{path}", busy_timeout_ms=50)
    is_lock_error = lock_errors.for_engine(engine)
    locker = sqlite3.connect(path, isolation_level=None)
    try:
        locker.execute("BEGIN IMMEDIATE")

        def write() -> None:
            with engine.begin() as connection:
                connection.execute(INSERT)

        assert is_lock_error(error_of(write))
        locker.execute("ROLLBACK")
        write()
        assert not is_lock_error(error_of(write))  # the same id again: a constraint, not a lock
    finally:
        locker.close()
        engine.dispose()


@pytest.mark.postgres_only
def test_postgresql_lock_timeout_is_a_lock_error_and_a_statement_timeout_or_constraint_is_not(
    database: Database
) -> None:
    engine = create_db_engine(database.url, busy_timeout_ms=50, pool=PoolSettings(statement_timeout_ms=300))
    is_lock_error = lock_errors.for_engine(engine)
    try:
        with database.engine.begin() as holder:
            holder.execute(INSERT)  # holds the row's lock until this block ends

            def write() -> None:
                with engine.begin() as connection:
                    connection.execute(INSERT)

            assert is_lock_error(error_of(write))  # lock_timeout (55P03)

        def sleep() -> None:
            with engine.connect() as connection:
                connection.execute(text("SELECT pg_sleep(2)"))

        assert not is_lock_error(error_of(write))  # committed now: a unique violation
        assert not is_lock_error(error_of(sleep))  # a statement timeout: retrying would time out again
    finally:
        engine.dispose()
