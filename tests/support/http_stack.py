"""A real pitcrew HTTP server on 127.0.0.1 for the HTTP intake and log-privacy tests, logging to day files as
`serve` does, and a raw HTTP client that sends exactly the bytes a test gives it (any header, any body, any length)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from bot.observability import configure_logging
from bot.settings import Settings
from bot.slack.app import build_app, build_inbox
from bot.slack.inflight import InflightTasks
from bot.slack.server import SlackService
from tests.support.fake_slack import FakeSlack
from tests.support.slack_stack import SIGNING_SECRET, open_pipeline


@dataclass
class RunningServer:
    fake: FakeSlack
    service: SlackService
    settings: Settings

    @property
    def port(self) -> int:
        assert self.service.port is not None
        return self.service.port

    def log_records(self) -> list[dict]:
        records = []
        for path in sorted(Path(self.settings.log_dir).glob("slack-*.log")):
            records += [json.loads(line) for line in path.read_text().splitlines()]
        return records

    def log_text(self) -> str:
        return "".join(path.read_text() for path in Path(self.settings.log_dir).glob("*.log"))

    async def post(self, body: bytes, headers: dict[str, bytes | str], *, chunked: bool = False) -> int:
        return await raw_post(self.port, body, headers, chunked=chunked)

    async def post_signed(self, body: bytes, *, content_type: str = "application/json") -> int:
        return await self.post(body, {**sign(body), "Content-Type": content_type})


@asynccontextmanager
async def running_server(fake: FakeSlack, settings: Settings) -> AsyncIterator[RunningServer]:
    """The stack `pitcrew serve` runs in HTTP mode (demo data, pipeline, Bolt app, guard, intake)."""
    configure_logging(settings, stderr=False)
    async with open_pipeline(settings) as (db, pipeline):
        inflight = InflightTasks()
        inbox = build_inbox(settings, db)
        service = SlackService(build_app(settings, pipeline, inbox, inflight=inflight), inflight, inbox=inbox,
                               host="127.0.0.1", port=0, signing_secret=SIGNING_SECRET)
        await service.start()
        try:
            yield RunningServer(fake, service, settings)
        finally:
            await service.shutdown(grace_s=5)
            await inbox.close()


def signature(body: bytes, timestamp: str, secret: str = SIGNING_SECRET) -> str:
    """Slack's v0 signature of `body` (computed on the bytes: a body need not be text)."""
    return "v0=" + hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()


def sign(body: bytes, *, timestamp: int | None = None, secret: str = SIGNING_SECRET) -> dict[str, bytes | str]:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature(body, stamp, secret)}


async def raw_post(port: int, body: bytes, headers: dict[str, bytes | str], *, chunked: bool = False,
                   path: str = "/slack/events") -> int:
    """POST `body` with exactly `headers` (values sent as given: bytes may be anything) and return the status."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    lines = [f"POST {path} HTTP/1.1".encode(), b"Host: 127.0.0.1", b"Connection: close",
             b"Transfer-Encoding: chunked" if chunked else b"Content-Length: %d" % len(body)]
    for name, value in headers.items():
        lines.append(name.encode() + b": " + (value if isinstance(value, bytes) else value.encode()))
    writer.write(b"\r\n".join(lines) + b"\r\n\r\n")
    if chunked:
        for start in range(0, len(body), 65_536):
            chunk = body[start:start + 65_536]
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        writer.write(b"0\r\n\r\n")
    else:
        writer.write(body)
    try:
        await writer.drain()
    except ConnectionError:  # the server may stop reading once it has answered
        pass
    try:
        status_line = await asyncio.wait_for(reader.readline(), timeout=15)
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except ConnectionError:
            pass
    assert status_line.startswith(b"HTTP/1.1 "), status_line
    return int(status_line.split()[1])
