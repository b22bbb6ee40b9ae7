"""Airtable sync state: `airtablesyncstate` (cursor, webhook, MAC secret, last run) and `airtablerecord` (which
Airtable record became which row). Plain tables, the same on SQLite and PostgreSQL.

Revision 0004, after 0003.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "airtablesyncstate",
        sa.Column("base_id", sa.String(), nullable=False),
        sa.Column("cursor", sa.Integer(), nullable=False),
        sa.Column("webhook_id", sa.String(), nullable=True),
        sa.Column("mac_secret", sa.String(), nullable=True),
        sa.Column("webhook_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_sync_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_sync_kind", sa.String(), nullable=True),
        sa.Column("last_counts", sa.String(), nullable=False),
        sa.Column("last_error", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("base_id"),
        if_not_exists=True,  # a database made from the models before it was stamped has them already
    )
    op.create_table(
        "airtablerecord",
        sa.Column("record_id", sa.String(), nullable=False),
        sa.Column("base_id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("natural_key", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("record_id"),
        if_not_exists=True,
    )
    op.create_index(op.f("ix_airtablerecord_base_id"), "airtablerecord", ["base_id"], unique=False, if_not_exists=True)


def downgrade() -> None:
    op.drop_index(op.f("ix_airtablerecord_base_id"), table_name="airtablerecord", if_exists=True)
    op.drop_table("airtablerecord")
    op.drop_table("airtablesyncstate")
