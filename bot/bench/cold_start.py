"""Cold start: how long a fresh `pitcrew` process keeps a person, or a deployment, waiting.

Each row is the wall time of a new process, from spawning it, over several runs (p50 judged: a start is
a one-off wait, and the other helpers' load on a shared machine shows in p95):

- `cold_start.help`: `pitcrew --help` until it exits.
- `cold_start.ask_hi`: `pitcrew ask hi` on the demo data until it exits (the reply printed).
- `cold_start.serve_healthz.demo`: `pitcrew serve` (HTTP events, a loopback Slack API answering
  `auth.test`) until `GET /healthz` answers 200, polled every few milliseconds; the same at
  `.100k` on a generated 100,000-product catalog with its snapshots built (`.2k` with `--quick`).

Every process runs as `python -m bot.cli` with this interpreter, on scratch databases and logs. Each
row starts with an empty user cache folder of its own and one untimed run, which fills it (the checked
patterns, see `control_plane.pattern_cache`) as any earlier run would have; that first start's time,
as after an install, is given in the row's detail. Whether Python could reuse its bytecode is given
too: under PYTHONDONTWRITEBYTECODE an editable install compiles every module of pitcrew at every start.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
from aiohttp import web

from bot.bench.core import BenchResult, percentiles
from bot.bench.providers import LoopbackServer
from bot.bench.slack import generated_catalog

HELP_TARGET_S = 0.4
ASK_TARGET_S = 0.8
SERVE_DEMO_TARGET_S = 1.5
SERVE_CATALOG_TARGET_S = 4.0
FULL_PRODUCTS = 100_000
QUICK_PRODUCTS = 2_000
POLL_S = 0.005  # between /healthz attempts
START_TIMEOUT_S = 120.0
BOT_TOKEN = "xoxb-bench-0000-not-a-real-token"
SIGNING_SECRET = "bench-signing-secret-not-real"


class AuthOnlySlack(LoopbackServer):
    """Slack's Web API as far as a starting `pitcrew serve` needs it: `auth.test` (any other method: ok)."""

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/api/{method}", self._method)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    async def _method(self, request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"ok": True, "team_id": "T0BENCH", "user_id": "UBENCHBOT", "bot_id": "BBENCH",
                                  "team": "bench", "user": "pitcrew", "url": "https://bench.slack.com/"})


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _environment(workdir: Path, database: Path, row: str) -> dict[str, str]:
    """The environment of one row's processes: its database, scratch logs, an empty user cache of its own."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("SLACK_", "OPENAI_", "DATABASE_", "LOG_", "XDG_CACHE_HOME"))}
    env.update({"DATABASE_URL": f"sqlite:///{database}", "LOG_DIR": str(workdir / "logs"),
                "XDG_CACHE_HOME": str(workdir / f"cache-{row}")})
    return env


def _timed_run(command: list[str], env: dict[str, str], cwd: Path) -> float:
    """Seconds from spawning `command` to its exit (which must be 0)."""
    started = time.perf_counter()
    completed = subprocess.run(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               timeout=START_TIMEOUT_S, check=False)
    seconds = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(f"{' '.join(command[2:])} exited {completed.returncode}: "
                           f"{completed.stderr.decode(errors='replace')[-300:]}")
    return seconds


async def _time_to_healthy(command: list[str], env: dict[str, str], cwd: Path, port: int,
                           http: aiohttp.ClientSession) -> float:
    """Seconds from spawning `pitcrew serve` to its first 200 on /healthz; the process is stopped after."""
    stderr_path = cwd / "serve.stderr"
    with stderr_path.open("wb") as stderr:
        started = time.perf_counter()
        process = await asyncio.create_subprocess_exec(*command, env=env, cwd=cwd, stdout=asyncio.subprocess.DEVNULL,
                                                       stderr=stderr)
    try:
        while time.perf_counter() - started < START_TIMEOUT_S:
            if process.returncode is not None:
                raise RuntimeError(f"pitcrew serve exited {process.returncode}: "
                                   f"{stderr_path.read_text(errors='replace')[-300:]}")
            try:
                async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                    if response.status == 200:
                        return time.perf_counter() - started
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(POLL_S)
        raise RuntimeError(f"pitcrew serve did not answer /healthz within {START_TIMEOUT_S:.0f} s")
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), timeout=30)
            except TimeoutError:
                process.kill()
                await process.wait()


def _bytecode_note() -> str:
    if not sys.dont_write_bytecode:
        return "bytecode cached"
    return "PYTHONDONTWRITEBYTECODE: modules without bytecode are compiled at every start"


def _row(name: str, samples: list[float], target_s: float, detail: str) -> BenchResult:
    p50, p95, p99 = percentiles(samples)
    return BenchResult(name=name, unit="s", p50=round(p50, 3), p95=round(p95, 3), p99=round(p99, 3),
                       target=f"p50 < {target_s:g} s", passed=p50 < target_s, detail=detail)


def _demo(path: Path) -> None:
    from knowledge.db import Database
    from knowledge.demo import ensure_demo_data

    db = Database(f"sqlite:///{path}")
    try:
        ensure_demo_data(db)
    finally:
        db.close()


async def _serve_rows(workdir: Path, runs: int, databases: list[tuple[str, Path, float, str]]) -> list[BenchResult]:
    results = []
    async with AuthOnlySlack() as slack, aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
        for label, database, target_s, what in databases:
            env = _environment(workdir, database, f"serve-{label}")
            env.update({"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                        "SLACK_API_URL": slack.api_url, "LOG_LEVEL": "INFO"})
            samples = []
            first = 0.0
            for attempt in range(runs + 1):
                port = _free_port()
                command = [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
                seconds = await _time_to_healthy(command, env, workdir, port, http)
                if attempt == 0:
                    first = seconds
                else:
                    samples.append(seconds)
            results.append(_row(f"cold_start.serve_healthz.{label}", samples, target_s,
                                f"`pitcrew serve` (HTTP, loopback Slack) to the first 200 on /healthz, {what}; "
                                f"{runs} runs; first start with an empty user cache {first:.2f} s; {_bytecode_note()}"))
    return results


def run(quick: bool, workdir: Path) -> list[BenchResult]:
    runs = 3 if quick else 9
    serve_runs = 2 if quick else 5
    products = QUICK_PRODUCTS if quick else FULL_PRODUCTS
    demo_db, catalog_db = workdir / "demo.db", workdir / "catalog.db"
    _demo(demo_db)
    results = []
    for name, arguments, target_s, what in (
        ("help", ["--help"], HELP_TARGET_S, "`pitcrew --help` until it exits"),
        ("ask_hi", ["ask", "hi"], ASK_TARGET_S, "`pitcrew ask hi` on the demo data until it exits"),
    ):
        command = [sys.executable, "-m", "bot.cli", *arguments]
        env = _environment(workdir, demo_db, name)
        first = _timed_run(command, env, workdir)  # fills the user cache, as any earlier run would have
        samples = [_timed_run(command, env, workdir) for _ in range(runs)]
        results.append(_row(f"cold_start.{name}", samples, target_s,
                            f"{what}; {runs} runs; first start with an empty user cache {first:.2f} s; "
                            f"{_bytecode_note()}"))
    catalog_started = time.perf_counter()
    generated_catalog(catalog_db, products=products, calls=200)
    catalog_s = time.perf_counter() - catalog_started
    label = f"{products // 1000}k"
    results += asyncio.run(_serve_rows(workdir, serve_runs, [
        ("demo", demo_db, SERVE_DEMO_TARGET_S, "demo data"),
        (label, catalog_db, SERVE_CATALOG_TARGET_S,
         f"a generated {products:,}-product catalog with its snapshots built ({catalog_s:.0f} s to make)"),
    ]))
    return results
