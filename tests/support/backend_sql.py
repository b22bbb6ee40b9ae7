"""What tests do below pitcrew's own code, on either backend: record the SQL a driver connection runs, write the
way a shell (the sqlite3 shell, psql) or a script would, and switch foreign keys off as some tools do."""

from __future__ import annotations

import sqlite3
from typing import Any

import psycopg
from sqlalchemy import Connection
from sqlalchemy.engine import make_url


def record_statements(dbapi_connection: Any, statements: list[str]) -> None:
    """Append every SQL statement `dbapi_connection` runs from now on to `statements` (until `stop_recording`)."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.set_trace_callback(statements.append)
        return

    class RecordingCursor(psycopg.Cursor):  # type: ignore[type-arg]
        def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
            statements.append(str(query))
            return super().execute(query, params, **kwargs)

        def executemany(self, query: Any, params_seq: Any, **kwargs: Any) -> Any:
            statements.append(str(query))
            return super().executemany(query, params_seq, **kwargs)

    dbapi_connection.cursor_factory = RecordingCursor


def stop_recording(dbapi_connection: Any) -> None:
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.set_trace_callback(None)
    else:
        dbapi_connection.cursor_factory = psycopg.Cursor


def write_outside(url: str, sql: str) -> None:
    """A write made the way a shell or a script would: its own driver connection, no pitcrew code (and, on SQLite,
    foreign keys off: the sqlite3 default)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        connection = sqlite3.connect(parsed.database or "")
        try:
            connection.execute(sql)
            connection.commit()
        finally:
            connection.close()
        return
    with psycopg.connect(parsed.set(drivername="postgresql").render_as_string(hide_password=False)) as connection:
        connection.execute(sql)


def foreign_keys_off(connection: Connection) -> None:
    """No foreign key checks or cascades for the rest of this transaction (or, on SQLite, this connection)."""
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    else:  # what replication and restore tools do (superuser); it switches the change-log triggers off as well
        connection.exec_driver_sql("SET LOCAL session_replication_role = replica")
