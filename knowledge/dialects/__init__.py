"""What differs between the database engines, one module per concern: each gives the version of its SQL (or of
its machinery) for an engine, looked up by `engine.dialect.name`, so the code using it has no engine branches."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from sqlalchemy import Connection, Engine

Version = TypeVar("Version")


def version_for(versions: Mapping[str, Version], engine: Engine | Connection, concern: str) -> Version:
    """The version in `versions` (keyed by engine name) for `engine`'s database; a clear error for another engine."""
    name = engine.dialect.name
    try:
        return versions[name]
    except KeyError:
        raise LookupError(f"{concern} is not supported on {name}: use SQLite or PostgreSQL") from None
