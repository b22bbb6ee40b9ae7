"""The base's webhook: registered once (its MAC secret stored, never logged), refreshed before it expires
(Airtable expires webhooks after 7 days), and checked against every notification it sends."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pyairtable.models.webhook import WebhookNotification

from knowledge.airtable.mapping import Mapping
from knowledge.airtable.state import save_state, state_row
from knowledge.db import Database

if TYPE_CHECKING:
    from pyairtable import Api

log = logging.getLogger(__name__)

REFRESH_BEFORE = timedelta(days=2)  # refreshed by the first scheduled run within this of its expiry
# Record changes only: field and table edits do not change rows (a full sync picks up a remapped field).
SPECIFICATION = {"options": {"filters": {"dataTypes": ["tableData"]}}}


@dataclass(frozen=True)
class CreatedWebhook:
    webhook_id: str
    expires_at: datetime | None


def create_webhook(db: Database, api: Api, mapping: Mapping, notification_url: str) -> CreatedWebhook:
    """Register a webhook notifying `notification_url`; replaces (and deletes) the one stored before."""
    base = api.base(mapping.base)
    with db.engine.connect() as connection:
        previous = state_row(connection, mapping.base)
    created = base.add_webhook(notification_url, SPECIFICATION)
    expires = _aware(created.expiration_time)
    with db.engine.begin() as connection:
        # A new webhook's payloads start at cursor 1.
        save_state(connection, mapping.base, webhook_id=created.id, mac_secret=created.mac_secret_base64,
                   webhook_expires_at=expires, cursor=1)
    if previous and previous.get("webhook_id") and previous["webhook_id"] != created.id:
        _delete_quietly(base, previous["webhook_id"])
    log.info("airtable webhook created", extra={"base": mapping.base, "webhook_id": created.id,
                                                "expires_at": str(expires)})
    return CreatedWebhook(created.id, expires)


def refresh_webhook(db: Database, api: Api, mapping: Mapping, *, before: timedelta = REFRESH_BEFORE,
                    now: datetime | None = None) -> datetime | None:
    """Extend the stored webhook's life if it expires within `before`; its new expiry, or None if not due."""
    with db.engine.connect() as connection:
        state = state_row(connection, mapping.base)
    if not state or not state.get("webhook_id"):
        return None
    expires = _aware(state.get("webhook_expires_at"))
    now = now or datetime.now(UTC)
    if expires is not None and expires - now > before:
        return None
    webhook = api.base(mapping.base).webhook(state["webhook_id"])
    webhook.extend_expiration()
    new_expiry = _aware(webhook.expiration_time)
    with db.engine.begin() as connection:
        save_state(connection, mapping.base, webhook_expires_at=new_expiry)
    log.info("airtable webhook refreshed", extra={"base": mapping.base, "expires_at": str(new_expiry)})
    return new_expiry


def verify_notification(state: dict[str, Any] | None, body: bytes, mac_header: str | None) -> bool:
    """Whether `body` is a notification of the stored webhook signed with its MAC secret."""
    if not state or not state.get("mac_secret") or not mac_header:
        return False
    try:
        secret = base64.b64decode(state["mac_secret"])
    except ValueError:
        return False
    # As WebhookNotification.from_request checks it, but compared in constant time.
    expected = "hmac-sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), mac_header.encode("utf-8", "replace")):
        return False
    try:
        notification = WebhookNotification.model_validate_json(body)
    except ValueError:  # signed, but not a notification
        return False
    return notification.webhook.id == state.get("webhook_id")


def _delete_quietly(base: Any, webhook_id: str) -> None:
    try:
        base.webhook(webhook_id).delete()
    except Exception:  # gone already, or Airtable unreachable: it expires by itself within 7 days
        log.warning("could not delete the previous airtable webhook", extra={"webhook_id": webhook_id})


def _aware(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
