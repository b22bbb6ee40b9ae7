"""A loopback fake of the Airtable Web API for pyairtable to talk to (tests and the `airtable` benchmark).

Serves what pitcrew's sync uses, the way Airtable does: listing records (pages of at most 100 with an
`offset`, `filterByFormula` with `RECORD_ID()='rec...'` terms), the base schema (table ids and names),
webhooks (create with a MAC secret, list, refresh, delete) and their payloads (cursors from 1, pages of at
most 50 with `mightHaveMore`). Editing records (`add`, `update`, `delete`) records a payload for every webhook,
and `notify` POSTs the HMAC-signed notification Airtable would send. Faults: the next N requests answered 429
(`fail_next`), and record listing held until released (`hold_records`). `fill_catalog` puts an import folder
(the demo catalog by default) in it as a sales team's base would hold it, through a mapping: one table per kind,
linked records between them, prices in dollars, checkboxes left out when false.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import json
import re
import secrets
from collections.abc import Mapping as MappingType
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bot.bench.providers import LoopbackServer
from knowledge.airtable.mapping import EXAMPLE_MAPPING, Mapping, load_mapping
from knowledge.airtable.records import KEY_FIELDS
from knowledge.demo.loader import DEMO_DATA
from knowledge.import_files import read_folder
from knowledge.import_rows import ROW_MODELS

TOKEN = "patFAKE.loopback-airtable-token"
BASE_ID = "appCATALOG0000001"
RECORD_PAGE = 100
PAYLOAD_PAGE = 50
_RECORD_ID = re.compile(r"RECORD_ID\(\)\s*=\s*'([^']+)'")


@dataclass
class FakeTable:
    id: str
    name: str
    records: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> {"id", "createdTime", "fields"}


@dataclass
class FakeWebhook:
    id: str
    secret: bytes
    notification_url: str
    expires_at: datetime
    payloads: list[dict[str, Any]] = field(default_factory=list)  # payload N has cursor N + 1


class LoopbackAirtable(LoopbackServer):
    """`async with LoopbackAirtable() as fake:` then give pyairtable `fake.url` as its endpoint_url."""

    def __init__(self, base_id: str = BASE_ID, token: str = TOKEN) -> None:
        self.base_id = base_id
        self.token = token
        self.tables: dict[str, FakeTable] = {}  # by id
        self.webhooks: dict[str, FakeWebhook] = {}
        self.requests: list[tuple[str, str]] = []  # (method, path) as received
        self.throttled = 0  # 429s answered
        self._fail_next = 0
        self._records_gate: asyncio.Event | None = None
        self._ids = itertools.count(1)
        self._transaction = itertools.count(1)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- the base's content (call from the server's event loop or before it starts) ----------------------

    def add_table(self, name: str) -> FakeTable:
        table = FakeTable(f"tbl{next(self._ids):014d}", name)
        self.tables[table.id] = table
        return table

    def table(self, name_or_id: str) -> FakeTable:
        for table in self.tables.values():
            if name_or_id in (table.id, table.name):
                return table
        raise KeyError(name_or_id)

    def add(self, table_name: str, fields: MappingType[str, Any], *, notify_webhooks: bool = True) -> str:
        table = self.table(table_name)
        record_id = f"rec{next(self._ids):014d}"
        table.records[record_id] = {"id": record_id, "createdTime": _iso(datetime.now(UTC)), "fields": dict(fields)}
        if notify_webhooks:
            self._record_payload(table, created=[record_id])
        return record_id

    def update(self, table_name: str, record_id: str, fields: MappingType[str, Any]) -> None:
        table = self.table(table_name)
        table.records[record_id]["fields"].update(fields)
        for name in [name for name, value in fields.items() if value is None]:
            del table.records[record_id]["fields"][name]  # Airtable leaves empty cells out
        self._record_payload(table, changed=[record_id])

    def delete(self, table_name: str, record_id: str) -> None:
        """Delete a record; as in Airtable, links to it are removed from the records that had them."""
        table = self.table(table_name)
        del table.records[record_id]
        self._record_payload(table, destroyed=[record_id])
        for other in self.tables.values():
            for record in other.records.values():
                linked = [name for name, value in record["fields"].items()
                          if isinstance(value, list) and record_id in value]
                if linked:
                    self.update(other.name, record["id"], {
                        name: [value for value in record["fields"][name] if value != record_id] or None
                        for name in linked})

    def fail_next(self, count: int) -> None:
        """Answer the next `count` API requests with 429, as Airtable's rate limit does."""
        self._fail_next = count

    def hold_records(self) -> None:
        """Keep record listings waiting until `release_records` (a sync caught half-way)."""
        self._records_gate = asyncio.Event()

    def release_records(self) -> None:
        if self._records_gate is not None:
            self._records_gate.set()
            self._records_gate = None

    def _record_payload(self, table: FakeTable, *, created: list[str] = (), changed: list[str] = (),  # type: ignore[assignment]
                        destroyed: list[str] = ()) -> None:  # type: ignore[assignment]
        if not self.webhooks:
            return
        now = _iso(datetime.now(UTC))
        changes: dict[str, Any] = {}
        if created:
            changes["createdRecordsById"] = {rid: {"createdTime": now, "cellValuesByFieldId": {}} for rid in created}
        if changed:
            changes["changedRecordsById"] = {rid: {"current": {"cellValuesByFieldId": {}}} for rid in changed}
        if destroyed:
            changes["destroyedRecordIds"] = list(destroyed)
        payload = {"timestamp": now, "baseTransactionNumber": next(self._transaction), "payloadFormat": "v0",
                   "actionMetadata": {"source": "client", "sourceMetadata": {}},
                   "changedTablesById": {table.id: changes}}
        for webhook in self.webhooks.values():
            webhook.payloads.append(payload)

    async def notify(self, webhook_id: str | None = None, *, url: str | None = None, sign: bool = True,
                     secret: bytes | None = None) -> int:
        """POST the webhook's notification (signed with its secret, another `secret`, or not at all); the status."""
        webhook = self.webhooks[webhook_id] if webhook_id else next(iter(self.webhooks.values()))
        body = json.dumps({"base": {"id": self.base_id}, "webhook": {"id": webhook.id},
                           "timestamp": _iso(datetime.now(UTC))})
        headers = {"Content-Type": "application/json"}
        if sign:
            mac = hmac.new(secret or webhook.secret, body.encode(), hashlib.sha256).hexdigest()
            headers["X-Airtable-Content-MAC"] = f"hmac-sha256={mac}"
        async with aiohttp.ClientSession() as session, \
                session.post(url or webhook.notification_url, data=body, headers=headers) as response:
            return response.status

    # -- the API ------------------------------------------------------------------------------------

    def routes(self, app: web.Application) -> None:
        app.middlewares.append(self._gate)
        app.router.add_get("/v0/meta/bases/{base}/tables", self._schema)
        app.router.add_get("/v0/bases/{base}/webhooks", self._list_webhooks)
        app.router.add_post("/v0/bases/{base}/webhooks", self._create_webhook)
        app.router.add_delete("/v0/bases/{base}/webhooks/{webhook}", self._delete_webhook)
        app.router.add_post("/v0/bases/{base}/webhooks/{webhook}/refresh", self._refresh_webhook)
        app.router.add_get("/v0/bases/{base}/webhooks/{webhook}/payloads", self._payloads)
        app.router.add_get("/v0/{base}/{table}", self._records)

    @web.middleware
    async def _gate(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests.append((request.method, request.path))
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return _error(401, "AUTHENTICATION_REQUIRED")
        if self._fail_next > 0:
            self._fail_next -= 1
            self.throttled += 1
            return _error(429, "RATE_LIMIT_REACHED")
        if request.match_info.get("base") != self.base_id:
            return _error(404, "NOT_FOUND")
        return await handler(request)

    async def _records(self, request: web.Request) -> web.Response:
        if self._records_gate is not None:
            await self._records_gate.wait()
        try:
            table = self.table(request.match_info["table"])
        except KeyError:
            return _error(404, "TABLE_NOT_FOUND")
        records = list(table.records.values())
        formula = request.query.get("filterByFormula")
        if formula:
            wanted = set(_RECORD_ID.findall(formula))
            records = [record for record in records if record["id"] in wanted]
        size = min(int(request.query.get("pageSize", RECORD_PAGE)), RECORD_PAGE)
        start = int(request.query.get("offset", "0") or 0)
        page = records[start:start + size]
        body: dict[str, Any] = {"records": page}
        if start + size < len(records):
            body["offset"] = str(start + size)
        return web.json_response(body)

    async def _schema(self, _request: web.Request) -> web.Response:
        return web.json_response({"tables": [
            {"id": table.id, "name": table.name, "primaryFieldId": f"fld{table.id[3:]}",
             "fields": [{"id": f"fld{table.id[3:]}", "name": "Name", "type": "singleLineText"}], "views": []}
            for table in self.tables.values()]})

    def _webhook_json(self, webhook: FakeWebhook) -> dict[str, Any]:
        return {"id": webhook.id, "areNotificationsEnabled": True, "cursorForNextPayload": len(webhook.payloads) + 1,
                "isHookEnabled": True, "notificationUrl": webhook.notification_url,
                "expirationTime": _iso(webhook.expires_at), "lastSuccessfulNotificationTime": None,
                "lastNotificationResult": None,
                "specification": {"options": {"filters": {"dataTypes": ["tableData"]}}}}

    async def _list_webhooks(self, _request: web.Request) -> web.Response:
        return web.json_response({"webhooks": [self._webhook_json(w) for w in self.webhooks.values()]})

    async def _create_webhook(self, request: web.Request) -> web.Response:
        body = await request.json()
        webhook = FakeWebhook(f"ach{next(self._ids):014d}", secrets.token_bytes(32), body["notificationUrl"],
                              datetime.now(UTC) + timedelta(days=7))
        self.webhooks[webhook.id] = webhook
        return web.json_response({"id": webhook.id, "macSecretBase64": base64.b64encode(webhook.secret).decode(),
                                  "expirationTime": _iso(webhook.expires_at)})

    async def _delete_webhook(self, request: web.Request) -> web.Response:
        if self.webhooks.pop(request.match_info["webhook"], None) is None:
            return _error(404, "NOT_FOUND")
        return web.json_response({})

    async def _refresh_webhook(self, request: web.Request) -> web.Response:
        webhook = self.webhooks.get(request.match_info["webhook"])
        if webhook is None:
            return _error(404, "NOT_FOUND")
        webhook.expires_at = datetime.now(UTC) + timedelta(days=7)
        return web.json_response({"expirationTime": _iso(webhook.expires_at)})

    async def _payloads(self, request: web.Request) -> web.Response:
        webhook = self.webhooks.get(request.match_info["webhook"])
        if webhook is None:
            return _error(404, "NOT_FOUND")
        cursor = max(1, int(request.query.get("cursor", "1")))
        page = webhook.payloads[cursor - 1:cursor - 1 + PAYLOAD_PAGE]
        next_cursor = cursor + len(page)
        return web.json_response({"payloads": page, "cursor": next_cursor,
                                  "mightHaveMore": next_cursor <= len(webhook.payloads)})


class CatalogBase:
    """Which record holds which row: `record_id("plans", product="orbit", slug="pro")`."""

    def __init__(self, fake: LoopbackAirtable, mapping: Mapping) -> None:
        self.fake = fake
        self.mapping = mapping
        self.ids: dict[tuple[str, tuple[Any, ...]], str] = {}

    def record_id(self, kind: str, **key: Any) -> str:
        return self.ids[(kind, tuple(key[name] for name in KEY_FIELDS[kind]))]

    def table(self, kind: str) -> str:
        return self.mapping.tables[kind].table

    def field(self, kind: str, pitcrew_field: str) -> str:
        return self.mapping.tables[kind].fields[pitcrew_field].airtable


def fill_catalog(fake: LoopbackAirtable, mapping: Mapping | None = None, folder: Path | None = None) -> CatalogBase:
    """Put the rows of `folder` (the demo catalog by default) into the fake as the mapping's tables."""
    mapping = mapping or load_mapping(EXAMPLE_MAPPING)
    base = CatalogBase(fake, mapping)
    files = {source.kind: source for source in read_folder(folder or Path(str(DEMO_DATA)))}
    for kind, table in mapping.tables.items():
        fake.add_table(table.table)
        for raw in files[kind].rows if kind in files else ():
            row = ROW_MODELS[kind].model_validate(raw.data)
            fields: dict[str, Any] = {}
            for name in row.model_fields_set:
                mapped = table.fields.get(name)
                value = getattr(row, name)
                if mapped is None or value is None or value is False or value in ("", []):
                    continue
                if mapped.link is not None:
                    values = value if isinstance(value, list) else [value]
                    value = [base.ids[(mapped.link, _link_key(mapped.link, row, slug))] for slug in values]
                elif mapped.scale is not None:
                    value = value / mapped.scale
                fields[mapped.airtable] = value
            record_id = fake.add(table.table, fields, notify_webhooks=False)
            base.ids[(kind, tuple(getattr(row, name) for name in KEY_FIELDS[kind]))] = record_id
    return base


def _link_key(kind: str, row: Any, slug: str) -> tuple[Any, ...]:
    """The key of the `kind` record a row links to by `slug` (plans and features are per product)."""
    return (slug,) if kind in ("products", "accounts") else (row.product, slug)


def _error(status: int, kind: str) -> web.Response:
    return web.json_response({"error": {"type": kind}}, status=status)


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
