"""Schema objects the migrations write as DDL and the models do not describe: autogenerate must neither drop
them nor compare them."""

from __future__ import annotations

# SQLite's FTS5 index of the transcripts (with its shadow tables transcript_fts_data, ..._idx...).
FTS_TABLE = "transcript_fts"
# Expression and ordered indexes of the read path (migration 0001), PostgreSQL's call search index (0002).
INDEXES = frozenset({"ix_snapshotalias_winner", "ix_product_primary", "ix_product_listing", "ix_transcriptsegment_search"})
# PostgreSQL's generated tsvector column on transcriptsegment (0002).
COLUMNS = frozenset({"search"})


def is_unmanaged(type_: str, name: str | None) -> bool:
    if name is None:
        return False
    if type_ == "table":
        return name == FTS_TABLE or name.startswith(FTS_TABLE + "_")
    if type_ == "index":
        return name in INDEXES
    if type_ == "column":
        return name in COLUMNS
    return False
