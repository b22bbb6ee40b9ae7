"""docs/deploy.md runs what exists: its pitcrew commands parse with the real CLI, its systemd unit gives
serve longer to stop than SHUTDOWN_GRACE_S, its crontab lines escape %, and it never copies the live database."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main

from bot.settings import Settings
from bot.cli.main import app

ROOT = Path(__file__).resolve().parents[1]
while not (ROOT / "pyproject.toml").exists():  # the tests tree may be nested one level deeper later
    ROOT = ROOT.parent
DEPLOY = ROOT / "docs" / "deploy.md"
SHELL_OPERATORS = {"&&", "||", "|", ";"}
LIVE_DATABASES = ("/var/lib/pitcrew/pitcrew.db", "/data/pitcrew.db")


def code_blocks(language: str | None = None) -> list[tuple[str, str]]:
    """(language, text) of every fenced block, or of those in `language`."""
    blocks = re.findall(r"^```(\w*)\n(.*?)^```", DEPLOY.read_text(), flags=re.DOTALL | re.MULTILINE)
    return [(lang, text) for lang, text in blocks if language is None or lang == language]


def command_lines() -> list[str]:
    """Every line of every block, continuation lines joined."""
    return [line for _, text in code_blocks() for line in text.replace("\\\n", " ").splitlines() if line.strip()]


def pitcrew_invocations(line: str) -> list[list[str]]:
    """The arguments after each console script (`.../bin/pitcrew`: it must start a command) and after each
    bare `pitcrew` followed by a command (the image, whose entrypoint is the script; elsewhere a bare
    `pitcrew` is a user, a container or a unit)."""
    words = shlex.split(line)
    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    found = []
    for index, word in enumerate(words):
        rest = words[index + 1:]
        if word.endswith("/bin/pitcrew"):
            assert rest and rest[0] in commands, f"not a pitcrew command: {line}"
        elif word != "pitcrew" or not rest or rest[0] not in commands:
            continue
        args = []
        for arg in rest:
            if arg in SHELL_OPERATORS or arg.startswith((">", "<", "2>")):
                break
            args.append(arg)
        found.append(args)
    return found


def parse_with_the_cli(args: list[str]) -> None:
    """Raises click's UsageError for an unknown option, a bad value or a missing argument (typer ships its own
    copy of click in recent versions, hence no `import click`)."""
    command = typer.main.get_command(app)
    path = ["pitcrew"]
    while hasattr(command, "commands"):  # a group
        assert args, f"`{' '.join(path)}` needs a subcommand"
        name, args = args[0], args[1:]
        assert name in command.commands, f"`{' '.join(path)} {name}` is not a command"
        command = command.commands[name]
        path.append(name)
    command.make_context(" ".join(path), list(args))


def test_every_pitcrew_command_in_the_guide_parses() -> None:
    invocations = [args for line in command_lines() for args in pitcrew_invocations(line)]
    assert len(invocations) >= 8
    assert {tuple(args[:2]) for args in invocations} >= {("serve",), ("snapshots", "rebuild"), ("snapshots", "show")}
    for args in invocations:
        parse_with_the_cli(args)


def test_the_check_catches_a_flag_that_does_not_exist() -> None:
    [args] = pitcrew_invocations("sudo -u pitcrew /opt/pitcrew/.venv/bin/pitcrew snapshots rebuild --quiet >> x.log")
    assert args == ["snapshots", "rebuild", "--quiet"]
    with pytest.raises(Exception) as raised:
        parse_with_the_cli(args)
    assert "UsageError" in {cls.__name__ for cls in type(raised.value).__mro__}, raised.value
    assert pitcrew_invocations("docker exec pitcrew pitcrew logs stats --days 7") == [["logs", "stats", "--days", "7"]]
    assert pitcrew_invocations("docker stop pitcrew") == []
    assert pitcrew_invocations("sudo -u pitcrew env --chdir=/var/lib/pitcrew A=1 /opt/p/bin/pitcrew serve") == [["serve"]]
    with pytest.raises(AssertionError, match="not a pitcrew command"):
        pitcrew_invocations("/opt/pitcrew/.venv/bin/pitcrew snapshot rebuild")


def unit() -> dict[str, list[str]]:
    [(_, text)] = code_blocks("ini")
    directives: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            directives.setdefault(key, []).append(value)
    return directives


def test_the_systemd_unit_runs_serve_and_waits_longer_than_the_shutdown_grace() -> None:
    directives = unit()
    assert directives["ExecStart"] == ["/opt/pitcrew/.venv/bin/pitcrew serve"]
    assert directives["EnvironmentFile"] == ["/etc/pitcrew/env"]
    assert directives["Restart"] == ["on-failure"] and directives["User"] == ["pitcrew"]
    assert int(directives["TimeoutStopSec"][0]) > Settings.model_fields["shutdown_grace_s"].default
    for assignment in directives["Environment"]:
        name = assignment.partition("=")[0]
        assert name.lower() in Settings.model_fields, f"Environment={name} is not a setting"
    # What the unit lets the process write is where the database and the logs are.
    environment = dict(assignment.partition("=")[::2] for assignment in directives["Environment"])
    assert environment["DATABASE_URL"] == "sqlite:////var/lib/pitcrew/pitcrew.db"
    assert directives["StateDirectory"] == ["pitcrew"] and environment["LOG_DIR"] == "/var/log/pitcrew"
    assert directives["LogsDirectory"] == ["pitcrew"] and directives["ProtectSystem"] == ["strict"]


def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    [(_, text)] = code_blocks("ini")
    # The one thing verify checks on this machine's files: that ExecStart is executable.
    script = Path(sys.executable).parent / "pitcrew"
    (tmp_path / "pitcrew.service").write_text(text.replace("/opt/pitcrew/.venv/bin/pitcrew", str(script)))
    result = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "pitcrew.service")],
                            check=False, capture_output=True, text=True, timeout=60)
    # Only its own complaints: verify also loads the host's targets, whose warnings are not this unit's.
    ours = [line for line in result.stderr.splitlines() if "pitcrew.service" in line]
    assert result.returncode == 0 and not ours, result.stderr


def test_crontab_lines_escape_percent_signs() -> None:
    cron_lines = [line for _, text in code_blocks("cron") for line in text.splitlines() if line.strip()]
    assert len(cron_lines) >= 4
    for line in cron_lines:
        assert not re.search(r"(?<!\\)%", line), f"cron turns an unescaped % into a newline: {line}"


def test_the_live_database_is_never_copied_with_cp() -> None:
    for line in command_lines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        segment: list[str] = []
        for word in [*lexer, ";"]:
            if word not in SHELL_OPERATORS:
                segment.append(word)
                continue
            if "cp" in segment[:3]:  # cp, sudo cp, docker cp
                assert not set(segment) & set(LIVE_DATABASES), f"cp of the live database: {line}"
            segment = []
    backups = [line for line in command_lines() if ".backup" in line or ".backup(" in line]
    assert any("sqlite3 /var/lib/pitcrew/pitcrew.db" in line for line in backups)
    assert any("src.backup(dst)" in line for line in backups)
