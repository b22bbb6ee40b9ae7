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
