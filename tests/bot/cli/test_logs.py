"""`pitcrew logs stats` and `pitcrew logs trace` on fixture day files, with broken and foreign lines."""

from __future__ import annotations

import datetime as dt
import json
import random
import statistics
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli.main import app

DAY = "2025-03-04"
SLA_MS = 250.0


def percentiles(values: list[float]) -> dict[str, float]:
    """Computed here with the standard library, independently of bot.observability.stats."""
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": statistics.median(values), "p95": cuts[94], "p99": cuts[98], "max": max(values)}


def summary(cid: str, total: float, stages: dict[str, float], *, failed: bool = False, **facts: object) -> dict:
    return {
        "ts": f"{DAY}T10:00:00.000Z", "level": "ERROR" if failed else "INFO", "logger": "bot.request",
        "message": "Request failed" if failed else "Request completed successfully", "correlation_id": cid,
        "intent": None, "confidence": None, "llm_validation": None, "handler": None, "snapshot_path": None,
        "cache": None, "total_time_ms": total, "stages": stages, "llm_calls": 0, "channel": "C1", "user": "U1",
        "event_id": None, "source": "slack", **facts,
    }


def write_fixture(log_dir: Path) -> dict:
    """80 requests with known values, shadow results, and every kind of line that must be skipped."""
    rng = random.Random(42)
    lines: list[str] = []
    totals, stage_values = [], {"meeting_resolution": [], "control_plane": [], "handler": [], "llm": []}
    deliveries: list[float] = []
    expected = {"errors": 0, "skipped": 0, "llm_calls": 0, "hit": 0, "miss": 0, "fast": 0, "slow": 0, "breaches": 0}
    for n in range(80):
        cid = f"{n:08x}"
        stages = {
            "meeting_resolution": round(rng.uniform(0.05, 2), 3),
            "control_plane": round(rng.uniform(0.02, 1), 3),
            "handler": round(rng.uniform(1, 400), 3),
        }
        llm_calls = n % 3
        if llm_calls:
            stages["llm"] = round(stages["handler"] * 0.8, 3)
        total = round(sum(v for k, v in stages.items() if k != "llm") + rng.uniform(0, 1), 3)
        failed = n % 16 == 5
        validation = ("skipped", "skipped", "used", "unavailable")[n % 4]
        cache = (None, "hit", "miss", "hit", "miss")[n % 5]
        path = (None, "fast", "fast", "slow")[n % 4]
        lines.append(json.dumps({"ts": f"{DAY}T10:00:00.000Z", "level": "INFO", "logger": "control_plane.classifier",
                                 "message": "classified", "correlation_id": cid}))
        delivery = {"delivery_ms": round(rng.uniform(50, 900), 3)} if n % 2 else {}  # Slack requests only
        # Why a validation gave no verdict: the validation call's outcome, none when no call was made.
        why = {"used": {"llm_validation_outcome": "ok"}, "unavailable": {"llm_validation_outcome": "deadline"}
               if n % 8 == 3 else {}}.get(validation, {})
        lines.append(json.dumps(summary(cid, total, stages, failed=failed, intent="product_question",
                                        llm_validation=validation, cache=cache, snapshot_path=path,
                                        llm_calls=llm_calls, **delivery, **why)))
        deliveries.extend(delivery.values())
        totals.append(total)
        for name, value in stages.items():
            stage_values[name].append(value)
        expected["errors"] += failed
        expected["skipped"] += validation == "skipped"
        expected["llm_calls"] += llm_calls
        expected["breaches"] += total > SLA_MS
        if cache:
            expected[cache] += 1
        if path:
            expected[path] += 1
    # Shadow validation results: 7 agree, 3 disagree; one request reported twice counts once.
    for n in range(10):
        lines.append(json.dumps({"ts": f"{DAY}T11:00:00.000Z", "level": "INFO", "logger": "control_plane.shadow",
                                 "message": "shadow validation", "correlation_id": f"{n:08x}",
                                 "shadow_agreement": n < 7}))
    lines.append(json.dumps({"ts": f"{DAY}T11:00:00.000Z", "level": "INFO", "logger": "control_plane.shadow",
                             "message": "shadow validation", "correlation_id": "00000000", "shadow_agreement": True}))
    lines.append(json.dumps({"ts": f"{DAY}T11:00:00.000Z", "level": "INFO", "logger": "x",
                             "message": "shadow validation", "shadow_agreement": "yes"}))  # not a boolean
    malformed = [
        '{"ts": "2025-03-04T12:00:00.000Z", "level": "INFO", "message": "Request completed succ',  # cut short
        "Traceback (most recent call last):",
        json.dumps(summary("deadbeef", "fast", {})),  # total_time_ms not a number
        json.dumps(summary("deadbee0", 12.0, ["handler"])),  # stages not an object
        json.dumps(summary("deadbee1", -3.0, {})),
    ]
    foreign = ['{"event": "GET /healthz", "status": 200}', "[1, 2, 3]", "42", '"just a string"']
    body = "\n".join(lines[:50] + malformed[:2] + lines[50:] + malformed[2:] + foreign + [""]) + "\n"
    log_dir.mkdir(parents=True, exist_ok=True)
    with (log_dir / f"slack-{DAY}.log").open("wb") as handle:
        handle.write(body.encode())
        handle.write(b"\xff\xfe not utf-8 \xc3\x28\n")  # malformed too
    return {
        "totals": totals, "stages": stage_values, "deliveries": deliveries, "counts": expected,
        "lines": len(lines) + len(malformed) + len(foreign) + 1, "malformed": len(malformed) + 1,
        "foreign": len(foreign),
    }


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("SLA_MS", str(SLA_MS))
    return CliRunner()


