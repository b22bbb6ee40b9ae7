"""Opening the configured database, and saying which one was opened.

A mistyped `DATABASE_URL` must not quietly become a new database filled with the fictional demo
catalog (a deployment would then quote demo prices): a SQLite file is only created in a directory
that exists, except for the default `./data`, which is made on first use.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from bot.settings import DEFAULT_DATABASE_URL, Settings
from knowledge.db import Database, DatabaseError, PoolSettings, redact_url
from knowledge.demo import ensure_demo_data
from knowledge.import_problems import ImportRejected


class StartupError(Exception):
    """The process cannot start; the message is one line for the person at the terminal."""


@dataclass(frozen=True)
class DatabaseSummary:
    url: str  # password hidden
    products: int
    last_import: datetime | None  # naive UTC; None before the first import
    demo_loaded: bool  # the demo knowledge base was loaded into it just now

    def describe(self) -> str:
        """e.g. `database sqlite:///./data/pitcrew.db: 6 products, last import 2026-12-03 09:14 UTC`."""
        when = f"last import {self.last_import:%Y-%m-%d %H:%M} UTC" if self.last_import else "never imported"
        demo = "; the demo knowledge base was loaded into it" if self.demo_loaded else ""
        plural = "" if self.products == 1 else "s"
        return f"database {self.url}: {self.products} product{plural}, {when}{demo}"

    def as_log(self) -> dict[str, object]:
        return {"database": self.url, "products": self.products, "demo_loaded": self.demo_loaded,
                "last_import": self.last_import.isoformat() if self.last_import else None}


def missing_directory(url: str) -> Path | None:
    """The directory a SQLite file URL would need but that does not exist; None otherwise."""
    parsed = make_url(url)
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or database in ("", ":memory:"):
        return None
    path = Path(database).expanduser()
    if path.exists() or path.parent.is_dir():
        return None
    return path.parent


def open_database(settings: Settings, *, load_demo: bool) -> tuple[Database, bool]:
    """Open `DATABASE_URL`, and say whether the demo knowledge base was loaded into it (with `load_demo`,
    an empty database gets it)."""
    url = settings.database_url
    directory = missing_directory(url)
    if directory is not None and url != DEFAULT_DATABASE_URL:
        raise StartupError(
            f"DATABASE_URL points into {directory}, which does not exist; create it (mkdir -p {directory}) "
            "or correct the path (pitcrew does not create a new database in a missing directory, so a typo "
            "cannot start an empty one)"
        )
    try:
        db = Database(url, create_directory=directory is not None, auto_upgrade=settings.auto_upgrade,
                      pool=pool_settings(settings))
    except DatabaseError as exc:
        raise StartupError(str(exc)) from None
    if not load_demo:
        return db, False
    try:
        return db, ensure_demo_data(db)
    except (ImportRejected, SQLAlchemyError) as exc:
        db.close()
        raise StartupError(f"cannot load the demo knowledge base into {redact_url(url)}: {exc}") from None


def pool_settings(settings: Settings) -> PoolSettings:
    """The DB_POOL_* and DB_STATEMENT_TIMEOUT_MS settings, as the knowledge layer takes them."""
    return PoolSettings(size=settings.db_pool_size, max_overflow=settings.db_max_overflow,
                        timeout_s=settings.db_pool_timeout_s, statement_timeout_ms=settings.db_statement_timeout_ms)


_PRODUCTS = text("SELECT count(*) FROM product")
_LAST_IMPORT = text("SELECT changed_at FROM knowledgerevision WHERE id = 1")


def summarize_database(db: Database, *, demo_loaded: bool = False) -> DatabaseSummary:
    """What the start-up line says about the database (two indexed reads)."""
    with db.engine.connect() as connection:
        products = connection.execute(_PRODUCTS).scalar_one()
        last_import = connection.execute(_LAST_IMPORT).scalar_one_or_none()
    if isinstance(last_import, str):  # SQLite hands a raw column back as text
        last_import = datetime.fromisoformat(last_import)
    return DatabaseSummary(url=redact_url(db.url), products=int(products), last_import=last_import,
                           demo_loaded=demo_loaded)
