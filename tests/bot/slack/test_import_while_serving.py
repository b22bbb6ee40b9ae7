"""A large `pitcrew knowledge import` while `pitcrew serve` takes events: every event answered once, acks on time."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import aiohttp
import pytest

from knowledge.db import Database
from knowledge.export_folder import export_catalog
from knowledge.generate import generate
from tests.support.fake_slack import FakeSlack
from tests.support.serve_process import (
    PITCREW,
    ServeProcess,
    SlackSide,
    mention,
    replies_per_thread,
    serve_env,
    wait_all_answered,
)

PRODUCTS = 3000
EVENTS = 200
EVENT_INTERVAL_S = 0.04


def catalog_folder(tmp_path: Path) -> Path:
    generated = Database(f"sqlite:///{tmp_path / 'generated.db'}")
    try:
        generate(generated, products=PRODUCTS)
        export_catalog(generated, tmp_path / "catalog")
    finally:
        generated.close()
    return tmp_path / "catalog"


@pytest.mark.slow
async def test_an_import_while_events_arrive_loses_and_duplicates_nothing(fake_slack: FakeSlack,
                                                                          tmp_path: Path) -> None:
    folder = catalog_folder(tmp_path)
    async with aiohttp.ClientSession() as http:
        env = serve_env(tmp_path, fake_slack, STREAMING="false")
        slack = SlackSide(http)
        serve = await ServeProcess(env, tmp_path, "serve").start(http)
        deliveries = [mention(n, "EvImport") for n in range(EVENTS)]
        try:
            with (tmp_path / "import.out").open("wb") as out:
                importer = await asyncio.create_subprocess_exec(*PITCREW, "knowledge", "import", str(folder),
                                                                env=env, stdout=out, stderr=out)
            started = time.monotonic()
            sends = []
            for delivery in deliveries:  # Slack's steady stream, over the import's duration
                sends.append(asyncio.create_task(slack.deliver(serve, delivery)))
                await asyncio.sleep(EVENT_INTERVAL_S)
            await asyncio.gather(*sends)
            import_running_at_last_event = importer.returncode is None
            assert await asyncio.wait_for(importer.wait(), timeout=120) == 0, (tmp_path / "import.out").read_text()
            import_s = time.monotonic() - started
            await wait_all_answered(fake_slack, deliveries, timeout=60)
            await asyncio.sleep(1.0)
        finally:
            assert await serve.stop() == 0
    counts = replies_per_thread(fake_slack, deliveries)
    assert counts == {delivery.thread_ts: 1 for delivery in deliveries}
    with sqlite3.connect(tmp_path / "serve.db") as connection:
        assert connection.execute("SELECT count(*) FROM product").fetchone()[0] >= PRODUCTS
        states = dict(connection.execute("SELECT state, count(*) FROM inboxevent GROUP BY state"))
    assert states == {"answered": EVENTS}
    print(f"\nimport of {PRODUCTS} products ({import_s:.1f} s, still running at the last event: "
          f"{import_running_at_last_event}) with {EVENTS} events: ack p99 {slack.p99_ms():.1f} ms, "
          f"max {max(slack.ack_ms):.1f} ms, {slack.not_acked} deliveries refused (redelivered)")
