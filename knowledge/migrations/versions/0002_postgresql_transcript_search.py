"""PostgreSQL call search: a generated tsvector of each transcript segment's text, with a GIN index.

SQLite searches its FTS5 index (0001) and has nothing to do here. Adding a stored generated column rewrites the
table once (seconds per million segments). Idempotent, like the DDL it replaces.

Revision 0002, after 0001.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEARCH_COLUMN_DDL = (
    "ALTER TABLE transcriptsegment ADD COLUMN IF NOT EXISTS search tsvector"
    " GENERATED ALWAYS AS (to_tsvector('english', text)) STORED"
)
SEARCH_INDEX_DDL = "CREATE INDEX IF NOT EXISTS ix_transcriptsegment_search ON transcriptsegment USING gin (search)"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(SEARCH_COLUMN_DDL)
    op.execute(SEARCH_INDEX_DDL)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_transcriptsegment_search")
    op.execute("ALTER TABLE transcriptsegment DROP COLUMN IF EXISTS search")
