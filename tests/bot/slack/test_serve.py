"""`pitcrew serve`: credential checks, and the real process answering Slack and stopping cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

import aiohttp
import pytest
from typer.testing import CliRunner

from bot.cli.main import app as cli
from bot.settings import load_settings
from bot.slack.runtime import run_server
from tests.support.fake_slack import BOT_TOKEN, FakeSlack, event_callback, mention_event, signed_headers
from tests.support.serve_process import free_port, serve_env, start_serve, wait_healthy
from tests.support.slack_stack import SIGNING_SECRET

@pytest.mark.parametrize(("env", "missing", "hints"), [
    ({}, ["SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"], ["OAuth & Permissions", "Basic Information", "Socket Mode"]),
    ({"SLACK_BOT_TOKEN": "xoxb-1-2-abc"}, ["SLACK_SIGNING_SECRET"], ["Basic Information"]),
    ({"SLACK_SIGNING_SECRET": "s3cr3t-value"}, ["SLACK_BOT_TOKEN"], ["OAuth & Permissions"]),
    ({"SLACK_APP_TOKEN": "xapp-1-A1-zzz"}, ["SLACK_BOT_TOKEN"], ["Socket Mode", "OAuth & Permissions"]),
], ids=["nothing", "no-secret", "no-bot-token", "socket-mode-no-bot-token"])
def test_serve_names_what_is_missing_and_exits_2(monkeypatch: pytest.MonkeyPatch, env: dict[str, str],
                                                   missing: list[str], hints: list[str]) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(cli, ["serve"])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    verb = "is" if len(missing) == 1 else "are"
    assert lines[0].startswith(f"pitcrew: error: {' and '.join(missing)} {verb} not set")
    for hint in hints:
        assert hint in lines[0]
    for value in env.values():
        assert value not in result.output + result.stderr
    assert "Traceback" not in result.output + result.stderr


def test_a_token_of_the_wrong_kind_is_named_without_echoing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1-2-abc")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xoxb-pasted-by-mistake-9f8e")
    result = CliRunner().invoke(cli, ["serve"])
    assert result.exit_code == 2
    assert "SLACK_APP_TOKEN" in result.stderr and "xapp-" in result.stderr
    assert "pasted-by-mistake" not in result.output + result.stderr


# ----- the real process


def reply_records(log_dir: Path) -> list[dict]:
    records = []
    for path in log_dir.glob("*.log"):
        for line in path.read_text().splitlines():
            record = json.loads(line)
            if record.get("message") == "slack reply":
                records.append(record)
    return records


@pytest.mark.slow
async def test_pitcrew_serve_answers_and_finishes_in_flight_replies_on_sigterm(fake_slack: FakeSlack,
                                                                                tmp_path: Path) -> None:
    port = free_port()
    env = serve_env(tmp_path, fake_slack)
    stderr_path = tmp_path / "serve.stderr"
    process = await start_serve(env, port, stderr_path)
    async with aiohttp.ClientSession() as http:
        try:
            health = await wait_healthy(http, process, port, stderr_path)
            assert health["status"] == "ok" and health["database"] == "ok"
            assert health["scheduler"]["role"] == "leader" and health["scheduler"]["next_run_time"]
            assert health["llm"]["breaker"] == "closed"
            assert health["knowledge_revision"] >= 1 and health["answers_in_flight"] == 0  # the demo was imported
            assert health["inbox_unanswered"] == 0

            async def post(event_id: str, ts: str) -> int:
                raw = json.dumps(event_callback(mention_event("what plans does Orbit have?", ts=ts),
                                                event_id=event_id))
                async with http.post(f"http://127.0.0.1:{port}/slack/events", data=raw,
                                     headers=signed_headers(raw, SIGNING_SECRET)) as response:
                    return response.status

            assert await post("EvServe1", "1712346000.000100") == 200
            [reply] = await fake_slack.wait_for_calls("chat.postMessage", timeout=10)
            assert reply.body["thread_ts"] == "1712346000.000100" and reply.body["text"]

            # A reply still on its way to Slack when SIGTERM arrives is finished before the process exits.
            fake_slack.method_delay_s = 1.0
            assert await post("EvServe2", "1712346001.000100") == 200
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), timeout=15)
            assert process.returncode == 0, stderr_path.read_text()[-3000:]
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    delivered = {record["event_id"]: record["delivered"] for record in reply_records(tmp_path / "logs")}
    assert delivered == {"EvServe1": True, "EvServe2": True}
    assert SIGNING_SECRET not in "".join(path.read_text() for path in (tmp_path / "logs").glob("*.log"))
    assert BOT_TOKEN not in "".join(path.read_text() for path in (tmp_path / "logs").glob("*.log"))


async def test_serve_refused_by_slack_names_the_token_and_exits_2(fake_slack: FakeSlack, tmp_path: Path) -> None:
    fake_slack.bot_token = "xoxb-the-token-slack-knows"  # pitcrew has another one
    settings = load_settings(**{key.lower(): value for key, value in serve_env(tmp_path, fake_slack).items()
                                if key.startswith(("SLACK_", "DATABASE_"))})
    code, problem = await run_server(settings, host="127.0.0.1", port=free_port())
    assert code == 2
    assert problem is not None and problem.startswith("Slack refused SLACK_BOT_TOKEN (invalid_auth)")
    assert BOT_TOKEN not in problem