def test_stats_json_gives_expected_percentiles_and_counts(isolated_environment: Path, runner: CliRunner) -> None:
    log_dir = isolated_environment / "fixture-logs"
    fixture = write_fixture(log_dir)
    result = runner.invoke(app, ["logs", "stats", "--date", DAY, "--json", "--dir", str(log_dir)])
    assert result.exit_code == 0, result.output
    stats = json.loads(result.stdout)
    counts = fixture["counts"]

    assert stats["lines"] == fixture["lines"]
    assert stats["malformed_lines"] == fixture["malformed"] == 6
    assert stats["foreign_lines"] == fixture["foreign"] == 4
    assert stats["requests"] == 80
    assert stats["errors"] == counts["errors"] == 5
    assert stats["error_rate"] == pytest.approx(5 / 80, abs=1e-4)
    for key, value in percentiles(fixture["totals"]).items():
        assert stats["total_time_ms"][key] == pytest.approx(value, abs=1e-3), key
    assert stats["total_time_ms"]["count"] == 80
    assert set(stats["stages_ms"]) == {"meeting_resolution", "control_plane", "handler", "llm"}
    for name, values in fixture["stages"].items():
        assert stats["stages_ms"][name]["count"] == len(values)
        for key, value in percentiles(values).items():
            assert stats["stages_ms"][name][key] == pytest.approx(value, abs=1e-3), (name, key)
    assert stats["delivery_ms"]["count"] == len(fixture["deliveries"]) == 40
    for key, value in percentiles(fixture["deliveries"]).items():
        assert stats["delivery_ms"][key] == pytest.approx(value, abs=1e-3), key
    assert stats["llm_validation"] == {"skipped": 40, "used": 20, "unavailable": 20}
    assert stats["llm_validation_unavailable"] == {"deadline": 10, "not_asked": 10}
    assert stats["llm_validation_skipped_share"] == pytest.approx(counts["skipped"] / 80, abs=1e-4)
    assert stats["llm_calls_per_request"] == pytest.approx(counts["llm_calls"] / 80, abs=1e-4)
    assert stats["cache"] == {"hit": counts["hit"], "miss": counts["miss"]}
    assert stats["cache_hit_rate"] == pytest.approx(counts["hit"] / (counts["hit"] + counts["miss"]), abs=1e-4)
    assert stats["snapshot_path"] == {"fast": counts["fast"], "slow": counts["slow"]} == {"fast": 40, "slow": 20}
    assert stats["sla_ms"] == SLA_MS
    assert 0 < counts["breaches"] < 80
    assert stats["sla_breaches"] == counts["breaches"]
    assert stats["sla_breach_rate"] == pytest.approx(counts["breaches"] / 80, abs=1e-4)
    assert (stats["shadow_samples"], stats["shadow_agreements"]) == (10, 7)
    assert stats["shadow_agreement_rate"] == pytest.approx(0.7)
    assert stats["intents"] == {"product_question": 80}


