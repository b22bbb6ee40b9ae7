"""Benchmark: product snapshot reads (fast vs slow path) and rebuilds (full and incremental).

    pitcrew bench --only snapshots [--quick]

Reads run on the demo knowledge base and on a generated catalog of 10,000 products (1,000 with
--quick); the slow path is measured on the same data after the snapshots are deleted. The rebuilds are
timed again on PostgreSQL (a scratch database on the local server or PG_BENCH_URL; left out, with the
reason, when none answers).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from bot.bench.core import BenchResult, percentiles, time_calls
from bot.bench.postgres import PostgresUnavailable, scratch_postgres
from knowledge.db import Database
from knowledge.demo import ensure_demo_data
from knowledge.generate import generate
from knowledge.reader import read_product
from knowledge.snapshots import rebuild_snapshots

FULL_CATALOG = 10_000
QUICK_CATALOG = 1_000
FULL_REBUILD_TARGET_S = 20.0  # for 10,000 products; scaled down with the catalog
INCREMENTAL_TARGET_S = 2.0
FAST_P95_TARGET_MS = 0.5
MIN_SPEEDUP = 5.0


def run(quick: bool, workdir: Path) -> list[BenchResult]:
    with _quiet("knowledge"):  # the slow path logs a warning per read, rebuilds log their reports
        results = _demo_reads(workdir, quick)
        results += _catalog(workdir, quick)
        results += _postgresql_rebuilds(quick)
    return results


def _demo_reads(workdir: Path, quick: bool) -> list[BenchResult]:
    db = Database(f"sqlite:///{workdir / 'demo.db'}")
    try:
        ensure_demo_data(db)
        rebuild_snapshots(db)
        keys = _alias_keys(db)
        return _reads(db, "demo", keys, fast_repeats=500 if quick else 3000, slow_repeats=100 if quick else 500)
    finally:
        db.close()


def _catalog(workdir: Path, quick: bool) -> list[BenchResult]:
    products = QUICK_CATALOG if quick else FULL_CATALOG
    label = f"{products // 1000}k"
    db = Database(f"sqlite:///{workdir / 'catalog.db'}")
    try:
        results = _rebuilds(db, products, quick, "")
        rng = random.Random(7)
        keys = [name for (name,) in _rows(db, "SELECT name FROM product")]
        keys = rng.sample(keys, min(len(keys), 2000))
        results += _reads(db, label, keys, fast_repeats=500 if quick else 3000, slow_repeats=20 if quick else 60)
        return results
    finally:
        db.close()


def _rebuilds(db: Database, products: int, quick: bool, suffix: str) -> list[BenchResult]:
    """Generate the catalog into the empty `db`, then time full and unchanged rebuilds (rows named ...`suffix`)."""
    label = f"{products // 1000}k"
    scale = products / FULL_CATALOG
    generated = generate(db, products=products, seed=1)
    catalog_rows = sum(generated.rows.values())

    full = [_timed(lambda: _expect(rebuild_snapshots(db), built=products))]
    if not quick:  # a second full build, forced, now replacing every existing snapshot
        full.append(_timed(lambda: _expect(rebuild_snapshots(db, force=True), built=products)))
    incremental = [_timed(lambda: _expect(rebuild_snapshots(db), built=0)) for _ in range(3 if quick else 5)]
    full_target = FULL_REBUILD_TARGET_S * scale
    incremental_target = INCREMENTAL_TARGET_S * scale
    where = " on PostgreSQL" if suffix else ""
    return [
        _result(
            f"rebuild.full.{label}{suffix}",
            "s",
            full,
            f"< {full_target:g} s for {products:,} products",
            max(full) < full_target,
            f"{catalog_rows:,} source rows{where} (generated in {generated.seconds:.1f} s); first build"
            + (" and a forced rebuild" if not quick else ""),
        ),
        _result(
            f"rebuild.incremental_unchanged.{label}{suffix}",
            "s",
            incremental,
            f"< {incremental_target:g} s for {products:,} products",
            max(incremental) < incremental_target,
            f"nothing changed{where}: source hashes compared, nothing written",
        ),
    ]


def _postgresql_rebuilds(quick: bool) -> list[BenchResult]:
    try:
        with scratch_postgres("snapshots") as url:
            db = Database(url)
            try:
                return _rebuilds(db, QUICK_CATALOG if quick else FULL_CATALOG, quick, ".postgresql")
            finally:
                db.close()
    except PostgresUnavailable as exc:
        return [BenchResult(name="rebuild.postgresql", unit="-", p50=0, p95=0, p99=0, target="a PostgreSQL server",
                            passed=False, detail=str(exc))]


def _reads(db: Database, label: str, keys: list[str], *, fast_repeats: int, slow_repeats: int) -> list[BenchResult]:
    fast = time_calls(_reader(db, keys, "fast"), fast_repeats, warmup=50)
    with db.engine.begin() as connection:
        connection.exec_driver_sql("DELETE FROM productsnapshot")
    slow = time_calls(_reader(db, keys, "slow"), slow_repeats, warmup=5)
    fast_p = percentiles(fast)
    slow_p = percentiles(slow)
    speedup = tuple(s / f for s, f in zip(slow_p, fast_p, strict=True))
    return [
        _result(
            f"snapshot_read.fast.{label}",
            "ms",
            fast,
            f"p95 < {FAST_P95_TARGET_MS} ms",
            fast_p[1] < FAST_P95_TARGET_MS,
            f"one query by name, {len(keys)} keys",
        ),
        _result(f"snapshot_read.slow.{label}", "ms", slow, "for comparison", True, "assembled from the catalog"),
        BenchResult(
            name=f"snapshot_read.speedup.{label}",
            unit="ratio",
            p50=round(speedup[0], 1),
            p95=round(speedup[1], 1),
            p99=round(speedup[2], 1),
            target=f"fast >= {MIN_SPEEDUP:g}x faster than slow (p50)",
            passed=speedup[0] >= MIN_SPEEDUP,
            detail="slow percentile / fast percentile",
        ),
    ]


def _reader(db: Database, keys: list[str], path: str) -> Callable[[], None]:
    cycle = iter(_forever(keys))

    def read() -> None:
        view = read_product(db, next(cycle))
        if view is None or view.path != path:
            raise RuntimeError(f"expected a {path}-path read, got {view and view.path}")

    return read


def _forever(keys: list[str]) -> Iterator[str]:
    while True:
        yield from keys


def _alias_keys(db: Database) -> list[str]:
    """Every name the demo answers to: product names and slugs, plan names (as a user types them)."""
    names = _rows(db, "SELECT name, slug FROM product UNION SELECT name, name FROM plan")
    return sorted({key for row in names for key in row})


def _rows(db: Database, sql: str) -> list[tuple]:
    with db.engine.connect() as connection:
        return [tuple(row) for row in connection.exec_driver_sql(sql)]


def _expect(report: object, *, built: int) -> None:
    if getattr(report, "built", None) != built or getattr(report, "failed", 1) != 0:
        raise RuntimeError(f"unexpected rebuild report {report}")


def _timed(action: Callable[[], None]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def _result(name: str, unit: str, samples: list[float], target: str, passed: bool, detail: str) -> BenchResult:
    p50, p95, p99 = percentiles(samples)
    digits = 4 if unit == "ms" else 3
    return BenchResult(name, unit, round(p50, digits), round(p95, digits), round(p99, digits), target, passed, detail)


@contextmanager
def _quiet(logger_name: str) -> Iterator[None]:
    logger = logging.getLogger(logger_name)
    previous = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(previous)
