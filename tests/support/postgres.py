"""The test suite's PostgreSQL pass: with `PG_TEST_URL` set, each test that uses a database gets a fresh
PostgreSQL database of its own, cloned from a template (empty schema, or the demo knowledge base).

A clone is a file copy inside the server (~0.08 s here), far cheaper than loading the demo; databases are
dropped on a background thread so a test does not wait for it. Every database this run makes carries the
name of `PG_TEST_URL`'s database as a prefix, and is dropped at the end of the session.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

PG_TEST_URL_VARIABLE = "PG_TEST_URL"


def pg_test_url() -> str | None:
    """The server (and maintenance database) of the PostgreSQL pass; None runs the suite on SQLite alone."""
    return os.environ.get(PG_TEST_URL_VARIABLE) or None


class PostgresDatabases:
    """Creates and drops the databases of one test session on the server at `admin_url`."""

    def __init__(self, admin_url: str) -> None:
        self._admin = make_url(admin_url)
        self._prefix = f"{self._admin.database or 'pitcrew'}_t{os.getpid()}"
        self._counter = itertools.count(1)
        self._templates: dict[str, str] = {}
        self._lock = threading.Lock()
        self._dropper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pg-test-drop")
        self._drops: list[Future[None]] = []

    def url(self, database: str) -> str:
        """The SQLAlchemy URL (psycopg 3 driver) of `database` on this server."""
        return self._admin.set(drivername="postgresql+psycopg", database=database).render_as_string(hide_password=False)

    def create(self, template: str | None = None) -> str:
        """A new database (a clone of `template` when given); returns its URL."""
        name = f"{self._prefix}_{next(self._counter)}"
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            statement = sql.SQL("{} TEMPLATE {} STRATEGY FILE_COPY").format(statement, sql.Identifier(template))
        self._execute(statement)
        return self.url(name)

    def template(self, key: str, build: Callable[[str], None]) -> str:
        """The name of the template database `key`, built once per session by `build(url)`, which must close
        every connection it opens (a template with a connection cannot be cloned)."""
        with self._lock:
            if key not in self._templates:
                url = self.create()
                build(url)
                self._templates[key] = make_url(url).database or ""
            return self._templates[key]

    def drop(self, url: str) -> None:
        """Drop the database at `url` soon, on the background thread (connections left open are ended)."""
        name = make_url(url).database or ""
        self._drops.append(self._dropper.submit(self._drop_now, name))

    def close(self) -> None:
        """Drop the templates and wait for every pending drop."""
        for name in self._templates.values():
            self._drops.append(self._dropper.submit(self._drop_now, name))
        self._dropper.shutdown(wait=True)
        for drop in self._drops:
            drop.result()

    def _drop_now(self, name: str) -> None:
        self._execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def _execute(self, statement: sql.Composable) -> None:
        admin = self._admin.set(drivername="postgresql")
        dsn = admin.render_as_string(hide_password=False)
        with psycopg.connect(dsn, autocommit=True) as connection:
            connection.execute(statement)