def test_stats_table_is_readable(isolated_environment: Path, runner: CliRunner) -> None:
    log_dir = isolated_environment / "fixture-logs"
    fixture = write_fixture(log_dir)
    result = runner.invoke(app, ["logs", "stats", "--date", DAY, "--dir", str(log_dir)])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "requests" in out and " 80 " in out
    assert "5 (6.2%)" in out  # errors and their rate
    assert "6 malformed, 4 foreign" in out
    assert "deadline 10, not asked 10" in out  # why validations gave no verdict
    total_row = next(line for line in out.splitlines() if "total" in line and "80" in line)
    assert f"{percentiles(fixture['totals'])['p50']:.2f}" in total_row
    for name in ("meeting_resolution", "control_plane", "handler", "llm", "delivery (Slack post)"):
        assert name in out


def test_stats_on_a_day_without_requests_says_so(isolated_environment: Path, runner: CliRunner) -> None:
    log_dir = isolated_environment / "logs"
    write_day(log_dir, dt.date(2025, 3, 4), [{"ts": "2025-03-04T01:00:00.000Z", "level": "INFO", "logger": "bot.slack",
                                             "message": "connected"}])
    result = runner.invoke(app, ["logs", "stats", "--date", "2025-03-04"])
    assert result.exit_code == 0 and "No request summaries in these files." in result.stdout
    as_json = json.loads(runner.invoke(app, ["logs", "stats", "--date", "2025-03-04", "--json"]).stdout)
    assert as_json["requests"] == 0 and as_json["error_rate"] is None and as_json["total_time_ms"] is None
    assert as_json["lines"] == 1


def write_day(log_dir: Path, day: dt.date, records: list[dict]) -> None:
    log_dir.mkdir(parents=True, exist_ok=True)
    path = log_dir / f"slack-{day.isoformat()}.log"
    with path.open("a", encoding="utf-8") as handle:
        for item in records:
            handle.write(json.dumps(item) + "\n")


def test_stats_days_reads_the_last_n_days_and_defaults_to_today(isolated_environment: Path, runner: CliRunner) -> None:
    log_dir = isolated_environment / "logs"
    today = dt.datetime.now(dt.timezone.utc).date()
    write_day(log_dir, today, [summary("aaaaaaa1", 10.0, {})])
    write_day(log_dir, today - dt.timedelta(days=1), [summary("aaaaaaa2", 20.0, {}), summary("aaaaaaa3", 30.0, {})])
    write_day(log_dir, today - dt.timedelta(days=5), [summary("aaaaaaa4", 40.0, {})])

    def requests(*args: str) -> int:
        result = runner.invoke(app, ["logs", "stats", "--json", *args])  # LOG_DIR from the environment
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)["requests"]

    assert requests() == 1
    assert requests("--days", "2") == 3
    assert requests("--days", "7") == 4
    assert requests("--date", (today - dt.timedelta(days=5)).isoformat()) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--date", "2025-03-04", "--days", "2"], "use --date or --days, not both"),
        (["--date", "04/03/2025"], "--date must look like 2025-03-04"),
        (["--date", "1999-01-01"], "no log files in"),
    ],
)
def test_stats_bad_input_is_one_clear_line(isolated_environment: Path, runner: CliRunner, args: list[str],
                                           message: str) -> None:
    result = runner.invoke(app, ["logs", "stats", *args])
    assert result.exit_code != 0
    assert message in result.stderr and "Traceback" not in result.output


