"""The snapshot change log's triggers (knowledge.snapshot_changes), one version per backend.

SQLite: a row trigger per catalog table and event, logging the product of each row written. Its writers take
turns on the database's write lock, so a rebuild's tick bump (`BEGIN IMMEDIATE`) waits for every writer in flight.

PostgreSQL: a statement trigger per catalog table and event, with transition tables joined to their parents, so
a statement writing thousands of rows (an import, a COPY) logs each product once; a TRUNCATE logs every product.
Writers run side by side there; a rebuild's tick
bump must still not happen while a writer that read the old tick is uncommitted (the rebuild would not see its
rows, yet clear its entry). So each trigger holds a shared transaction-scoped advisory lock and the tick bump
takes it exclusively: the bump waits for the writers in flight, a writer arriving meanwhile waits for the bump
(a few milliseconds) and reads the new tick. Readers never touch the lock. A writer reads the tick when its
statement runs, which is what PostgreSQL's default isolation (READ COMMITTED) gives; a writer at REPEATABLE
READ could log an older tick, and only the full check (`pitcrew snapshots rebuild`) would then catch its change.

The triggers are made by the schema's migrations (0001 on SQLite, 0003 on PostgreSQL), which write their DDL out;
the constants here are the code's copy, for SQLite's bulk loads (which drop and recreate its row triggers) and
for the tests that check the two agree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

from sqlalchemy import Connection, text

from knowledge.dialects import version_for

# Catalog table -> how a row (NEW or OLD) names the product(s) whose snapshot it is a source of. A plan feature
# belongs to its plan's product and its feature's product (the builder rejects a mismatch). A lookup finds no row
# when its parent went first (a cascade): the parent's own trigger logged the product.
PRODUCT_OF: dict[str, tuple[str, ...]] = {
    "product": ("{row}.id",),
    "plan": ("{row}.product_id",),
    "feature": ("{row}.product_id",),
    "planfeature": (
        "(SELECT product_id FROM plan WHERE id = {row}.plan_id)",
        "(SELECT product_id FROM feature WHERE id = {row}.feature_id)",
    ),
    "integration": ("{row}.product_id",),
    "planlimit": ("(SELECT product_id FROM plan WHERE id = {row}.plan_id)",),
    "complianceitem": ("{row}.product_id",),
    "addon": ("{row}.product_id",),
    "faq": ("{row}.product_id",),
}
_EVENTS = (("ai", "INSERT", ("new",)), ("au", "UPDATE", ("new", "old")), ("ad", "DELETE", ("old",)))
_CURRENT_TICK = "coalesce((SELECT tick FROM snapshotstate WHERE id = 1), 0)"

# Any constant shared by every pitcrew process: the advisory lock of the tick (the bytes of "pcsnapch").
TICK_LOCK_KEY = int.from_bytes(b"pcsnapch", "big") & 0x7FFF_FFFF_FFFF_FFFF


# --- SQLite --------------------------------------------------------------------------------------

_SQLITE_LOG = (
    "INSERT INTO snapshotchange (product_id, tick)"
    f" SELECT {{product}}, {_CURRENT_TICK} WHERE {{product}} IS NOT NULL"
    " ON CONFLICT (product_id) DO UPDATE SET tick = excluded.tick;"
)


def _sqlite_trigger_ddl() -> dict[str, str]:
    """Trigger name -> its CREATE statement (IF NOT EXISTS)."""
    statements = {}
    for table, products in PRODUCT_OF.items():
        for suffix, event, rows in _EVENTS:
            name = f"snapshot_change_{table}_{suffix}"
            body = " ".join(_SQLITE_LOG.format(product=product.format(row=row)) for row in rows for product in products)
            statements[name] = f"CREATE TRIGGER IF NOT EXISTS {name} AFTER {event} ON {table} BEGIN {body} END"
    return statements


SQLITE_TRIGGER_DDL = _sqlite_trigger_ddl()


def _sqlite_install(connection: Connection) -> None:
    for statement in SQLITE_TRIGGER_DDL.values():
        connection.exec_driver_sql(statement)


@contextmanager
def _sqlite_untracked_bulk_load(connection: Connection) -> Iterator[None]:
    # A row trigger per inserted row would double a bulk load's time: dropped inside the caller's transaction and
    # recreated from the same DDL, so a failure rolls both back; every product is logged once at the end.
    for name in SQLITE_TRIGGER_DDL:
        connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")
    yield
    connection.exec_driver_sql(
        f"INSERT INTO snapshotchange (product_id, tick) SELECT id, {_CURRENT_TICK} FROM product WHERE true"
        " ON CONFLICT (product_id) DO UPDATE SET tick = excluded.tick"
    )
    _sqlite_install(connection)


def _sqlite_begin_tick(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock first: every writer in flight has committed


# --- PostgreSQL ----------------------------------------------------------------------------------

_TRANSITION = {"new": "new_rows", "old": "old_rows"}
# PRODUCT_OF as joins from a transition table `r` (one lookup per row would cost a bulk load as much again).
_POSTGRESQL_PRODUCT_OF: dict[str, tuple[str, ...]] = {
    **{table: ("SELECT r.product_id FROM {rows} r",) for table in PRODUCT_OF},
    "product": ("SELECT r.id FROM {rows} r",),
    "planfeature": ("SELECT p.product_id FROM {rows} r JOIN plan p ON p.id = r.plan_id",
                    "SELECT f.product_id FROM {rows} r JOIN feature f ON f.id = r.feature_id"),
    "planlimit": ("SELECT p.product_id FROM {rows} r JOIN plan p ON p.id = r.plan_id",),
}


def _postgresql_log(table: str, rows: tuple[str, ...]) -> str:
    """The statement logging the products of the rows in the transition tables `rows`, each product once."""
    sources = " UNION ".join(product.format(rows=_TRANSITION[row])
                             for row in rows for product in _POSTGRESQL_PRODUCT_OF[table])
    # An entry already at the current tick is left as it is: an import writes a product's rows statement by
    # statement, and rewriting its entry each time would leave a dead row version per statement.
    return ("INSERT INTO snapshotchange (product_id, tick)"
            f" SELECT product_id, {_CURRENT_TICK} FROM ({sources}) AS changed (product_id)"
            " WHERE product_id IS NOT NULL GROUP BY product_id"
            " ON CONFLICT (product_id) DO UPDATE SET tick = excluded.tick"
            " WHERE snapshotchange.tick <> excluded.tick;")


# TRUNCATE (PostgreSQL only) empties a table without row events: every product may have lost rows.
_POSTGRESQL_TRUNCATE_LOG = (
    f"INSERT INTO snapshotchange (product_id, tick) SELECT id, {_CURRENT_TICK} FROM product"
    " ON CONFLICT (product_id) DO UPDATE SET tick = excluded.tick;"
)


def _postgresql_function_ddl(table: str) -> str:
    branches = " ".join(f"{'IF' if index == 0 else 'ELSIF'} TG_OP = '{event}' THEN {_postgresql_log(table, rows)}"
                        for index, (_suffix, event, rows) in enumerate(_EVENTS))
    branches += f" ELSIF TG_OP = 'TRUNCATE' THEN {_POSTGRESQL_TRUNCATE_LOG}"
    return (f"CREATE OR REPLACE FUNCTION snapshot_change_{table}() RETURNS trigger LANGUAGE plpgsql AS $body$"
            f" BEGIN PERFORM pg_advisory_xact_lock_shared({TICK_LOCK_KEY}); {branches} END IF; RETURN NULL; END"
            " $body$")


def _postgresql_trigger_ddl() -> dict[str, str]:
    """Trigger name -> its CREATE statement."""
    statements = {}
    for table in PRODUCT_OF:
        for suffix, event, rows in _EVENTS:
            name = f"snapshot_change_{table}_{suffix}"
            referencing = " ".join(f"{row.upper()} TABLE AS {_TRANSITION[row]}" for row in rows)
            statements[name] = (f"CREATE OR REPLACE TRIGGER {name} AFTER {event} ON {table}"
                                f" REFERENCING {referencing} FOR EACH STATEMENT"
                                f" EXECUTE FUNCTION snapshot_change_{table}()")
        name = f"snapshot_change_{table}_at"
        statements[name] = (f"CREATE OR REPLACE TRIGGER {name} AFTER TRUNCATE ON {table} FOR EACH STATEMENT"
                            f" EXECUTE FUNCTION snapshot_change_{table}()")
    return statements


POSTGRESQL_FUNCTION_DDL = {f"snapshot_change_{table}": _postgresql_function_ddl(table) for table in PRODUCT_OF}
POSTGRESQL_TRIGGER_DDL = _postgresql_trigger_ddl()


@contextmanager
def _postgresql_untracked_bulk_load(connection: Connection) -> Iterator[None]:
    yield  # statement triggers log each product once per statement (a COPY of thousands of rows is one)


def _postgresql_begin_tick(connection: Connection) -> None:
    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": TICK_LOCK_KEY})


# --- per backend ---------------------------------------------------------------------------------

_UNTRACKED: dict[str, Callable[[Connection], AbstractContextManager[None]]] = {
    "sqlite": _sqlite_untracked_bulk_load, "postgresql": _postgresql_untracked_bulk_load}
_BEGIN_TICK: dict[str, Callable[[Connection], None]] = {
    "sqlite": _sqlite_begin_tick, "postgresql": _postgresql_begin_tick}


def has_triggers(connection: Connection) -> bool:
    """Whether this backend logs catalog writes (the schema installs the triggers)."""
    return connection.dialect.name in _BEGIN_TICK


def untracked_bulk_load(connection: Connection) -> AbstractContextManager[None]:
    """A block inserting a new catalog in bulk, logging each product without a trigger firing per row."""
    return version_for(_UNTRACKED, connection, "a bulk load")(connection)


def begin_tick(connection: Connection) -> None:
    """Begin the transaction that bumps the rebuild tick: it starts once every catalog writer in flight has
    committed, and holds off new ones until it commits."""
    version_for(_BEGIN_TICK, connection, "a rebuild's tick")(connection)
