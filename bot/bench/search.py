"""Benchmark: call search over generated transcripts (100,000 segments; 10,000 with --quick).

    pitcrew bench --only search [--quick]
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
SEGMENTS_PER_CALL = 12
P95_TARGET_MS = 20.0


def run(quick: bool, workdir: Path) -> list[BenchResult]:
    segments = QUICK_SEGMENTS if quick else FULL_SEGMENTS
    label = f"{segments // 1000}k"
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    db = Database(f"sqlite:///{workdir / 'calls.db'}")
    try:
        generate(db, products=0, calls=segments // SEGMENTS_PER_CALL, segments_per_call=SEGMENTS_PER_CALL, now=now)
        with db.engine.connect() as connection:
            accounts = [name for (name,) in connection.exec_driver_sql("SELECT name FROM account ORDER BY id")]
        rng = random.Random(3)
        repeats = 200 if quick else 500
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
            (
                "latest_account",
                "no topic, latest calls of an account",
                lambda: search_calls(db, topic=None, account=rng.choice(accounts)),
            ),
        ]
        results = []
        for name, detail, call in cases:
            samples = time_calls(call, repeats, warmup=20)
            p50, p95, p99 = percentiles(samples)
            results.append(
                BenchResult(
                    name=f"search.{name}.{label}",
                    unit="ms",
                    p50=round(p50, 3),
                    p95=round(p95, 3),
                    p99=round(p99, 3),
                    target=f"p95 < {P95_TARGET_MS:g} ms",
                    passed=p95 < P95_TARGET_MS,
                    detail=f"{detail}; {segments:,} segments, {len(accounts):,} accounts",
                )
            )
        return results
    finally:
        db.close()