def test_trace_prints_one_requests_records_in_order_across_midnight(isolated_environment: Path,
                                                                    runner: CliRunner) -> None:
    log_dir = isolated_environment / "logs"
    cid, other = "a1b2c3d4", "0f0f0f0f"

    def rec(ts: str, message: str, correlation_id: str | None = cid, **extra: object) -> dict:
        item = {"ts": ts, "level": "INFO", "logger": "handlers.call_search", "message": message, **extra}
        if correlation_id:
            item["correlation_id"] = correlation_id
        return item

    write_day(log_dir, dt.date(2025, 3, 4), [
        rec("2025-03-04T23:59:59.900Z", "started", topic="pricing"),
        rec("2025-03-04T23:59:59.950Z", "someone else", other),
        rec("2025-03-04T23:59:59.960Z", f"mentions {cid} in text only", None),
    ])
    write_day(log_dir, dt.date(2025, 3, 5), [
        rec("2025-03-05T00:00:00.100Z", "searching"),
        summary(cid, 210.5, {"handler": 200.0}),
    ])
    with (log_dir / "slack-2025-03-05.log").open("a") as handle:
        handle.write("not json mentioning a1b2c3d4\n")

    result = runner.invoke(app, ["logs", "trace", cid.upper()])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line.split(": ", 1)[1].split("  ")[0] for line in lines] == [
        "started", "searching", "Request completed successfully"]
    assert lines[0].startswith("2025-03-04T23:59:59.900Z INFO") and "topic=pricing" in lines[0]
    assert 'stages={"handler": 200.0}' in lines[2] and "total_time_ms=210.5" in lines[2]

    as_json = runner.invoke(app, ["logs", "trace", cid, "--json"])
    assert [json.loads(line)["correlation_id"] for line in as_json.stdout.splitlines()] == [cid] * 3


def test_trace_says_when_nothing_matches(isolated_environment: Path, runner: CliRunner) -> None:
    write_day(isolated_environment / "logs", dt.date(2025, 3, 4), [summary("11111111", 1.0, {})])
    missing = runner.invoke(app, ["logs", "trace", "22222222"])
    assert missing.exit_code == 1 and "no records for 22222222" in missing.stderr
    bad = runner.invoke(app, ["logs", "trace", "not-an-id"])
    assert bad.exit_code == 2 and "8 hex characters" in bad.stderr


def test_stats_report_the_speculation_reconcile_rate_and_the_tokens_thrown_away(isolated_environment: Path,
                                                                               runner: CliRunner) -> None:
    log_dir = isolated_environment / "speculation-logs"
    log_dir.mkdir()
    records = [summary("c1", 500.0, {}, speculation="confirmed", speculation_saved_ms=300.0),
               summary("c2", 520.0, {}, speculation="confirmed", speculation_saved_ms=250.5),
               summary("c3", 900.0, {}, speculation="reconciled", speculation_wasted_tokens=120, llm_hedged=True),
               summary("c4", 800.0, {}, speculation="off"),
               summary("c5", 20.0, {})]
    (log_dir / f"slack-{DAY}.log").write_text("".join(json.dumps(r) + "\n" for r in records))
    result = runner.invoke(app, ["logs", "stats", "--date", DAY, "--json", "--dir", str(log_dir)])
    assert result.exit_code == 0, result.output
    stats = json.loads(result.stdout)
    assert stats["speculation"] == {"confirmed": 2, "reconciled": 1, "off": 1}
    assert stats["speculation_reconcile_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert stats["speculation_saved_ms"] == pytest.approx(550.5)
    assert stats["speculation_wasted_tokens"] == 120 and stats["llm_hedged_requests"] == 1
    table = runner.invoke(app, ["logs", "stats", "--date", DAY, "--dir", str(log_dir)]).stdout
    assert "33.3% of 3 (1 off)" in table and "120 tokens wasted" in table
