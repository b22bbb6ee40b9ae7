"""Baseline: the schema as pitcrew made it before migrations.

Every table with its keys and indexes, the read indexes; on SQLite the transcript FTS5 index and the snapshot
change log's triggers.

Idempotent on purpose: every object is created only if missing, so the same migration also adopts a database
made by an earlier pitcrew release (tables there, no alembic_version): what that release lacked is added, and
a transcript index of the old text-only shape is rebuilt in the current one. No row is touched.

Revision 0001, the first.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Indexes that keep the request path's reads independent of the catalog's size (see knowledge.reader): the alias
# a name resolves to, the primary product, the product listing.
READ_INDEX_DDL = (
    "CREATE INDEX IF NOT EXISTS ix_snapshotalias_winner ON snapshotalias (alias, (kind <> 'product'), rank, product_id)",
    "CREATE INDEX IF NOT EXISTS ix_product_primary ON product (is_primary DESC, id)",
    "CREATE INDEX IF NOT EXISTS ix_product_listing ON product (is_primary DESC, name)",
)

# SQLite: the external-content FTS5 index over transcript segments (text and meeting id), kept in step by triggers.
FTS_COLUMNS = ("text", "meeting_id")
FTS_TRIGGERS = ("transcript_fts_ai", "transcript_fts_ad", "transcript_fts_au")
FTS_DDL = (
    """CREATE VIRTUAL TABLE IF NOT EXISTS transcript_fts USING fts5(
        text, meeting_id, content='transcriptsegment', content_rowid='id',
        tokenize='porter unicode61 remove_diacritics 2')""",
    """CREATE TRIGGER IF NOT EXISTS transcript_fts_ai AFTER INSERT ON transcriptsegment BEGIN
        INSERT INTO transcript_fts(rowid, text, meeting_id) VALUES (new.id, new.text, new.meeting_id); END""",
    """CREATE TRIGGER IF NOT EXISTS transcript_fts_ad AFTER DELETE ON transcriptsegment BEGIN
        INSERT INTO transcript_fts(transcript_fts, rowid, text, meeting_id)
        VALUES ('delete', old.id, old.text, old.meeting_id); END""",
    """CREATE TRIGGER IF NOT EXISTS transcript_fts_au AFTER UPDATE OF text, meeting_id ON transcriptsegment BEGIN
        INSERT INTO transcript_fts(transcript_fts, rowid, text, meeting_id)
        VALUES ('delete', old.id, old.text, old.meeting_id);
        INSERT INTO transcript_fts(rowid, text, meeting_id) VALUES (new.id, new.text, new.meeting_id); END""",
)

# SQLite: the snapshot change log's triggers (knowledge.snapshot_changes): catalog table -> how a row names the
# product(s) whose snapshot it is a source of.
_PRODUCT_OF: dict[str, tuple[str, ...]] = {
    "product": ("{row}.id",),
    "plan": ("{row}.product_id",),
    "feature": ("{row}.product_id",),
    "planfeature": (
        "(SELECT product_id FROM plan WHERE id = {row}.plan_id)",
        "(SELECT product_id FROM feature WHERE id = {row}.feature_id)",
    ),
    "integration": ("{row}.product_id",),
    "planlimit": ("(SELECT product_id FROM plan WHERE id = {row}.plan_id)",),
    "complianceitem": ("{row}.product_id",),
    "addon": ("{row}.product_id",),
    "faq": ("{row}.product_id",),
}
_LOG = (
    "INSERT INTO snapshotchange (product_id, tick)"
    " SELECT {product}, coalesce((SELECT tick FROM snapshotstate WHERE id = 1), 0) WHERE {product} IS NOT NULL"
    " ON CONFLICT (product_id) DO UPDATE SET tick = excluded.tick;"
)
_EVENTS = (("ai", "INSERT", ("new",)), ("au", "UPDATE", ("new", "old")), ("ad", "DELETE", ("old",)))
SNAPSHOT_CHANGE_DDL = {
    f"snapshot_change_{table}_{suffix}": (
        f"CREATE TRIGGER IF NOT EXISTS snapshot_change_{table}_{suffix} AFTER {event} ON {table} BEGIN "
        + " ".join(_LOG.format(product=product.format(row=row)) for row in rows for product in products)
        + " END"
    )
    for table, products in _PRODUCT_OF.items()
    for suffix, event, rows in _EVENTS
}


def upgrade() -> None:
    _create_tables()
    for statement in READ_INDEX_DDL:
        op.execute(statement)
    if op.get_bind().dialect.name == "sqlite":
        _create_transcript_index()
        for statement in SNAPSHOT_CHANGE_DDL.values():
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in (*SNAPSHOT_CHANGE_DDL, *FTS_TRIGGERS):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS transcript_fts")
    for table in ("transcriptsegment", "planlimit", "planfeature", "snapshotalias", "productsnapshot", "plan",
                  "meeting", "integration", "feature", "faq", "contact", "complianceitem", "addon", "threadturn",
                  "snapshotstate", "snapshotchange", "schedulerlease", "responsecacheentry", "product",
                  "knowledgerevision", "inboxevent", "account"):
        op.drop_table(table)


def _create_transcript_index() -> None:
    """The FTS5 index in its current shape: made if missing, remade (and refilled) if of the old text-only shape."""
    bind = op.get_bind()
    columns = tuple(row[1] for row in bind.exec_driver_sql("PRAGMA table_info(transcript_fts)"))
    if columns == FTS_COLUMNS:
        for statement in FTS_DDL[1:]:  # the triggers, should one be missing
            op.execute(statement)
        return
    if columns:
        for trigger in FTS_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE transcript_fts")
    for statement in FTS_DDL:
        op.execute(statement)
    # A few seconds per million segments, once; nothing to do in a new database.
    op.execute("INSERT INTO transcript_fts(transcript_fts) VALUES ('rebuild')")


def _create_tables() -> None:
    """Every table with its keys, constraints and indexes, parents first (as autogenerate drafted them)."""
    op.create_table(
        "account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("industry", sa.String(), nullable=False),
        sa.Column("segment", sa.String(), nullable=False),
        sa.Column("owner", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        if_not_exists=True,
    )
    _index("ix_account_slug", "account", ["slug"], unique=True)
    op.create_table(
        "inboxevent",
        sa.Column("event_id", sa.String(), nullable=False),
        sa.Column("envelope", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
        if_not_exists=True,
    )
    _index("ix_inboxevent_received_at", "inboxevent", ["received_at"])
    _index("ix_inboxevent_state", "inboxevent", ["state"])
    op.create_table(
        "knowledgerevision",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),  # one row, id 1
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        if_not_exists=True,
    )
    op.create_table(
        "product",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("tagline", sa.String(), nullable=False),
        sa.Column("description", sa.String(), nullable=False),
        sa.Column("category", sa.String(), nullable=False),
        sa.Column("is_primary", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        if_not_exists=True,
    )
    _index("ix_product_slug", "product", ["slug"], unique=True)
    op.create_table(
        "responsecacheentry",
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("value", sa.String(), nullable=False),
        sa.Column("model", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_access_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
        if_not_exists=True,
    )
    _index("ix_responsecacheentry_expires_at", "responsecacheentry", ["expires_at"])
    _index("ix_responsecacheentry_last_access_at", "responsecacheentry", ["last_access_at"])
    op.create_table(
        "schedulerlease",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("holder", sa.String(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
        if_not_exists=True,
    )
    op.create_table(
        "snapshotchange",
        sa.Column("product_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("tick", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("product_id"),
        if_not_exists=True,
    )
    op.create_table(
        "snapshotstate",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),  # one row, id 1
        sa.Column("tick", sa.Integer(), nullable=False),
        sa.Column("verified_format", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        if_not_exists=True,
    )
    op.create_table(
        "threadturn",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("thread_key", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("intent", sa.String(), nullable=False),
        sa.Column("context", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        if_not_exists=True,
    )
    _index("ix_threadturn_created_at", "threadturn", ["created_at"])
    _index("ix_threadturn_thread_key", "threadturn", ["thread_key"])
    op.create_table(
        "addon",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("price_cents", sa.Integer(), nullable=True),
        sa.Column("currency", sa.String(), nullable=False),
        sa.Column("billing_period", sa.String(), nullable=False),
        sa.Column("per_seat", sa.Boolean(), nullable=False),
        sa.Column("available_on", sa.String(), nullable=False),
        sa.Column("description", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("product_id", "slug"),
        sa.ForeignKeyConstraint(["product_id"], ["product.id"], ondelete="CASCADE"),
        if_not_exists=True,
    )
    _index("ix_addon_product_id", "addon", ["product_id"])
    op.create_table(
        "complianceitem",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("details", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("product_id", "name"),
        sa.ForeignKeyConstraint(["product_id"], ["product.id"], ondelete="CASCADE"),
        if_not_exists=True,
    )
    _index("ix_complianceitem_product_id", "complianceitem", ["product_id"])
    op.create_table(
        "contact",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("email", sa.String(), nullable=False),
        sa.Column("title", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"], ondelete="CASCADE"),
        if_not_exists=True,
    )
    _index("ix_contact_account_id", "contact", ["account_id"])
    _index("ix_contact_email", "contact", ["email"])
    _index("ix_contact_name", "contact", ["name"])
    op.create_table(
        "faq",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("question", sa.String(), nullable=False),
        sa.Column("answer", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["product_id"], ["product.id"], ondelete="CASCADE"),
        if_not_exists=True,
    )
    _index("ix_faq_product_id", "faq", ["product_id"])
    op.create_table(
        "feature",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("category", sa.String(), nullable=False),
        sa.Column("description", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("product_id", "slug"),
        sa.ForeignKeyConstraint(["product_id"], ["product.id"], ondelete="CASCADE"),
        if_not_exists=True,
    )
    _index("ix_feature_product_id", "feature", ["product_id"])
    op.create_table(
        "integration",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("category", sa.String(), nullable=False),
        sa.Column("description", sa.String(), nullable=False),
        sa.Column("min_plan_slug", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("product_id", "slug"),
        sa.ForeignKeyConstraint(["product_id"], ["product.id"], ondelete="CASCADE"),
        if_not_exists=True,
    )
    _index("ix_integration_product_id", "integration", ["product_id"])
    op.create_table(
        "meeting",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("participants", sa.JSON(), nullable=False),
        sa.Column("summary", sa.String(), nullable=False),
        sa.Column("decisions", sa.JSON(), nullable=False),
        sa.Column("action_items", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("external_id"),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"], ondelete="CASCADE"),
        if_not_exists=True,
    )
    _index("ix_meeting_account_id", "meeting", ["account_id"])
    _index("ix_meeting_kind", "meeting", ["kind"])
    _index("ix_meeting_started_at", "meeting", ["started_at"])
    op.create_table(
        "plan",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("price_cents", sa.Integer(), nullable=True),
        sa.Column("currency", sa.String(), nullable=False),
        sa.Column("billing_period", sa.String(), nullable=False),
        sa.Column("per_seat", sa.Boolean(), nullable=False),
        sa.Column("annual_discount_pct", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("product_id", "slug"),
        sa.ForeignKeyConstraint(["product_id"], ["product.id"], ondelete="CASCADE"),
        if_not_exists=True,
    )
    _index("ix_plan_product_id", "plan", ["product_id"])
    op.create_table(
        "productsnapshot",
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("payload", sa.String(), nullable=False),
        sa.Column("prompt", sa.String(), nullable=False),
        sa.Column("source_hash", sa.String(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("built_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("product_id"),
        sa.ForeignKeyConstraint(["product_id"], ["product.id"], ondelete="CASCADE"),
        if_not_exists=True,
    )
    _index("ix_productsnapshot_slug", "productsnapshot", ["slug"], unique=True)
    op.create_table(
        "snapshotalias",
        sa.Column("alias", sa.String(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("alias", "product_id"),
        sa.ForeignKeyConstraint(["product_id"], ["product.id"], ondelete="CASCADE"),
        if_not_exists=True,
    )
    _index("ix_snapshotalias_product_id", "snapshotalias", ["product_id"])
    op.create_table(
        "planfeature",
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("feature_id", sa.Integer(), nullable=False),
        sa.Column("detail", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("plan_id", "feature_id"),
        sa.ForeignKeyConstraint(["plan_id"], ["plan.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["feature_id"], ["feature.id"], ondelete="CASCADE"),
        if_not_exists=True,
    )
    _index("ix_planfeature_feature_id", "planfeature", ["feature_id"])
    op.create_table(
        "planlimit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("value", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("plan_id", "name"),
        sa.ForeignKeyConstraint(["plan_id"], ["plan.id"], ondelete="CASCADE"),
        if_not_exists=True,
    )
    _index("ix_planlimit_plan_id", "planlimit", ["plan_id"])
    op.create_table(
        "transcriptsegment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("speaker", sa.String(), nullable=False),
        sa.Column("text", sa.String(), nullable=False),
        sa.Column("offset_s", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["meeting_id"], ["meeting.id"], ondelete="CASCADE"),
        if_not_exists=True,
    )
    _index("ix_transcriptsegment_meeting_id", "transcriptsegment", ["meeting_id"])


def _index(name: str, table: str, columns: list[str], *, unique: bool = False) -> None:
    op.create_index(name, table, columns, unique=unique, if_not_exists=True)
