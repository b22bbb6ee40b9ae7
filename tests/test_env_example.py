""".env.example names only real settings, says what each is, keeps secrets empty, and loads as it is."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.settings import Settings
from bot.cli.serve import slack_credentials_problem

ROOT = Path(__file__).resolve().parents[1]
while not (ROOT / "pyproject.toml").exists():  # the tests tree may be nested one level deeper later
    ROOT = ROOT.parent
EXAMPLE = ROOT / ".env.example"
# NAME=value, or "# NAME=value" for a default shown commented out.
VARIABLE = re.compile(r"^(?P<commented>#\s*)?(?P<name>[A-Z][A-Z0-9_]*)=(?P<value>.*)$")
SECRET_FIELDS = {name for name, info in Settings.model_fields.items() if SecretStr in getattr(
    info.annotation, "__args__", (info.annotation,))}


def variables() -> list[tuple[int, str, str, bool]]:
    """(line index, NAME, value, commented out) for every variable line."""
    found = []
    for index, line in enumerate(EXAMPLE.read_text().splitlines()):
        match = VARIABLE.match(line)
        if match:
            found.append((index, match["name"], match["value"], bool(match["commented"])))
    return found


@pytest.fixture
def no_settings_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Variables win over the env file: the shared fixture's DATABASE_URL and LOG_DIR would hide the file's."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)


def test_every_variable_is_a_setting_named_once() -> None:
    names = [name for _, name, _, _ in variables()]
    assert len(names) >= 20
    assert len(names) == len(set(names)), "a variable appears twice"
    unknown = [name for name in names if name.lower() not in Settings.model_fields]
    assert not unknown, f"not pitcrew settings (a typo would be silently ignored): {unknown}"


def test_every_variable_has_a_one_line_comment_above_it() -> None:
    lines = EXAMPLE.read_text().splitlines()
    for index, name, _, _ in variables():
        above = lines[index - 1]
        assert above.startswith("# ") and not VARIABLE.match(above), f"{name} has no comment line above it"


def test_the_secrets_are_there_and_empty() -> None:
    by_name = {name.lower(): (value, commented) for _, name, value, commented in variables()}
    assert SECRET_FIELDS == {"slack_bot_token", "slack_signing_secret", "slack_app_token", "openai_api_key",
                             "airtable_token", "dashboard_token"}
    for field in SECRET_FIELDS:
        assert by_name[field] == ("", False), f"{field.upper()} should be present, uncommented and empty"
    assert by_name["slack_api_url"][1], "SLACK_API_URL is an advanced option: commented out"


def test_a_copy_loads_as_the_defaults_with_every_secret_unset(tmp_path: Path, no_settings_in_environment: None) -> None:
    copy = tmp_path / ".env"
    copy.write_text(EXAMPLE.read_text())
    settings = Settings(_env_file=copy)
    for field in SECRET_FIELDS:
        assert getattr(settings, field) is None, f"an empty {field.upper()} should mean unset"
    assert not settings.llm_configured and settings.secret_values() == []
    assert settings.openai_base_url is None
    assert settings.model_dump() == Settings(_env_file=None).model_dump()


def test_the_commented_defaults_are_the_real_defaults(tmp_path: Path, no_settings_in_environment: None) -> None:
    uncommented = tmp_path / ".env"
    uncommented.write_text("\n".join(re.sub(r"^#\s*(?=[A-Z][A-Z0-9_]*=)", "", line)
                                     for line in EXAMPLE.read_text().splitlines()))
    defaults = Settings(_env_file=None).model_dump()
    loaded = Settings(_env_file=uncommented).model_dump()
    for _, name, value, commented in variables():
        if commented:
            assert loaded[name.lower()] == defaults[name.lower()], f"{name}={value} is not its default"


def test_an_empty_app_token_from_the_file_means_the_http_events_api(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch,
                                                                    no_settings_in_environment: None) -> None:
    copy = tmp_path / ".env"
    copy.write_text(EXAMPLE.read_text().replace("SLACK_BOT_TOKEN=\n", "SLACK_BOT_TOKEN=xoxb-1-2-abc\n")
                    .replace("SLACK_SIGNING_SECRET=\n", "SLACK_SIGNING_SECRET=s3cr3t-value\n"))
    assert slack_credentials_problem(Settings(_env_file=copy)) is None
    # Blank (spaces) in the environment is unset too; a set app token still selects Socket Mode.
    monkeypatch.setenv("SLACK_APP_TOKEN", "   ")
    assert Settings(_env_file=copy).slack_app_token is None
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1-A1-zzz")
    assert slack_credentials_problem(Settings(_env_file=copy)) is None
    monkeypatch.setenv("SLACK_APP_TOKEN", "xoxb-not-an-app-token")
    assert "SLACK_APP_TOKEN" in (slack_credentials_problem(Settings(_env_file=copy)) or "")
