"""A bad setting is one line naming the variable, never its value, and exit code 2: never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PITCREW = [sys.executable, "-m", "bot.cli"]


def run_ask(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {key: value for key, value in os.environ.items() if not key.startswith(("OPENAI_", "SLACK_"))}
    clean.update({"DATABASE_URL": f"sqlite:///{tmp_path / 'pitcrew.db'}", "LOG_DIR": str(tmp_path / "logs"), **env})
    return subprocess.run([*PITCREW, "ask", "hi"], env=clean, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("value", ["::x::", "http:///v1", "ftp://models.example", "http://[::1", "http://h:99999",
                                   "http://exa mple.com/v1"])
def test_a_bad_openai_base_url_is_one_line_naming_it(tmp_path: Path, value: str) -> None:
    result = run_ask(tmp_path, OPENAI_BASE_URL=value, OPENAI_API_KEY="sk-test-key-0123456789abcdef")
    assert result.returncode == 2
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("pitcrew: error: invalid OPENAI_BASE_URL: ")
    assert value not in lines[0]  # a URL may carry credentials: it is named, not quoted
    assert "Value error" not in lines[0]


def test_a_good_openai_base_url_is_accepted(tmp_path: Path) -> None:
    # "hi" is answered without the LLM, so nothing needs to listen there.
    result = run_ask(tmp_path, OPENAI_BASE_URL="http://127.0.0.1:9/v1", OPENAI_API_KEY="sk-test-key-0123456789abcdef")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()


def test_an_unparseable_database_url_is_one_line_naming_it(tmp_path: Path) -> None:
    result = run_ask(tmp_path, DATABASE_URL="::x::")
    assert result.returncode == 2
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stderr.strip().splitlines() == [
        "pitcrew: error: invalid DATABASE_URL: not a database URL, e.g. sqlite:///./data/pitcrew.db or "
        "postgresql://user@host/dbname"]
