"""Alembic's environment: runs the migrations on the connection knowledge.schema hands over."""

from __future__ import annotations

import warnings
from typing import Any

from alembic import context
from sqlalchemy.exc import SAWarning
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

import knowledge.models  # noqa: F401  (registers every table on SQLModel.metadata)
from knowledge.migrations.unmanaged import is_unmanaged

# Expression indexes (0001's read indexes) are not reflected; include_object leaves them out of comparisons anyway.
warnings.filterwarnings("ignore", message="Skipped unsupported reflection of expression-based index", category=SAWarning)

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through knowledge.schema (pitcrew db upgrade) or python -m knowledge.migrations")


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Drafts in plain SQLAlchemy types: sqlmodel's string and UTC datetime make the same DDL."""
    if type_ == "type" and isinstance(obj, AutoString):
        return "sa.String()"
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Leave autogenerate's comparison the objects the migrations write as DDL (see knowledge.migrations.unmanaged)."""
    return not is_unmanaged(type_, name)


context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    include_object=include_object,
    render_item=render_item,
    compare_type=True,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters a table by copying it
)
with context.begin_transaction():  # the caller's transaction (and lock) when it opened one
    context.run_migrations()
