"""Prebuilt product snapshots: one denormalized row per product, read in one query."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel


class ProductSnapshot(SQLModel, table=True):
    product_id: int = Field(primary_key=True, foreign_key="product.id", ondelete="CASCADE")
    slug: str = Field(unique=True, index=True)
    name: str
    payload: str  # JSON: every fact a product answer needs
    prompt: str  # compact text for the LLM, precomputed
    source_hash: str  # hash of the source rows the payload was built from
    version: int = 1  # bumped on every rebuild that changes the payload
    built_at: datetime


class SnapshotAlias(SQLModel, table=True):
    """Lower-cased names that find a snapshot: slug, product name, plan names."""

    alias: str = Field(primary_key=True)
    product_id: int = Field(primary_key=True, foreign_key="product.id", index=True, ondelete="CASCADE")
    kind: str = "product"  # product | plan
    # Among several products answering to the same alias, the lowest rank wins (the primary product is 0).
    rank: int = 1


class SnapshotChange(SQLModel, table=True):
    """The change log: a product whose snapshot sources were written since its snapshot was last checked.

    Filled by triggers on the catalog tables (knowledge.snapshot_changes), emptied by rebuilds.
    """

    # No foreign key: the entry of a deleted product is what tells the next rebuild to drop its snapshot.
    product_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    tick: int = 0  # snapshotstate.tick when the change was written; a rebuild clears only older entries


class SnapshotState(SQLModel, table=True):
    """One row: the rebuild tick, and whether the change log can be trusted (see knowledge.snapshot_changes)."""

    id: int = Field(default=1, primary_key=True)
    tick: int = 0  # bumped by every rebuild that has work, before it reads the catalog
    # The snapshot payload format of the last rebuild that checked every product; any other value (0: none
    # yet, e.g. a database from before the change log) makes the next changed-only rebuild check every product.
    verified_format: int = 0
