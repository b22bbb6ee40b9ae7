"""`configure_logging`: JSON day files plus a terminal stream, with correlation ids and redaction."""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from bot.observability.day_file import DayFileHandler
from bot.observability.filters import CorrelationIdFilter, RedactionFilter
from bot.observability.json_format import JsonLineFormatter
from bot.observability.privacy import MessageTextFilter
from bot.observability.text_format import TextLineFormatter
from bot.settings import Settings

# Marks the handlers configure_logging installed, so a second call replaces them instead of adding more.
_PITCREW_HANDLER = "_pitcrew_handler"
# The root logger's level before configure_logging changed it, for reset_logging.
_level_before: int | None = None


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is at the time of the record (test runners swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:  # StreamHandler.__init__ assigns it; the property wins
        pass


def configure_logging(settings: Settings, *, stderr: bool = True) -> None:
    """Send every record (any logger) to `LOG_DIR/slack-YYYY-MM-DD.log` as JSON and, if `stderr`, to
    the terminal as short lines (JSON with LOG_FORMAT=json), filtered by LOG_LEVEL, and without the SDKs'
    DEBUG records that quote message text unless LOG_MESSAGE_TEXT is on. Calling it again
    replaces the previous configuration. If LOG_DIR cannot be written, says so once on stderr and
    logs to stderr only rather than stop the process."""
    root = logging.getLogger()
    reset_logging()
    global _level_before
    _level_before = root.level
    filters: list[logging.Filter] = [CorrelationIdFilter(), RedactionFilter(settings.secret_values())]
    if not settings.log_message_text:
        filters.insert(0, MessageTextFilter())  # first: a dropped record costs nothing more
    handlers: list[logging.Handler] = []
    try:
        day_file = DayFileHandler(settings.log_dir, retention_days=settings.log_retention_days)
    except OSError as exc:
        print(f"pitcrew: cannot write log files in {settings.log_dir} ({exc.strerror or exc}); "
              "logging to stderr only", file=sys.stderr)
        stderr = True
    else:
        day_file.setFormatter(JsonLineFormatter())
        handlers.append(day_file)
    if stderr:
        terminal = StderrHandler()
        terminal.setFormatter(JsonLineFormatter() if settings.log_format == "json" else TextLineFormatter())
        handlers.append(terminal)
    for handler in handlers:
        for log_filter in filters:
            handler.addFilter(log_filter)
        setattr(handler, _PITCREW_HANDLER, True)
        root.addHandler(handler)
    # Ours first: their filters scrub the record in place, so any other handler (a test runner's log
    # capture, an error reporter) only ever sees the redacted record.
    root.handlers.sort(key=lambda handler: not getattr(handler, _PITCREW_HANDLER, False))
    root.setLevel(settings.log_level)


def reset_logging() -> None:
    """Undo configure_logging: remove and close its handlers (others are left alone) and give the
    root logger back the level it had before."""
    global _level_before
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _PITCREW_HANDLER, False):
            root.removeHandler(handler)
            handler.close()
    if _level_before is not None:
        root.setLevel(_level_before)
        _level_before = None
