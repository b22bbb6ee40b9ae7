"""Requests driven through the logging layer, then the day file read the way a person greps it."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import random
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.observability import (
    SUMMARY_FAILED,
    SUMMARY_OK,
    configure_logging,
    count_llm_call,
    current_correlation_id,
    record,
    request_scope,
    reset_logging,
    stage,
)
from bot.settings import Settings, load_settings

CORRELATION_ID = re.compile(r"^[0-9a-f]{8}$")
TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


@pytest.fixture(autouse=True)
def clean_logging() -> Iterator[None]:
    yield
    reset_logging()


def today_file(settings: Settings) -> Path:
    return settings.log_dir / f"slack-{dt.datetime.now(dt.timezone.utc).date().isoformat()}.log"


def read_lines(path: Path) -> list[dict]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]  # every line must parse


def grep(path: Path, needle: str) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if needle in line]


def serve_product_question(text: str) -> str:
    """What the pipeline does for one message, reduced to its logging."""
    with request_scope(source="slack", channel="C042", user="U007", event_id="Ev1") as request:
        with stage("meeting_resolution"):
            pass
        with stage("control_plane"):
            logging.getLogger("control_plane.classifier").info("classified", extra={"text": text})
        record(intent="product_question", confidence=0.96, llm_validation="skipped", handler="product_question")
        with stage("handler"):
            logging.getLogger("knowledge.reader").debug("snapshot read", extra={"product": "orbit"})
            with stage("llm"):
                count_llm_call()
            record(snapshot_path="fast", cache="miss")
            logging.getLogger("handlers.product_question").info("answered")
        return request.correlation_id


def test_summary_line_is_greppable_json_with_the_three_stages(settings: Settings) -> None:
    configure_logging(settings, stderr=False)
    ids = [serve_product_question(f"how much is orbit pro? #{n}") for n in range(3)]

    records = read_lines(today_file(settings))
    for item in records:
        assert TS.match(item["ts"]) and item["level"] and item["logger"] and "message" in item
    assert len({*ids}) == 3 and all(CORRELATION_ID.match(cid) for cid in ids)
    for cid in ids:
        mine = grep(today_file(settings), cid)
        assert [r["logger"] for r in mine] == ["control_plane.classifier", "handlers.product_question", "bot.request"]
        summary = mine[-1]
        assert summary["message"] == SUMMARY_OK and summary["level"] == "INFO"
        assert summary["correlation_id"] == cid
        assert summary["total_time_ms"] > 0
        assert list(summary["stages"]) == ["meeting_resolution", "control_plane", "handler", "llm"]
        assert summary["stages"]["handler"] >= summary["stages"]["llm"]
        assert summary["total_time_ms"] >= summary["stages"]["handler"]
        expected = {
            "intent": "product_question", "confidence": 0.96, "llm_validation": "skipped",
            "handler": "product_question", "snapshot_path": "fast", "cache": "miss", "llm_calls": 1,
            "channel": "C042", "user": "U007", "event_id": "Ev1", "source": "slack",
        }
        assert {key: summary[key] for key in expected} == expected
    # DEBUG is below the default LOG_LEVEL=INFO.
    assert not [r for r in records if r["message"] == "snapshot read"]
    # Records outside any request carry no correlation id.
    logging.getLogger("bot.slack").warning("socket reconnected")
    assert "correlation_id" not in read_lines(today_file(settings))[-1]


def test_summary_has_null_facts_until_recorded_and_counts_llm_calls(settings: Settings) -> None:
    configure_logging(settings, stderr=False)
    with request_scope(source="shell") as request:
        count_llm_call()
        count_llm_call()
    (summary,) = grep(today_file(settings), request.correlation_id)
    for key in ("intent", "confidence", "llm_validation", "handler", "snapshot_path", "cache", "channel", "user",
                "event_id"):
        assert summary[key] is None
    assert summary["llm_calls"] == 2 and summary["source"] == "shell" and summary["stages"] == {}


def test_escaping_exception_logs_request_failed_then_reraises(settings: Settings) -> None:
    configure_logging(settings, stderr=False)
    with pytest.raises(ZeroDivisionError):
        with request_scope() as request:
            record(intent="call_search")
            with stage("control_plane"):
                pass
            with stage("handler"):
                1 / 0
    (summary,) = grep(today_file(settings), request.correlation_id)
    assert summary["message"] == SUMMARY_FAILED and summary["level"] == "ERROR"
    assert summary["intent"] == "call_search"  # the facts so far
    assert set(summary["stages"]) == {"control_plane", "handler"}
    assert summary["error"] == "ZeroDivisionError: division by zero"
    assert "Traceback" in summary["exc_info"] and "1 / 0" in summary["exc_info"]


def test_request_marked_failed_logs_one_error_summary_without_raising(settings: Settings) -> None:
    configure_logging(settings, stderr=False)
    with request_scope() as request:
        try:
            with stage("handler"):
                raise LookupError("no such meeting")
        except LookupError as exc:
            request.fail(exc)  # the pipeline apologises to the user instead
        record(handler="meeting_summary")
    mine = grep(today_file(settings), request.correlation_id)
    assert [r["message"] for r in mine] == [SUMMARY_FAILED]
    assert mine[0]["handler"] == "meeting_summary"
    assert mine[0]["error"] == "LookupError: no such meeting"
    assert 'raise LookupError("no such meeting")' in mine[0]["exc_info"]


def test_stage_left_open_is_closed_in_the_summary(settings: Settings) -> None:
    configure_logging(settings, stderr=False)
    with request_scope() as request:
        request.timer.start_stage("handler")  # e.g. a handler that failed before end_stage
    (summary,) = grep(today_file(settings), request.correlation_id)
    assert "handler" in summary["stages"]


async def test_concurrent_requests_never_see_each_others_id(settings: Settings) -> None:
    configure_logging(settings, stderr=False)
    rng = random.Random(7)

    async def one(n: int) -> str:
        with request_scope(source="slack", event_id=f"Ev{n}") as request:
            cid = request.correlation_id
            for module in ("control_plane.classifier", "knowledge.reader", "handlers.call_search", "bot.llm.gateway"):
                await asyncio.sleep(rng.random() / 1000)
                assert current_correlation_id() == cid
                logging.getLogger(module).info("step", extra={"expected_id": cid})
            # Work handed to a thread keeps the request's id (asyncio.to_thread copies the context).
            await asyncio.to_thread(lambda: logging.getLogger("knowledge.db").info("bulk", extra={"expected_id": cid}))
            # So does a task the request starts.
            await asyncio.create_task(asyncio.sleep(0, result=None))
            record(intent="call_search")
            return cid

    ids = await asyncio.gather(*(one(n) for n in range(60)))
    assert current_correlation_id() is None
    records = read_lines(today_file(settings))
    steps = [r for r in records if "expected_id" in r]
    assert len(steps) == 60 * 5
    assert all(r["correlation_id"] == r["expected_id"] for r in steps)
    summaries = [r for r in records if r["message"] == SUMMARY_OK]
    assert sorted(r["correlation_id"] for r in summaries) == sorted(ids)
    assert len(set(ids)) == 60
    assert {r["event_id"] for r in summaries} == {f"Ev{n}" for n in range(60)}


def test_non_ascii_stays_readable_and_extras_are_kept(settings: Settings) -> None:
    configure_logging(settings, stderr=False)
    logging.getLogger("handlers.draft").info(
        "Entwurf für %s", "Zoë Müller — 東京", extra={"account": "Café Nørd", "attempt": 2, "tags": ["a", "b"]}
    )
    raw = today_file(settings).read_text(encoding="utf-8")
    assert "Zoë Müller — 東京" in raw and "\\u" not in raw
    (item,) = read_lines(today_file(settings))
    assert item["message"] == "Entwurf für Zoë Müller — 東京"
    assert item["account"] == "Café Nørd" and item["attempt"] == 2 and item["tags"] == ["a", "b"]
    assert list(item)[:4] == ["ts", "level", "logger", "message"]


def test_an_extra_named_like_a_core_key_does_not_overwrite_it(settings: Settings) -> None:
    configure_logging(settings, stderr=False)
    logging.getLogger("handlers.x").warning("odd", extra={"level": "custom", "ts": 3})
    (item,) = read_lines(today_file(settings))
    assert item["level"] == "WARNING" and TS.match(item["ts"])
    assert item["extra_level"] == "custom" and item["extra_ts"] == 3


def test_configure_logging_twice_writes_each_record_once(settings: Settings) -> None:
    root = logging.getLogger()
    before, level_before = list(root.handlers), root.level
    configure_logging(settings)
    configure_logging(settings)
    assert len(root.handlers) == len(before) + 2  # day file + stderr
    assert root.level == logging.INFO != level_before
    logging.getLogger("x").warning("once")
    assert len(read_lines(today_file(settings))) == 1
    reset_logging()
    assert root.handlers == before and root.level == level_before  # as it was, for whoever runs next


def test_stderr_gets_one_short_line_per_request(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(settings)
    cid = serve_product_question("price of orbit?")
    logging.getLogger("bot.llm.gateway").warning("LLM unavailable: %s", "timeout")
    err = capsys.readouterr().err.splitlines()
    summary_line = next(line for line in err if cid in line and "product_question" in line and "ms" in line)
    assert re.match(
        rf"^\d\d:\d\d:\d\d {cid} product_question \d+\.\dms \(mr \d+\.\d cp \d+\.\d h \d+\.\d llm \d+\.\d\) "
        rf"skipped llm×1 cache miss$",
        summary_line,
    ), summary_line
    assert re.match(r"^\d\d:\d\d:\d\d WARNING bot.llm.gateway: LLM unavailable: timeout$", err[-1])
    assert all(not line.startswith("{") for line in err)


def test_stderr_failed_request_line_names_the_error(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(settings)
    with pytest.raises(KeyError):
        with request_scope() as request:
            raise KeyError("orbit")
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1
    assert re.match(rf"^\d\d:\d\d:\d\d {request.correlation_id} FAILED - \d+\.\dms KeyError: 'orbit'$", err[0]), err


def test_log_format_json_puts_json_on_stderr_too(isolated_environment: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("LOG_FORMAT", "json")
    settings = load_settings()
    configure_logging(settings)
    cid = serve_product_question("hi")
    err = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert err[-1]["message"] == SUMMARY_OK and err[-1]["correlation_id"] == cid
    assert err == read_lines(today_file(settings))


def test_log_level_filters_file_and_stderr(isolated_environment: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    settings = load_settings()
    configure_logging(settings)
    serve_product_question("quiet please")  # INFO records and an INFO summary: all filtered
    logging.getLogger("bot.llm.gateway").warning("breaker open")
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "breaker open" in err[0]
    assert [r["message"] for r in read_lines(today_file(settings))] == ["breaker open"]


def test_debug_level_lets_debug_records_through(isolated_environment: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    settings = load_settings()
    configure_logging(settings, stderr=False)
    cid = serve_product_question("verbose")
    assert "snapshot read" in [r["message"] for r in grep(today_file(settings), cid)]


def test_unwritable_log_dir_falls_back_to_stderr(isolated_environment: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = isolated_environment / "not-a-dir"
    blocker.write_text("a file where the log directory should be")
    settings = load_settings(log_dir=blocker / "logs")
    configure_logging(settings)
    logging.getLogger("bot").warning("still logging")
    err = capsys.readouterr().err
    assert f"cannot write log files in {blocker / 'logs'}" in err and "still logging" in err


async def test_overlapping_stages_of_one_name_each_add_their_time() -> None:
    """Two LLM calls of one request may run at once; both durations count, neither raises."""
    import asyncio

    from bot.observability import request_scope, stage

    async def llm_call(seconds: float) -> None:
        with stage("llm"):
            await asyncio.sleep(seconds)

    with request_scope(source="shell") as request:
        await asyncio.gather(llm_call(0.02), llm_call(0.03))
    assert request.timer.stages["llm"] >= 45.0
