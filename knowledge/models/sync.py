"""What `pitcrew sync airtable` remembers between runs: where the webhook's changes were read up to, and which
Airtable record stands for which pitcrew row (to resolve links and to delete what Airtable deleted)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel


class AirtableSyncState(SQLModel, table=True):
    """One row per synced base. `mac_secret` verifies webhook notifications: stored, never logged or shown."""

    base_id: str = Field(primary_key=True)
    cursor: int = 1  # the next webhook payload to read (Airtable's cursors start at 1)
    webhook_id: str | None = None
    mac_secret: str | None = None  # base64, as Airtable returned it
    webhook_expires_at: datetime | None = None
    last_sync_at: datetime | None = None
    last_sync_kind: str | None = None  # "full" or "changes"
    last_counts: str = "{}"  # JSON: table -> {created, updated, deleted, unchanged, skipped}
    last_error: str | None = None


class AirtableRecord(SQLModel, table=True):
    """An Airtable record pitcrew imported: its kind and the natural key of the row it became (JSON)."""

    record_id: str = Field(primary_key=True)
    base_id: str = Field(index=True)
    kind: str  # one of knowledge.import_rows.ROW_MODELS
    natural_key: str  # JSON object of the row's key fields, e.g. {"product": "orbit", "slug": "pro"}
