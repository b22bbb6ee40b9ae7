"""Fixtures of the pipeline tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.settings import Settings
from bot.observability import configure_logging, reset_logging


@pytest.fixture
def logging_to_files(settings: Settings) -> Iterator[Settings]:
    """Logging configured as `pitcrew serve` does (day files under LOG_DIR), reset afterwards."""
    configure_logging(settings, stderr=False)
    yield settings
    reset_logging()
