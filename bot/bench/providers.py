"""Fake providers (an LLM, Slack's Web API) served from a process of their own, as real ones are.

A fake served from the benchmark's own event loop would queue its work with the load generator's:
pitcrew's LLM and Slack calls would delay the very measurements they are part of, and the reverse.
The child process prints nothing and stops when the context ends; `perf_counter` is the system-wide
monotonic clock on Linux, so times taken there compare with times taken here.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import queue
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager, contextmanager
from typing import Any, Protocol, Self

from aiohttp import web

START_TIMEOUT_S = 60.0


class Served(Protocol):
    """What a provider factory's context yields: the base URLs it serves, by name."""

    urls: dict[str, str]


async def serve_on_loopback(app: web.Application) -> tuple[web.AppRunner, int]:
    """Serve `app` on a free port of 127.0.0.1; returns its runner (clean it up when done) and the port."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, int(runner.addresses[0][1])


class LoopbackServer:
    """A fake provider served on a free port of 127.0.0.1 for as long as its `async with` lasts;
    subclasses add their routes in `routes` and read `port` once started."""

    port = 0
    _runner: web.AppRunner | None = None

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        app = web.Application()
        self.routes(app)
        self._runner, self.port = await serve_on_loopback(app)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


# A picklable (module-level) callable: it is called again in the child process.
ProviderFactory = Callable[..., AbstractAsyncContextManager[Served]]


def _serve(factory: ProviderFactory, args: tuple[Any, ...], urls: multiprocessing.Queue, stop: Any) -> None:
    async def serve() -> None:
        async with factory(*args) as served:
            urls.put(served.urls)
            while not stop.is_set():
                await asyncio.sleep(0.05)

    asyncio.run(serve())


@contextmanager
def provider_process(factory: ProviderFactory, *args: Any) -> Iterator[dict[str, str]]:
    """Run `factory(*args)` in a child process for the duration of the block; yields its URLs."""
    context = multiprocessing.get_context("spawn")
    urls, stop = context.Queue(), context.Event()
    process = context.Process(target=_serve, args=(factory, args, urls, stop), daemon=True)
    process.start()
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:  # wait for its addresses, or for it to die trying
            try:
                served: dict[str, str] = urls.get(timeout=0.2)
                break
            except queue.Empty:
                if not process.is_alive() or time.monotonic() > deadline:
                    raise RuntimeError(f"the fake provider process ({factory.__name__}) did not start") from None
        yield served
    finally:
        stop.set()
        process.join(timeout=5)
        if process.is_alive():
            process.kill()
