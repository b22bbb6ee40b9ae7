"""The schema's history: Alembic migrations, applied by `knowledge.schema` (on open, or `pitcrew db upgrade`).

Revision ids are four-digit numbers (`0001`, `0002`...), each in `versions/NNNN_<slug>.py`, one after the other
(no branches). That lets a start compare the database's stored revision with the newest file name here without
importing Alembic (~0.1 s): Alembic is loaded only when there is an upgrade to run.

Adding a migration (a change to knowledge/models, new DDL, data to move):

1. Change the models (or the DDL constants the code keeps, e.g. knowledge.db.FTS_DDL).
2. Write the migration: `python -m knowledge.migrations revision --autogenerate -m "what it does"` drafts
   `versions/NNNN_what_it_does.py` from the difference between the models and the database at DATABASE_URL
   (upgrade a scratch database to the current head first: `pitcrew db upgrade`). Review the draft: autogenerate
   knows tables, columns, indexes and constraints, not triggers, FTS5 tables, expression indexes or data.
3. Anything that exists on one backend only goes in a branch on `op.get_bind().dialect.name` inside the
   migration (SQLite's FTS5 index and triggers, PostgreSQL's generated columns and GIN indexes). Spell DDL out in
   the migration itself rather than importing it from the code: a migration is history and must not change when
   the code does.
4. `.venv/bin/python -m pytest -q tests/knowledge/test_migrations.py` checks the chain, that the head schema
   matches the models and the DDL constants, and that rows survive the upgrade; run it with PG_TEST_URL set too.

SQLite runs each migration in one `BEGIN IMMEDIATE` transaction, PostgreSQL in one transaction under an
advisory lock (knowledge.dialects.upgrade_lock), so a failed upgrade leaves the database as it was.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

MIGRATIONS_DIR = Path(__file__).resolve().parent
VERSIONS_DIR = MIGRATIONS_DIR / "versions"
_REVISION_FILE = re.compile(r"^(\d{4})_\w+\.py$")


@lru_cache(maxsize=1)
def revision_ids() -> tuple[str, ...]:
    """Every revision, oldest first, read from the file names (no Alembic import)."""
    names = (path.name for path in VERSIONS_DIR.iterdir())
    return tuple(sorted(match.group(1) for name in names if (match := _REVISION_FILE.match(name))))


def head_revision() -> str:
    """The newest revision: the schema this pitcrew needs."""
    return revision_ids()[-1]


def next_revision_id() -> str:
    return f"{int(head_revision()) + 1:04d}"
