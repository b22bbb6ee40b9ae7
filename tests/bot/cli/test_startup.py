"""What starting the console script loads: each command imports only what it needs, when it runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.paths import REPO_ROOT

# Loaded only by the commands that use them: `pitcrew --help` and the command line's parsing need none.
HEAVY = ("openai", "slack_bolt", "slack_sdk", "aiohttp", "sqlalchemy", "sqlmodel", "pydantic_settings", "bot.settings",
         "control_plane", "handlers", "knowledge", "bot.app", "bot.pipeline", "bot.llm", "rapidfuzz", "rich")


def _modules_after(code: str, cwd: Path) -> set[str]:
    """The modules a fresh interpreter holds after running `code` (which prints nothing itself)."""
    script = code + "\nimport json as _j, sys as _s\nprint(_j.dumps(sorted(_s.modules)))\n"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    completed = subprocess.run([sys.executable, "-c", script], cwd=cwd, env=env, capture_output=True, text=True,
                               timeout=120)
    assert completed.returncode == 0, completed.stderr
    return set(json.loads(completed.stdout.splitlines()[-1]))


def _loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == name or m.startswith(name + ".") for name in names))


def test_importing_the_console_script_loads_no_heavy_module(isolated_environment: Path) -> None:
    modules = _modules_after("import bot.cli.main", isolated_environment)
    assert "bot.cli.main" in modules and "typer" in modules
    assert _loaded(modules, HEAVY) == []


def test_help_loads_nothing_a_command_needs(isolated_environment: Path) -> None:
    code = ("from bot.cli.main import app\n"
            "try:\n    app(['--help'], standalone_mode=False)\nexcept SystemExit:\n    pass\n")
    modules = _modules_after(code, isolated_environment)
    assert _loaded(modules, tuple(name for name in HEAVY if name != "rich")) == []  # rich formats the help


def test_ask_without_an_llm_loads_neither_the_llm_sdk_nor_slack(isolated_environment: Path) -> None:
    code = ("from bot.cli.main import app\n"
            "try:\n    app(['ask', 'hi'], standalone_mode=False)\nexcept SystemExit:\n    pass\n")
    modules = _modules_after(code, isolated_environment)
    assert "control_plane" in modules and "sqlalchemy" in modules  # it did answer
    assert _loaded(modules, ("openai", "slack_bolt", "slack_sdk", "aiohttp")) == []


def _classify(cwd: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "XDG_CACHE_HOME": str(cache)}
    return subprocess.run([sys.executable, "-m", "bot.cli", "classify", "what does orbit pro cost?"], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_a_corrupt_pattern_cache_changes_nothing_and_is_replaced(isolated_environment: Path) -> None:
    cache = isolated_environment / "cache"
    first = _classify(isolated_environment, cache)
    assert first.returncode == 0, first.stderr
    stored = list((cache / "pitcrew").glob("patterns-*.json"))
    assert len(stored) == 1
    stored[0].write_bytes(b'{"key": {"python": "3.11"}, "data": {"(": [[["x"]], true]}')  # half-written, foreign
    again = _classify(isolated_environment, cache)
    assert again.returncode == 0 and "Traceback" not in again.stderr and again.stdout == first.stdout
    assert json.loads(stored[0].read_text(encoding="utf-8"))["key"] != {"python": "3.11"}  # written anew


def test_a_command_run_as_a_process_still_flushes_its_output_and_day_file(isolated_environment: Path) -> None:
    # main() skips the final garbage collection on the way out, never the exit handlers.
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    completed = subprocess.run([sys.executable, "-m", "bot.cli", "ask", "what does orbit pro cost?", "--json"],
                               cwd=isolated_environment, env=env, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    reply = json.loads(completed.stdout)
    records = [json.loads(line) for path in (isolated_environment / "logs").glob("slack-*.log")
               for line in path.read_text(encoding="utf-8").splitlines()]
    assert any(record.get("correlation_id") == reply["correlation_id"] and "total_time_ms" in record
               for record in records)
