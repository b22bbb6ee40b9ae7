"""Day files: UTC date rollover with an injected clock, retention, and appends from several processes."""

from __future__ import annotations

import datetime as dt
import json
import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bot.observability.day_file import DayFileHandler, day_file_name
from bot.observability.json_format import JsonLineFormatter
from tests.support.paths import REPO_ROOT

UTC = dt.timezone.utc


def epoch(text: str) -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


class Clock:
    def __init__(self, now: str) -> None:
        self.now = epoch(now)

    def __call__(self) -> float:
        return self.now


def make_logger(handler: logging.Handler, name: str = "daytest") -> logging.Logger:
    handler.setFormatter(JsonLineFormatter())
    logger = logging.getLogger(name)
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger


def messages(path: Path) -> list[str]:
    return [json.loads(line)["message"] for line in path.read_text(encoding="utf-8").splitlines()]


def test_records_before_and_after_midnight_land_in_their_days_files(tmp_path: Path) -> None:
    clock = Clock("2025-03-04T23:59:59.250")
    handler = DayFileHandler(tmp_path, retention_days=14, clock=clock)
    logger = make_logger(handler)
    logger.info("late on the 4th")
    clock.now = epoch("2025-03-04T23:59:59.999")
    logger.info("last moment of the 4th")
    clock.now = epoch("2025-03-05T00:00:00.000")
    logger.info("first moment of the 5th")
    clock.now = epoch("2025-03-05T08:00:00")
    logger.info("morning of the 5th")
    handler.close()

    assert sorted(p.name for p in tmp_path.iterdir()) == ["slack-2025-03-04.log", "slack-2025-03-05.log"]
    assert messages(tmp_path / "slack-2025-03-04.log") == ["late on the 4th", "last moment of the 4th"]
    assert messages(tmp_path / "slack-2025-03-05.log") == ["first moment of the 5th", "morning of the 5th"]


def test_without_a_clock_the_records_own_time_picks_the_file(tmp_path: Path) -> None:
    handler = DayFileHandler(tmp_path, retention_days=14)
    logger = make_logger(handler)
    for created, message in (("2024-12-31T23:59:59.5", "old year"), ("2025-01-01T00:00:00.5", "new year")):
        item = logger.makeRecord("daytest", logging.INFO, __file__, 1, message, None, None)
        item.created = epoch(created)
        logger.handle(item)
    handler.close()
    old, new = tmp_path / "slack-2024-12-31.log", tmp_path / "slack-2025-01-01.log"
    assert messages(old) == ["old year"] and messages(new) == ["new year"]
    assert json.loads(old.read_text())["ts"] == "2024-12-31T23:59:59.500Z"


def test_existing_day_file_is_appended_to_not_replaced(tmp_path: Path) -> None:
    (tmp_path / "slack-2025-03-04.log").write_text('{"ts": "x", "level": "INFO", "logger": "a", "message": "before"}\n')
    handler = DayFileHandler(tmp_path, retention_days=14, clock=Clock("2025-03-04T10:00:00"))
    make_logger(handler).info("after restart")
    handler.close()
    assert messages(tmp_path / "slack-2025-03-04.log") == ["before", "after restart"]


def test_retention_deletes_only_expired_day_files(tmp_path: Path) -> None:
    today = dt.date(2025, 3, 20)
    for days_ago in (0, 1, 3, 4, 5, 30):
        (tmp_path / day_file_name(today - dt.timedelta(days=days_ago))).write_text("x\n")
    foreign = ["notes.txt", "slack-latest.log", "slack-2025-02-30.log", "slack-2025-01-01.log.gz"]
    for name in foreign:
        (tmp_path / name).write_text("keep me\n")

    clock = Clock("2025-03-20T12:00:00")
    handler = DayFileHandler(tmp_path, retention_days=4, clock=clock)
    kept = sorted(p.name for p in tmp_path.iterdir())
    expected_days = [today - dt.timedelta(days=n) for n in (4, 3, 1, 0)]
    assert kept == sorted([day_file_name(d) for d in expected_days] + foreign)

    # At the next midnight the file that just became too old goes too.
    clock.now = epoch("2025-03-21T00:00:01")
    make_logger(handler).info("new day")
    handler.close()
    assert not (tmp_path / day_file_name(today - dt.timedelta(days=4))).exists()
    assert (tmp_path / day_file_name(today - dt.timedelta(days=3))).exists()
    assert (tmp_path / "slack-2025-03-21.log").exists()
    assert all((tmp_path / name).exists() for name in foreign)


def test_several_processes_append_whole_lines(tmp_path: Path) -> None:
    writer = textwrap.dedent(
        """
        import logging, sys
        from pathlib import Path
        from bot.observability.day_file import DayFileHandler
        from bot.observability.json_format import JsonLineFormatter
        handler = DayFileHandler(Path(sys.argv[1]), retention_days=14, clock=lambda: 1741089600.0)
        handler.setFormatter(JsonLineFormatter())
        log = logging.getLogger("writer")
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        for n in range(2000):
            log.info("line", extra={"process_tag": sys.argv[2], "n": n, "padding": "x" * (n % 700)})
        """
    )
    processes = [
        subprocess.Popen([sys.executable, "-c", writer, str(tmp_path), tag], cwd=REPO_ROOT)
        for tag in ("a", "b", "c")
    ]
    assert [p.wait(timeout=60) for p in processes] == [0, 0, 0]
    lines = (tmp_path / "slack-2025-03-04.log").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]  # an interleaved write would break a line
    assert len(records) == 6000
    for tag in "abc":
        assert [r["n"] for r in records if r["process_tag"] == tag] == list(range(2000))


def test_a_write_failure_is_one_line_on_stderr_not_a_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    handler = DayFileHandler(tmp_path, retention_days=14, clock=Clock("2025-03-04T10:00:00"))
    logger = make_logger(handler)
    handler._fd = 987654  # the file descriptor went away under us (a closed fd: EBADF on write)
    logger.info("lost")
    logger.info("lost too")
    err = capsys.readouterr().err
    assert err.count("pitcrew: cannot write log file") == 1 and "Traceback" not in err
    handler._fd = None
    logger.info("recovered")  # the next record reopens the day's file
    handler.close()
    assert messages(tmp_path / "slack-2025-03-04.log") == ["recovered"]
