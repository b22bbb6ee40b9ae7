"""The cold-start benchmark's own parts: a start timed to the first healthy answer, and rows judged on their p50."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import aiohttp
import pytest

from bot.bench.cold_start import (
    BOT_TOKEN,
    SIGNING_SECRET,
    AuthOnlySlack,
    _demo,
    _environment,
    _free_port,
    _row,
    _time_to_healthy,
    _timed_run,
)


def test_a_row_is_judged_on_its_median() -> None:
    assert _row("cold_start.x", [0.3, 0.35, 2.0], 0.4, "detail").passed  # one slow run on a busy machine
    missed = _row("cold_start.x", [0.5, 0.45, 0.3], 0.4, "detail")
    assert not missed.passed and missed.p50 == 0.45 and missed.unit == "s" and missed.target == "p50 < 0.4 s"


def test_a_failing_command_is_an_error_not_a_time(tmp_path: Path) -> None:
    env = _environment(tmp_path, tmp_path / "missing" / "pitcrew.db", "ask")
    with pytest.raises(RuntimeError, match="exited 2"):
        _timed_run([sys.executable, "-m", "bot.cli", "ask", "hi"], env, tmp_path)


@pytest.mark.slow
async def test_serve_is_timed_to_its_first_healthy_answer_then_stopped(tmp_path: Path) -> None:
    database = tmp_path / "demo.db"
    _demo(database)
    async with AuthOnlySlack() as slack, aiohttp.ClientSession() as http:
        env = _environment(tmp_path, database, "serve")
        env.update({"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                    "SLACK_API_URL": slack.api_url})
        port = _free_port()
        seconds = await _time_to_healthy(
            [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env, tmp_path, port, http)
        assert 0 < seconds < 60
        with pytest.raises(aiohttp.ClientConnectionError):  # stopped once timed
            await http.get(f"http://127.0.0.1:{port}/healthz")
    # It filled its own user cache, not the caller's.
    cached = list((tmp_path / "cache-serve" / "pitcrew").glob("patterns-*.json"))
    assert len(cached) == 1 and json.loads(cached[0].read_text(encoding="utf-8"))["data"]
