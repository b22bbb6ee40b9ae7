"""Scratch PostgreSQL databases for the benchmarks that compare backends or run several instances.

The server is `PG_BENCH_URL` (a SQLAlchemy URL whose database is the maintenance one to connect to), else the
local server at 127.0.0.1:5432 as `postgres`. Each benchmark makes a database of its own, named after it, and
drops it when done; with no server answering, the PostgreSQL rows are left out and the reason is reported.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

DEFAULT_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


class PostgresUnavailable(Exception):
    """No PostgreSQL server answers for the benchmarks; the message says where it looked."""


def bench_server_url() -> str:
    return os.environ.get("PG_BENCH_URL") or DEFAULT_SERVER


@contextmanager
def scratch_postgres(name: str) -> Iterator[str]:
    """A new, empty database on the benchmark server for the duration of the block; yields its URL."""
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    from knowledge.db import redact_url

    server = make_url(bench_server_url())
    admin_dsn = server.set(drivername="postgresql").render_as_string(hide_password=False)
    database = f"pitcrew_bench_{name}_{uuid.uuid4().hex[:8]}"
    try:
        with psycopg.connect(admin_dsn, autocommit=True, connect_timeout=3) as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    except psycopg.Error as exc:
        raise PostgresUnavailable(f"no PostgreSQL server for the benchmarks at {redact_url(str(server))} "
                                  f"(set PG_BENCH_URL): {str(exc).strip().splitlines()[0]}") from exc
    try:
        yield server.set(drivername="postgresql+psycopg", database=database).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin_dsn, autocommit=True, connect_timeout=3) as connection:
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))
