"""The Dockerfile agrees with the code: its command is a real `pitcrew` command, its port and ENV are
pitcrew's settings, and that command with that environment starts, answers its HEALTHCHECK and stops on
its STOPSIGNAL. The image itself is built and run only where a Docker daemon answers."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.settings import Settings
from tests.support.fake_slack import BOT_TOKEN, FakeSlack
from tests.support.slack_stack import SIGNING_SECRET

ROOT = Path(__file__).resolve().parents[1]
while not (ROOT / "pyproject.toml").exists():  # the tests tree may be nested one level deeper later
    ROOT = ROOT.parent
DOCKERFILE = ROOT / "Dockerfile"

# What python:3.11-slim itself sets, under the image's own ENV (PATH's "$PATH" expands to the host's here).
BASE_IMAGE_ENV = {"LANG": "C.UTF-8"}
# ENV names that are not pitcrew settings but the interpreter's or the shell's.
PROCESS_ENV = {"PATH"}


@dataclass
class Stage:
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)  # (INSTRUCTION, arguments), in order

    def all(self, name: str) -> list[str]:
        return [args for instruction, args in self.instructions if instruction == name]

    def one(self, name: str) -> str:
        found = self.all(name)
        assert len(found) == 1, f"expected one {name} in the final stage, found {len(found)}"
        return found[0]


def parse_dockerfile(text: str) -> list[Stage]:
    """The build stages, each with its instructions: continuation lines joined, comments dropped."""
    logical, current = [], ""
    for line in text.splitlines():
        if line.lstrip().startswith("#"):  # a comment, also between continuation lines (Docker drops them)
            continue
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1] + " "
            continue
        current += line
        if current.strip():
            logical.append(current.strip())
        current = ""
    stages: list[Stage] = []
    for line in logical:
        instruction, _, args = line.partition(" ")
        instruction, args = instruction.upper(), args.strip()
        if instruction == "FROM":
            stages.append(Stage(base=args.split()[0]))
        else:
            assert stages, f"{instruction} before FROM"
            stages[-1].instructions.append((instruction, args))
    return stages


def exec_form(args: str) -> list[str]:
    """A JSON-array (exec form) argument list; the shell form would put /bin/sh in front of PID 1."""
    assert args.startswith("["), f"not in exec form: {args}"
    parsed = json.loads(args)
    assert isinstance(parsed, list) and all(isinstance(part, str) for part in parsed)
    return parsed


def env_of(stage: Stage) -> dict[str, str]:
    """Every ENV of the stage as NAME -> raw value (both `ENV A=1 B=2` and the legacy `ENV A 1`)."""
    env: dict[str, str] = {}
    for args in stage.all("ENV"):
        words = shlex.split(args)
        if "=" in words[0]:
            for word in words:
                name, _, value = word.partition("=")
                env[name] = value
        else:
            env[words[0]] = args.split(None, 1)[1]
    return env


def expand(value: str, variables: dict[str, str]) -> str:
    return re.sub(r"\$\{?(\w+)\}?", lambda match: variables.get(match.group(1), ""), value)


@dataclass
class Image:
    """What the final stage says about the container."""

    env: dict[str, str]
    volume: str
    workdir: str
    expose: list[int]
    entrypoint: list[str]
    cmd: list[str]
    healthcheck: list[str]
    healthcheck_options: str
    stopsignal: str
    user: str
    venv: str  # the virtualenv the build stage installs pitcrew into


def read_image() -> Image:
    stages = parse_dockerfile(DOCKERFILE.read_text())
    final = stages[-1]
    [volume] = exec_form(final.one("VOLUME"))
    options, _, command = final.one("HEALTHCHECK").partition("CMD ")
    venvs = {match.group(1) for stage in stages for args in stage.all("RUN")
             for match in re.finditer(r"python -m venv (\S+)", args)}
    assert len(venvs) == 1, f"expected one `python -m venv DIR` in the build, found {venvs}"
    return Image(
        env=env_of(final), volume=volume, workdir=final.all("WORKDIR")[-1],
        expose=[int(port.split("/")[0]) for args in final.all("EXPOSE") for port in args.split()],
        entrypoint=exec_form(final.one("ENTRYPOINT")), cmd=exec_form(final.one("CMD")),
        healthcheck=exec_form(command.strip()), healthcheck_options=options.strip(),
        stopsignal=final.one("STOPSIGNAL"), user=final.all("USER")[-1], venv=venvs.pop(),
    )


def console_scripts() -> dict[str, str]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]


# ----- the Dockerfile read against the code


def test_the_parser_reads_continuations_comments_and_both_env_forms() -> None:
    stages = parse_dockerfile("FROM a AS b\nRUN one \\\n# dropped\n    two\nFROM c\nENV A=1 B=\"x y\"\nENV C 3 4\n")
    assert [stage.base for stage in stages] == ["a", "c"]
    assert stages[0].instructions == [("RUN", "one      two")]
    assert env_of(stages[1]) == {"A": "1", "B": "x y", "C": "3 4"}
    assert expand("/v/bin:$PATH:${HOME}", {"PATH": "/usr/bin", "HOME": "/h"}) == "/v/bin:/usr/bin:/h"


def test_the_image_runs_the_pitcrew_console_script_as_a_non_root_user() -> None:
    image = read_image()
    assert parse_dockerfile(DOCKERFILE.read_text())[-1].base == "python:3.11-slim"
    # The ENTRYPOINT is the console script pyproject installs, which is what `python -m bot.cli` runs too.
    assert image.entrypoint == ["pitcrew"]
    assert console_scripts()["pitcrew"] == "bot.cli.main:main"
    assert "from bot.cli.main import main" in (ROOT / "bot" / "cli" / "__main__.py").read_text()
    assert image.env["PATH"].split(":")[0] == f"{image.venv}/bin"
    assert image.user.split(":")[0] not in {"root", "0"}


def test_the_cmd_is_a_pitcrew_command_that_exists() -> None:
    image = read_image()
    assert image.cmd == ["serve"]
    result = subprocess.run([sys.executable, "-m", "bot.cli", *image.cmd, "--help"],
                            check=False, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "--port" in result.stdout and "--host" in result.stdout


def test_a_pitcrew_command_that_does_not_exist_fails_the_same_check() -> None:
    result = subprocess.run([sys.executable, "-m", "bot.cli", "serv", "--help"],
                            check=False, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0


def test_the_exposed_port_is_the_settings_default_port() -> None:
    image = read_image()
    default_port = Settings.model_fields["port"].default
    assert image.expose == [default_port]
    assert int(image.env.get("PORT", default_port)) == default_port


def test_every_env_name_is_a_setting_and_the_data_lives_in_the_volume() -> None:
    image = read_image()
    unknown = [name for name in image.env if name not in PROCESS_ENV and name.lower() not in Settings.model_fields]
    assert not unknown, f"ENV names that are not pitcrew settings (typos are silently ignored): {unknown}"
    assert image.env["DATABASE_URL"] == f"sqlite:///{image.volume}/pitcrew.db"
    assert image.env["LOG_DIR"].startswith(image.volume + "/")
    assert image.workdir == image.volume
    # The settings accept these values as they are.
    Settings(**{name.lower(): value for name, value in image.env.items() if name not in PROCESS_ENV},
             _env_file=None)


def test_the_healthcheck_asks_healthz_and_the_stop_signal_is_sigterm() -> None:
    image = read_image()
    assert image.healthcheck[0] == "python" and image.healthcheck[1] == "-c"
    assert "http://127.0.0.1:" in image.healthcheck[2] and "/healthz" in image.healthcheck[2]
    assert image.stopsignal == "SIGTERM"
    timeout = re.search(r"--timeout=(\d+)s", image.healthcheck_options)
    urlopen_timeout = re.search(r"timeout=(\d+)\)", image.healthcheck[2])
    assert timeout and urlopen_timeout
    # urlopen gives up first, so a hung server reads as "unhealthy", not as Docker killing the check.
    assert int(urlopen_timeout.group(1)) < int(timeout.group(1))


# ----- the container's command and environment, run here without the image


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def container_env(image: Image, volume: Path, fake: FakeSlack, port: int) -> dict[str, str]:
    """The image's environment with its paths moved into `volume` and this test's virtualenv, plus
    what `docker run --env-file` would add: Slack credentials (fake) and a free port."""
    variables = {**BASE_IMAGE_ENV, "PATH": os.environ.get("PATH", "")}
    env = dict(BASE_IMAGE_ENV)
    for name, value in image.env.items():
        value = expand(value, variables)
        value = value.replace(image.volume, str(volume)).replace(f"{image.venv}/bin", str(Path(sys.executable).parent))
        env[name] = variables[name] = value
    env["HOME"] = str(volume)  # Docker sets HOME from the user's /etc/passwd entry (its home is the volume)
    env.update({"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                "SLACK_API_URL": fake.api_url, "PORT": str(port)})
    return env


async def run_healthcheck(image: Image, env: dict[str, str]) -> int:
    """The HEALTHCHECK command as Docker runs it: its exit code (0 healthy, 1 unhealthy)."""
    python = shutil.which(image.healthcheck[0], path=env["PATH"])
    assert python is not None, f"{image.healthcheck[0]} is not on the image's PATH"
    check = await asyncio.create_subprocess_exec(python, *image.healthcheck[1:], env=env,
                                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return await check.wait()


@pytest.mark.slow
async def test_the_containers_command_and_environment_serve_healthz_and_stop_on_the_stop_signal(
        fake_slack: FakeSlack, tmp_path: Path) -> None:
    image = read_image()
    volume = tmp_path / "volume"  # what a fresh volume is: an empty directory the user owns
    volume.mkdir()
    port = free_port()
    env = container_env(image, volume, fake_slack, port)
    assert await run_healthcheck(image, env) != 0  # nothing listens yet: the check can fail

    executable = shutil.which(image.entrypoint[0], path=env["PATH"])
    assert executable is not None, f"{image.entrypoint[0]} is not on the image's PATH"
    # 127.0.0.1 instead of serve's default 0.0.0.0: in the container that is its own network namespace.
    argv = [executable, *image.entrypoint[1:], *image.cmd, "--host", "127.0.0.1"]
    output = tmp_path / "serve.out"
    with output.open("wb") as sink:  # a file, not a pipe nobody reads
        process = await asyncio.create_subprocess_exec(*argv, env=env, cwd=str(volume), stdout=sink, stderr=sink)
    try:
        deadline = time.monotonic() + 60
        while await run_healthcheck(image, env) != 0:
            assert process.returncode is None, f"serve exited {process.returncode}: {output.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"serve never became healthy: {output.read_text()[-3000:]}"
            await asyncio.sleep(0.2)
        health = await asyncio.to_thread(_get_json, f"http://127.0.0.1:{port}/healthz")
        assert health["status"] == "ok" and health["database"] == "ok"
        assert health["knowledge_revision"] >= 1  # the empty volume got the demo knowledge base
        assert (volume / "pitcrew.db").exists() and list((volume / "logs").glob("*.log"))

        process.send_signal(getattr(signal, image.stopsignal))
        await asyncio.wait_for(process.wait(), timeout=30)
        assert process.returncode == 0, output.read_text()[-3000:]
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def _get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200
        return json.loads(response.read())


# ----- the image itself, where a Docker daemon answers


def docker_unavailable() -> str | None:
    """Why the image cannot be built here, or None."""
    if shutil.which("docker") is None:
        return "no docker client on PATH"
    try:
        info = subprocess.run(["docker", "info"], check=False, capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        return "`docker info` did not answer within 30 s"
    if info.returncode != 0:
        reason = (info.stderr.strip().splitlines() or ["no output"])[-1]
        return f"no Docker daemon (`docker info` failed: {reason})"
    return None


def docker(*args: str, timeout: float = 120) -> str:
    result = subprocess.run(["docker", *args], check=False, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"docker {args[0]} failed: {result.stderr[-3000:]}"
    return result.stdout.strip()


@pytest.mark.slow
async def test_the_built_image_becomes_healthy_and_stops_cleanly(fake_slack: FakeSlack) -> None:
    reason = docker_unavailable()
    if reason is not None:
        pytest.skip(f"the image is not built: {reason}")
    tag = f"pitcrew-test:{uuid.uuid4().hex[:12]}"
    port = free_port()
    await asyncio.to_thread(docker, "build", "--tag", tag, str(ROOT), timeout=1800)
    container = ""
    try:
        # Host networking: the fake Slack listens on 127.0.0.1 only; --host keeps serve there too.
        # The health check runs more often than the image's 30 s, unchanged otherwise.
        container = await asyncio.to_thread(
            docker, "run", "--detach", "--network", "host", "--health-interval", "1s", "--stop-timeout", "30",
            "--env", f"SLACK_BOT_TOKEN={BOT_TOKEN}", "--env", f"SLACK_SIGNING_SECRET={SIGNING_SECRET}",
            "--env", f"SLACK_API_URL={fake_slack.api_url}", "--env", f"PORT={port}",
            tag, "serve", "--host", "127.0.0.1")
        deadline = time.monotonic() + 120
        while (status := await asyncio.to_thread(docker, "inspect", "--format", "{{.State.Health.Status}}",
                                                 container)) != "healthy":
            logs = await asyncio.to_thread(docker, "logs", container)
            assert status in ("starting", ""), f"container is {status}: {logs[-3000:]}"
            assert time.monotonic() < deadline, f"container never became healthy: {logs[-3000:]}"
            await asyncio.sleep(1)
        health = await asyncio.to_thread(_get_json, f"http://127.0.0.1:{port}/healthz")
        assert health["status"] == "ok" and health["database"] == "ok"
        assert await asyncio.to_thread(docker, "exec", container, "id", "-u") != "0"
        await asyncio.to_thread(docker, "stop", container, timeout=60)
        assert await asyncio.to_thread(docker, "inspect", "--format", "{{.State.ExitCode}}", container) == "0"
    finally:
        if container:
            await asyncio.to_thread(subprocess.run, ["docker", "rm", "--force", "--volumes", container],
                                    check=False, capture_output=True, timeout=60)
        await asyncio.to_thread(subprocess.run, ["docker", "image", "rm", "--force", tag],
                                check=False, capture_output=True, timeout=60)
