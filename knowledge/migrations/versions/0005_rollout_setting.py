"""The rollout of the LLM-skip optimisation: one row every instance reads (mode, canary share, why it changed).

Revision 0005, after 0004.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rolloutsetting",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),  # one row, id 1
        sa.Column("mode", sa.String(), nullable=False),
        sa.Column("canary_percent", sa.Float(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_by", sa.String(), nullable=False),
        sa.Column("reason", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        if_not_exists=True,
    )


def downgrade() -> None:
    op.drop_table("rolloutsetting")
