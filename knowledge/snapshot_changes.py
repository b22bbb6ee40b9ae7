"""The snapshot change log: which products' snapshot sources were written since their snapshots were checked.

Triggers on the nine catalog tables (knowledge.dialects.snapshot_changes: row triggers on SQLite, statement
triggers on PostgreSQL) record, in `snapshotchange`, the product of every row inserted, updated or deleted,
whoever writes it: an import, `knowledge generate`, a script, the sqlite3 shell or psql. A changed-only rebuild
(the schedule's) reads the log instead of hashing every product, so with nothing logged it costs two indexed
reads, whatever the catalog's size. It still hashes the logged products, so a write that changed nothing builds
nothing.

Entries are cleared only by a rebuild that checked them, and only those it could see: every rebuild
with work first bumps `snapshotstate.tick` in a short write, then reads the catalog; an entry carries
the tick current when its change was written, and the rebuild clears only entries older than its
own tick. A change written while a rebuild runs therefore stays logged for the next one. The bump waits for
the catalog writers in flight (SQLite's write lock; an advisory lock on PostgreSQL), so a change logged with
the old tick is always committed before the rebuild reads.

The safety net is a full check (every product hashed, `rebuild_snapshots` without `changed_only`:
`pitcrew snapshots rebuild`). A changed-only run makes it by itself until one has been made under
the current payload format (`snapshotstate.verified_format`): on a database from before the change
log, and after a `PAYLOAD_FORMAT` bump.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Literal

from sqlalchemy import Connection, bindparam, text

from knowledge.dialects import snapshot_changes as triggers

Scope = Literal["none", "changed", "all"]


def has_change_log(connection: Connection) -> bool:
    """Whether catalog writes are logged here (the schema installs the triggers)."""
    return triggers.has_triggers(connection)


def changed_scope(connection: Connection, payload_format: int) -> Scope:
    """What a changed-only rebuild must check: nothing, the logged products, or every product.

    Two indexed reads, no transaction left open.
    """
    if not has_change_log(connection):
        return "all"
    try:
        verified = connection.execute(text("SELECT verified_format FROM snapshotstate WHERE id = 1")).scalar()
        if verified != payload_format:
            return "all"
        logged = connection.execute(text("SELECT 1 FROM snapshotchange LIMIT 1")).first() is not None
    finally:
        connection.rollback()
    return "changed" if logged else "none"


def start_run(connection: Connection) -> int:
    """Bump the rebuild tick in its own short write transaction; returns the run's tick (call before reading)."""
    triggers.begin_tick(connection)
    connection.execute(
        text(
            "INSERT INTO snapshotstate (id, tick, verified_format) VALUES (1, 1, 0)"
            " ON CONFLICT (id) DO UPDATE SET tick = snapshotstate.tick + 1"
        )
    )
    tick = int(connection.execute(text("SELECT tick FROM snapshotstate WHERE id = 1")).scalar_one())
    connection.commit()
    return tick


_LOGGED_AFTER = text("SELECT product_id FROM snapshotchange WHERE product_id > :after ORDER BY product_id LIMIT :size")
_CLEAR_LOGGED = text("DELETE FROM snapshotchange WHERE tick < :tick AND product_id IN :ids").bindparams(
    bindparam("ids", expanding=True)
)


def logged_products(connection: Connection, size: int) -> Iterator[list[int]]:
    """The logged product ids, `size` at a time in id order (inside the caller's read transaction)."""
    after = -1
    while True:
        ids = list(connection.execute(_LOGGED_AFTER, {"after": after, "size": size}).scalars())
        if not ids:
            return
        yield ids
        after = ids[-1]


def count_logged(connection: Connection) -> int:
    return int(connection.execute(text("SELECT count(*) FROM snapshotchange")).scalar_one())


def clear_checked(connection: Connection, tick: int, product_ids: list[int] | None = None) -> None:
    """Forget the entries a run with `tick` saw (all of them, or those of `product_ids`); in the caller's transaction."""
    if product_ids is None:
        connection.execute(text("DELETE FROM snapshotchange WHERE tick < :tick"), {"tick": tick})
        return
    for start in range(0, len(product_ids), 500):
        connection.execute(_CLEAR_LOGGED, {"tick": tick, "ids": product_ids[start : start + 500]})


def mark_verified(connection: Connection, payload_format: int) -> None:
    """Record that every product was checked under `payload_format` (in the caller's transaction)."""
    connection.execute(
        text("UPDATE snapshotstate SET verified_format = :format WHERE id = 1"), {"format": payload_format}
    )


def untracked_bulk_load(connection: Connection) -> AbstractContextManager[None]:
    """Insert a new catalog in bulk without a trigger firing per row; every product is logged once.

    For an empty catalog only (`knowledge generate`), inside the caller's transaction, so a failure rolls the
    rows and their log entries back together.
    """
    return triggers.untracked_bulk_load(connection)
