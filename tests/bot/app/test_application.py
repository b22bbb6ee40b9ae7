"""The one application object: what it opens, in which order it closes, and the database it refuses."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.app.application import Application
from bot.app.database import StartupError, missing_directory, open_database
from bot.settings import DEFAULT_DATABASE_URL, Settings, load_settings


async def test_the_application_opens_every_service_and_closes_them_all(settings: Settings) -> None:
    async with Application.running(settings, background=True) as app:
        assert app.database.products >= 6 and app.database.demo_loaded
        assert app.schedule is not None and app.watcher is not None
        assert app.pipeline.db is app.db and app.pipeline.llm is app.llm
        healthy, details = app.health()
        assert healthy and details["database"] == "ok" and details["scheduler"]["role"] in ("leader", "follower")
        assert "knowledge-watch" in {task.get_name() for task in asyncio.all_tasks()}
    assert "knowledge-watch" not in {task.get_name() for task in asyncio.all_tasks()}  # stopped on the way out


async def test_without_background_jobs_nothing_runs_behind_the_callers_back(settings: Settings) -> None:
    async with Application.running(settings) as app:
        assert app.schedule is None and app.watcher is None
        assert {task.get_name() for task in asyncio.all_tasks()} & {"knowledge-watch"} == set()


async def test_evaluations_answer_without_the_llm_even_when_one_is_configured(settings: Settings) -> None:
    configured = settings.model_copy(update={"openai_api_key": load_settings(openai_api_key="sk-test").openai_api_key})
    async with Application.running(configured, use_llm=False) as app:
        assert app.llm.configured and app.pipeline.llm is None


def test_a_database_in_a_missing_directory_is_refused_and_nothing_is_created(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'typo' / 'pitcrew.db'}"
    with pytest.raises(StartupError, match=r"points into .*typo, which does not exist; create it \(mkdir -p"):
        open_database(load_settings(database_url=url), load_demo=True)
    assert not (tmp_path / "typo").exists()
    assert missing_directory(f"sqlite:///{tmp_path / 'pitcrew.db'}") is None
    assert missing_directory("sqlite://") is None and missing_directory("postgresql://u@h/db") is None


def test_the_default_database_directory_is_made_on_first_use(isolated_environment: Path) -> None:
    db, demo_loaded = open_database(load_settings(database_url=DEFAULT_DATABASE_URL), load_demo=True)
    try:
        assert demo_loaded and (isolated_environment / "data" / "pitcrew.db").is_file()
    finally:
        db.close()


def _run(*args: str, cwd: Path, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], cwd=cwd, env=env, input=stdin,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.slow
@pytest.mark.parametrize("command", [["ask", "hi"], ["shell"], ["snapshots", "rebuild"], ["cache", "stats"],
                                     ["knowledge", "import", "."], ["classify", "what does pro cost"]])
def test_every_command_refuses_a_database_in_a_missing_directory(isolated_environment: Path, command: list[str]) -> None:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{isolated_environment / 'no-such-dir' / 'pitcrew.db'}"}
    result = _run(*command, cwd=isolated_environment, env=env)
    assert result.returncode == 2, result.stderr
    assert "no-such-dir, which does not exist" in result.stderr and "Traceback" not in result.stderr
    assert not (isolated_environment / "no-such-dir").exists()


@pytest.mark.slow
def test_the_shell_says_which_database_it_opened(isolated_environment: Path) -> None:
    result = _run("shell", cwd=isolated_environment, env=dict(os.environ), stdin="")
    assert result.returncode == 0, result.stderr
    assert f"database sqlite:///{isolated_environment / 'pitcrew.db'}: 6 products, last import" in result.stdout
    assert "the demo knowledge base was loaded into it" in result.stdout
    again = _run("shell", cwd=isolated_environment, env=dict(os.environ), stdin="")
    assert "6 products" in again.stdout and "demo knowledge base was loaded" not in again.stdout
