"""GET /dashboard: 401 without DASHBOARD_TOKEN; in a real headless Chromium, a fixture day's figures, no console
errors, and a screenshot kept as a test artifact."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from pathlib import Path

import pytest

from bot.settings import load_settings
from knowledge.db import Database
from tests.support.fake_slack import BOT_TOKEN, FakeSlack
from tests.support.ops_stack import ops_stack
from tests.support.slack_stack import SIGNING_SECRET

TOKEN = "dash-token-5b7c1e9a"
ARTIFACTS = Path(os.environ.get("PITCREW_TEST_ARTIFACTS", Path(__file__).resolve().parents[3] / "test-artifacts"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def write_fixture_day(log_dir: Path, now: dt.datetime) -> None:
    """Ten requests an hour ago: totals 100..1000 ms (one over a 900 ms SLA), two skipped, one failed; shadow
    checks: 3 of 4 agree; cache 1 hit of 2."""
    log_dir.mkdir(parents=True, exist_ok=True)
    at = now - dt.timedelta(hours=1)
    lines = []
    for number in range(10):
        ts = (at + dt.timedelta(seconds=number)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        total = 100.0 * (number + 1)
        lines.append({"ts": ts, "level": "ERROR" if number == 3 else "INFO",
                      "message": "Request failed" if number == 3 else "Request completed successfully",
                      "correlation_id": f"fixture{number}", "total_time_ms": total,
                      "stages": {"control_plane": total * 0.1, "handler": total * 0.8},
                      "intent": "product_question", "llm_validation": "skipped" if number < 2 else "used",
                      "cache": ("hit" if number == 5 else "miss") if number in (5, 6) else None})
    for number in range(4):
        lines.append({"ts": at.strftime("%Y-%m-%dT%H:%M:%S.000Z"), "level": "INFO", "message": "shadow validation",
                      "correlation_id": f"shadow{number}", "shadow_agreement": number != 0})
    lines.append({"ts": (now - dt.timedelta(hours=30)).strftime("%Y-%m-%dT%H:%M:%S.000Z"), "level": "INFO",
                  "message": "Request completed successfully", "correlation_id": "too-old", "total_time_ms": 99999.0,
                  "stages": {}})
    by_day: dict[str, list[str]] = {}
    for line in lines:
        by_day.setdefault(line["ts"][:10], []).append(json.dumps(line))
    for day, day_lines in by_day.items():
        with (log_dir / f"slack-{day}.log").open("a") as handle:
            handle.write("\n".join(day_lines) + "\n")


@pytest.fixture
def dashboard_settings(fake_slack: FakeSlack, demo_db: Database, tmp_path: Path):
    log_dir = tmp_path / "dash-logs"
    write_fixture_day(log_dir, dt.datetime.now(dt.UTC))
    return load_settings(slack_bot_token=BOT_TOKEN, slack_signing_secret=SIGNING_SECRET,
                         slack_api_url=fake_slack.api_url, dashboard_token=TOKEN, sla_ms=900.0, log_dir=log_dir,
                         latency_optimization_mode="canary", canary_percent=15.0)


async def test_dashboard_needs_the_token(dashboard_settings) -> None:
    async with ops_stack(dashboard_settings) as stack:
        assert (await stack.get("/dashboard"))[0] == 401
        assert (await stack.get("/dashboard?token=wrong"))[0] == 401
        assert (await stack.get("/dashboard", {"Authorization": "Bearer nope"}))[0] == 401
        status, html = await stack.get("/dashboard", {"Authorization": f"Bearer {TOKEN}"})
    assert status == 200 and "<svg" in html
    assert TOKEN not in html


async def test_no_dashboard_without_a_token(fake_slack: FakeSlack, demo_db: Database) -> None:
    settings = load_settings(slack_bot_token=BOT_TOKEN, slack_signing_secret=SIGNING_SECRET,
                             slack_api_url=fake_slack.api_url)
    async with ops_stack(settings) as stack:
        assert (await stack.get("/dashboard"))[0] == 404
        assert (await stack.get("/metrics"))[0] == 200


@pytest.mark.skipif(chromium_path() is None, reason="no chromium binary (Debian: apt-get install chromium; .ci/run "
                                                    "installs it)")
async def test_dashboard_in_headless_chromium(dashboard_settings) -> None:
    from playwright.async_api import async_playwright

    async with ops_stack(dashboard_settings) as stack:
        url = f"{stack.base_url}/dashboard?token={TOKEN}"
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
            try:
                page = await browser.new_page()
                errors: list[str] = []
                page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
                page.on("pageerror", lambda error: errors.append(str(error)))
                failed: list[str] = []
                page.on("requestfailed", lambda request: failed.append(request.url))
                response = await page.goto(url, wait_until="load")
                assert response is not None and response.status == 200
                figures = {await tile.get_attribute("data-figure"): await tile.inner_text()
                           for tile in await page.query_selector_all("[data-figure]")}
                p95_handler = await page.text_content('[data-stage="handler"][data-percentile="p95"]')  # SVG text
                mode = await page.inner_text('[data-rollout="mode"]')
                bars = await page.eval_on_selector_all("svg rect", "nodes => nodes.length")
                ARTIFACTS.mkdir(parents=True, exist_ok=True)
                shot = ARTIFACTS / "dashboard.png"
                await page.screenshot(path=str(shot), full_page=True)
            finally:
                await browser.close()
    assert errors == [] and failed == []
    assert figures["Requests"] == "10"  # the request of 30 hours ago is not in the last 24
    assert figures["Over SLA"] == "10.0%" and figures["Errors"] == "10.0%"
    assert figures["LLM skipped"] == "20.0%" and figures["LLM validated"] == "80.0%"
    assert figures["Shadow agreement"] == "75.0%" and figures["Cache hit rate"] == "50.0%"
    assert figures["p95 total"] == "955 ms"
    assert p95_handler == "p95 764.0 ms"  # 0.8 of the totals' p95
    assert mode == "canary"
    assert bars == 9  # p50, p95, p99 of total, control_plane and handler
    assert shot.stat().st_size > 10_000
