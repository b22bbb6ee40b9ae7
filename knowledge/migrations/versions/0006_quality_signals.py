"""Quality signals (feedback clicks, implicit signals) and the opt-in text of answered exchanges.

The same DDL on SQLite and PostgreSQL. Idempotent (`if_not_exists`), like the baseline: a database adopted from
before migrations, made by a release that already had these tables, is stamped at 0001 and runs this too.
Revision 0006, after 0005.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "qualitysignal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("correlation_id", sa.String(), nullable=False),
        sa.Column("user_id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("positive", sa.Boolean(), nullable=False),
        sa.Column("intent", sa.String(), nullable=False),
        sa.Column("handler", sa.String(), nullable=False),
        sa.Column("pattern", sa.String(), nullable=False),
        sa.Column("llm", sa.String(), nullable=False),
        sa.Column("snapshot_version", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(), nullable=True),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("correlation_id", "user_id", "kind", name="uq_qualitysignal_answer_user_kind"),
        if_not_exists=True,
    )
    op.create_index("ix_qualitysignal_correlation_id", "qualitysignal", ["correlation_id"], if_not_exists=True)
    op.create_index("ix_qualitysignal_created_at", "qualitysignal", ["created_at"], if_not_exists=True)
    op.create_table(
        "qualityexchange",
        sa.Column("correlation_id", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("intent", sa.String(), nullable=False),
        sa.Column("handler", sa.String(), nullable=False),
        sa.Column("question", sa.String(), nullable=False),
        sa.Column("answer", sa.String(), nullable=False),
        sa.Column("frame", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("correlation_id"),
        if_not_exists=True,
    )
    op.create_index("ix_qualityexchange_created_at", "qualityexchange", ["created_at"], if_not_exists=True)


def downgrade() -> None:
    op.drop_index("ix_qualityexchange_created_at", table_name="qualityexchange")
    op.drop_table("qualityexchange")
    op.drop_index("ix_qualitysignal_created_at", table_name="qualitysignal")
    op.drop_index("ix_qualitysignal_correlation_id", table_name="qualitysignal")
    op.drop_table("qualitysignal")
