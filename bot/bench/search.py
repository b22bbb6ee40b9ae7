"""Benchmark: call search over generated transcripts.

    pitcrew bench --only search [--quick]

`search.*`: 100,000 transcript segments (10,000 with --quick), target p95 < 20 ms.
`search.postgres.*`: the same calls on PostgreSQL (a scratch database on the local server or PG_BENCH_URL,
dropped after), target p95 < 20 ms; without a server, one row says so.
`search_1m.*`: 1,000,000 segments (100,000 with --quick, and the rows say so), target p95 < 40 ms.
Each size is generated once per run (bulk inserts, the FTS5 index built once at the end), then searched
by topic, by topic and account, by topic in a 90-day window (and, at 100k, an account's latest calls).
PostgreSQL gets the 100k calls copied from the SQLite file in bulk (COPY), then VACUUM ANALYZE, as
autovacuum would leave a loaded table (statistics, the GIN index's pending entries merged).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
import sqlite3
from pathlib import Path

from sqlalchemy import text

from bot.bench.core import BenchResult, percentiles, time_calls
from bot.bench.postgres import PostgresUnavailable, scratch_postgres
from knowledge.db import Database
from knowledge.generate import TOPICS, generate
from knowledge.models import Account, Contact, Meeting, TranscriptSegment
from knowledge.search import search_calls

FULL_SEGMENTS = 100_000
QUICK_SEGMENTS = 10_000
MILLION_SEGMENTS = 1_000_000
QUICK_MILLION_SEGMENTS = 100_000  # --quick keeps the whole run under its budget: generating 1M takes ~15 s
SEGMENTS_PER_CALL = 12
P95_TARGET_MS = 20.0
MILLION_P95_TARGET_MS = 40.0


# The tables a generated call history fills, parents first: what PostgreSQL gets copied.
CALL_TABLES = (Account, Contact, Meeting, TranscriptSegment)


def run(quick: bool, workdir: Path) -> list[BenchResult]:
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    segments, repeats = (QUICK_SEGMENTS, 200) if quick else (FULL_SEGMENTS, 500)
    results = _search(workdir / "calls.db", segments, now, repeats=repeats, latest=True)
    results += _search_postgres(workdir / "calls.db", segments, now, repeats=repeats)
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
        return _timed(db, segments, now, repeats=repeats, latest=latest, prefix=prefix, target_ms=target_ms,
                      note=note)
    finally:
        db.close()


def _search_postgres(sqlite_path: Path, segments: int, now: datetime, *, repeats: int) -> list[BenchResult]:
    """The calls generated into `sqlite_path`, copied into a scratch PostgreSQL database and searched as on SQLite."""
    try:
        with scratch_postgres("search") as url:
            db = Database(url)
            try:
                _copy_calls(sqlite_path, db)
                return _timed(db, segments, now, repeats=repeats, latest=True, prefix="search.postgres",
                              target_ms=P95_TARGET_MS, note="PostgreSQL")
            finally:
                db.close()
    except PostgresUnavailable as exc:
        return [BenchResult(name="search.postgres", unit="-", p50=0, p95=0, p99=0, target="a PostgreSQL server",
                            passed=False, detail=str(exc))]


def _copy_calls(sqlite_path: Path, db: Database) -> None:
    """Copy the call tables of the SQLite file into `db` (PostgreSQL, empty) with COPY, then VACUUM ANALYZE them."""
    source = sqlite3.connect(sqlite_path)
    try:
        with db.engine.begin() as connection:  # one transaction, committed by the driver connection's commit
            cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
            cursor.execute("SET TIME ZONE 'UTC'")  # SQLite holds naive UTC text; the columns are timestamptz
            for model in CALL_TABLES:
                columns = [column.name for column in model.__table__.columns]  # type: ignore[attr-defined]
                names = ", ".join(columns)
                with cursor.copy(f"COPY {model.__tablename__} ({names}) FROM STDIN") as copy:
                    for row in source.execute(f"SELECT {names} FROM {model.__tablename__} ORDER BY id"):
                        copy.write_row(row)
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            for model in CALL_TABLES:
                connection.exec_driver_sql(f"VACUUM ANALYZE {model.__tablename__}")
    finally:
        source.close()


def _timed(db: Database, segments: int, now: datetime, *, repeats: int, latest: bool, prefix: str,
           target_ms: float, note: str) -> list[BenchResult]:
    """Time each kind of search on `db`, `repeats` times each."""
    with db.engine.connect() as connection:
        accounts = [name for (name,) in connection.execute(text("SELECT name FROM account ORDER BY id"))]
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
    label = f".{segments // 1000}k" if prefix in ("search", "search.postgres") else ""
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
