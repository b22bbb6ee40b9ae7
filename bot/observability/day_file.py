"""A logging handler writing `LOG_DIR/slack-YYYY-MM-DD.log` by UTC date, safe for several processes."""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

DAY_FILE_PREFIX = "slack-"
DAY_FILE_SUFFIX = ".log"
DAY_FILE_PATTERN = re.compile(r"^slack-(\d{4}-\d{2}-\d{2})\.log$")
_SECONDS_PER_DAY = 86_400


def day_file_name(day: dt.date) -> str:
    return f"{DAY_FILE_PREFIX}{day.isoformat()}{DAY_FILE_SUFFIX}"


def day_of_file(path: Path) -> dt.date | None:
    """The UTC date a day file holds, or None for any other file."""
    match = DAY_FILE_PATTERN.match(path.name)
    if match is None:
        return None
    try:
        return dt.date.fromisoformat(match.group(1))
    except ValueError:
        return None


def delete_expired_day_files(directory: Path, today: dt.date, retention_days: int) -> list[Path]:
    """Delete day files dated more than `retention_days` days before `today`; other files are left alone."""
    oldest_kept = today - dt.timedelta(days=retention_days)
    deleted = []
    try:
        entries = list(directory.iterdir())
    except OSError:
        return deleted
    for path in entries:
        day = day_of_file(path)
        if day is not None and day < oldest_kept:
            try:
                path.unlink()
                deleted.append(path)
            except FileNotFoundError:  # another process got there first
                pass
            except OSError:
                continue
    return deleted


class DayFileHandler(logging.Handler):
    """Appends each formatted record as one line to the file of its UTC day.

    The file is opened with O_APPEND and every record is a single write(), so several processes (the
    Slack app, a shell, a CLI command) can append to the same day file without interleaving. At
    midnight the next record opens the new day's file; nothing is ever renamed. Expired day files are
    deleted when the handler opens a day's file (at start and at each rollover).

    `clock` (epoch seconds) picks the day; by default the record's own timestamp, so a line's `ts`
    and its file always agree.
    """

    def __init__(
        self,
        directory: Path,
        *,
        retention_days: int,
        clock: Callable[[], float] | None = None,
    ) -> None:
        super().__init__()
        self.directory = Path(directory)
        self.retention_days = retention_days
        self._clock = clock
        self._fd: int | None = None
        self._day_start = 0.0
        self._day_end = 0.0
        self.path: Path | None = None
        self._failing = False
        self.directory.mkdir(parents=True, exist_ok=True)
        self._open_day(clock() if clock is not None else time.time())

    def _open_day(self, now: float) -> None:
        day_start = now - (now % _SECONDS_PER_DAY)  # UTC days are exactly 86400 s in epoch time
        day = dt.datetime.fromtimestamp(day_start, tz=dt.timezone.utc).date()
        path = self.directory / day_file_name(day)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._close_fd()
        self._fd = fd
        self.path = path
        self._day_start = day_start
        self._day_end = day_start + _SECONDS_PER_DAY
        delete_expired_day_files(self.directory, day, self.retention_days)

    def _close_fd(self) -> None:
        if self._fd is not None:
            try:
                os.close(self._fd)
            except OSError:
                pass
            self._fd = None

    def emit(self, record: logging.LogRecord) -> None:
        try:
            now = self._clock() if self._clock is not None else record.created
            if self._fd is None or not (self._day_start <= now < self._day_end):
                self._open_day(now)
            data = (self.format(record) + "\n").encode("utf-8", "backslashreplace")
            assert self._fd is not None
            written = os.write(self._fd, data)
            while written < len(data):  # only on a full disk or a signal; keep the rest of the line
                written += os.write(self._fd, data[written:])
            self._failing = False
        except RecursionError:
            raise
        except Exception as exc:
            self._report_failure(exc)

    def _report_failure(self, exc: Exception) -> None:
        # One line per failure streak instead of a traceback per record.
        if not self._failing:
            self._failing = True
            print(f"pitcrew: cannot write log file in {self.directory}: {exc}", file=sys.stderr)

    def close(self) -> None:
        self.acquire()
        try:
            self._close_fd()
        finally:
            self.release()
        super().close()
