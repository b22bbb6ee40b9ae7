"""The knowledge revision: a counter an import bumps in its own transaction whenever it changes anything.

A running server polls it (one indexed read) to learn that the names it recognises (accounts,
contacts, products, plans, meeting kinds) are out of date, without a restart; on PostgreSQL the bump is
also announced to every instance when it commits (knowledge.dialects.changes).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Connection, DateTime, bindparam, text

from knowledge.db import Database
from knowledge.dialects import changes

_BUMP = text(
    "INSERT INTO knowledgerevision (id, revision, changed_at) VALUES (1, 1, :now) "
    "ON CONFLICT (id) DO UPDATE SET revision = knowledgerevision.revision + 1, changed_at = excluded.changed_at "
    "RETURNING revision"
).bindparams(bindparam("now", type_=DateTime()))
_READ = text("SELECT revision FROM knowledgerevision WHERE id = 1")


def bump_revision(connection: Connection) -> int:
    """Count one change and announce it; call inside the transaction that made it, so both commit or neither
    does. Returns the new revision."""
    revision = int(connection.execute(_BUMP, {"now": datetime.now(UTC).replace(tzinfo=None)}).scalar_one())
    changes.announce(connection, revision)
    return revision


def read_revision(db: Database) -> int:
    """The current revision; 0 before the first import."""
    with db.engine.connect() as connection:
        value = connection.execute(_READ).scalar_one_or_none()
    return int(value or 0)
