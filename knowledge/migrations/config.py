"""The Alembic configuration, built in code: no alembic.ini to ship or find."""

from __future__ import annotations

from alembic.config import Config
from sqlalchemy import Connection

from knowledge.migrations import MIGRATIONS_DIR


def alembic_config(connection: Connection | None = None) -> Config:
    """A configuration whose env.py runs on `connection` (in the caller's transaction)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")  # versions/0003_add_something.py
    config.set_main_option("truncate_slug_length", "40")
    if connection is not None:
        config.attributes["connection"] = connection
    return config
