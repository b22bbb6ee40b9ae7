"""Benchmark: call search over generated transcripts.

    pitcrew bench --only search [--quick]

`search.*`: 100,000 transcript segments (10,000 with --quick), target p95 < 20 ms.
`search_1m.*`: 1,000,000 segments (100,000 with --quick, and the rows say so), target p95 < 40 ms.
Each size is generated once per run (bulk inserts, the FTS5 index built once at the end), then searched
by topic, by topic and account, by topic in a 90-day window (and, at 100k, an account's latest calls).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.bench.core import BenchResult, percentiles, time_calls
from knowledge.db import Database
from knowledge.generate import TOPICS, generate
from knowledge.search import search_calls

FULL_SEGMENTS = 100_000
QUICK_SEGMENTS = 10_000
MILLION_SEGMENTS = 1_000_000
QUICK_MILLION_SEGMENTS = 100_000  # --quick keeps the whole run under its budget: generating 1M takes ~15 s
SEGMENTS_PER_CALL = 12
P95_TARGET_MS = 20.0
MILLION_P95_TARGET_MS = 40.0


def run(quick: bool, workdir: Path) -> list[BenchResult]:
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    results = _search(workdir / "calls.db", QUICK_SEGMENTS if quick else FULL_SEGMENTS, now,
                      repeats=200 if quick else 500, latest=True)
    million = QUICK_MILLION_SEGMENTS if quick else MILLION_SEGMENTS
    results += _search(workdir / "calls-1m.db", million, now, repeats=100 if quick else 400, latest=False,
                       prefix="search_1m", target_ms=MILLION_P95_TARGET_MS,
                       note="" if million == MILLION_SEGMENTS else f"--quick: {million:,} segments, not 1M")
    return results


def _search(path: Path, segments: int, now: datetime, *, repeats: int, latest: bool, prefix: str = "search",
            target_ms: float = P95_TARGET_MS, note: str = "") -> list[BenchResult]:
    """Generate `segments` transcript segments into a new database at `path`, then time each kind of search."""
    db = Database(f"sqlite:///{path}")
    try:
        generate(db, products=0, calls=segments // SEGMENTS_PER_CALL, segments_per_call=SEGMENTS_PER_CALL, now=now)
        with db.engine.connect() as connection:
            accounts = [name for (name,) in connection.exec_driver_sql("SELECT name FROM account ORDER BY id")]
        rng = random.Random(3)
        cases: list[tuple[str, str, Callable[[], object]]] = [
            ("topic", "topic only", lambda: search_calls(db, topic=rng.choice(TOPICS))),
            (
                "topic_account",
                "topic and account",
                lambda: search_calls(db, topic=rng.choice(TOPICS), account=rng.choice(accounts)),
            ),
            (
                "topic_window",
                "topic in the last 90 days",
                lambda: search_calls(db, topic=rng.choice(TOPICS), start=now - timedelta(days=90), end=now),
            ),
        ]
        if latest:
            cases.append(("latest_account", "no topic, latest calls of an account",
                          lambda: search_calls(db, topic=None, account=rng.choice(accounts))))
        label = f".{segments // 1000}k" if prefix == "search" else ""
        size = f"{segments:,} segments, {len(accounts):,} accounts" + (f" ({note})" if note else "")
        results = []
        for name, detail, call in cases:
            p50, p95, p99 = percentiles(time_calls(call, repeats, warmup=20))
            results.append(
                BenchResult(
                    name=f"{prefix}.{name}{label}",
                    unit="ms",
                    p50=round(p50, 3),
                    p95=round(p95, 3),
                    p99=round(p99, 3),
                    target=f"p95 < {target_ms:g} ms",
                    passed=p95 < target_ms,
                    detail=f"{detail}; {size}",
                )
            )
        return results
    finally:
        db.close()
