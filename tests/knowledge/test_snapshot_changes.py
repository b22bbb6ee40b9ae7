"""The snapshot change log and changed-only rebuilds (the schedule's): a run with nothing changed touches no
product, a change rebuilds exactly its product whoever wrote it, and chunked rebuilds build what one pass would."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import event, make_url, text

import knowledge.snapshots as snapshots
from knowledge.db import Database
from knowledge.dialects.snapshot_changes import POSTGRESQL_FUNCTION_DDL, POSTGRESQL_TRIGGER_DDL, SQLITE_TRIGGER_DDL
from knowledge.generate import generate
from knowledge.importer import import_folder
from knowledge.snapshot_prompt import render_prompt
from knowledge.snapshots import build_payload, canonical_json, rebuild_snapshots, snapshot_aliases
from tests.support.backend_sql import record_statements, write_outside as write_with_driver
from tests.support.catalog_factory import sample_catalog
from tests.support.import_folders import sample_rows, write_folder


# The change log's triggers as each backend's catalog lists them: trigger name -> table.
_INSTALLED_TRIGGERS = {
    "sqlite": "SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'snapshot_change%'",
    "postgresql": "SELECT tgname, tgrelid::regclass::text FROM pg_trigger WHERE NOT tgisinternal"
                  " AND tgname LIKE 'snapshot_change%'",
}
TRIGGER_DDL = {"sqlite": SQLITE_TRIGGER_DDL, "postgresql": POSTGRESQL_TRIGGER_DDL}


def installed_triggers(db: Database) -> dict[str, str]:
    with db.engine.connect() as connection:
        return dict(connection.execute(text(_INSTALLED_TRIGGERS[db.engine.dialect.name])).all())


def snapshot_rows(db: Database) -> dict[str, tuple[Any, ...]]:
    """slug -> (product id, payload, prompt, source hash, version, built_at)."""
    with db.engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT slug, product_id, payload, prompt, source_hash, version, built_at FROM productsnapshot"
        ).all()
    return {row[0]: tuple(row[1:]) for row in rows}


def alias_rows(db: Database) -> set[tuple[Any, ...]]:
    with db.engine.connect() as connection:
        return {tuple(row) for row in connection.exec_driver_sql("SELECT alias, product_id, kind, rank FROM snapshotalias")}


def logged(db: Database) -> set[int]:
    with db.engine.connect() as connection:
        return {row[0] for row in connection.exec_driver_sql("SELECT product_id FROM snapshotchange")}


def state(db: Database) -> tuple[int, int] | None:
    with db.engine.connect() as connection:
        row = connection.exec_driver_sql("SELECT tick, verified_format FROM snapshotstate WHERE id = 1").first()
    return tuple(row) if row else None  # type: ignore[return-value]


def write_outside(db: Database, sql: str) -> None:
    """A write made the way the sqlite3 shell, psql or a script would: its own connection, no pitcrew code."""
    write_with_driver(db.url, sql)


def traced_statements(db: Database) -> list[str]:
    """Every SQL statement the rebuild's connections run from now on (they come from the writers' engine)."""
    statements: list[str] = []
    db.write_engine.dispose()
    event.listen(db.write_engine, "connect", lambda dbapi, _record: record_statements(dbapi, statements))
    return statements


@pytest.fixture
def checked_catalog(database: Database) -> Database:
    """The sample catalog with every snapshot built by a full check: the change log is empty and trusted."""
    sample_catalog(database)
    report = rebuild_snapshots(database)
    assert (report.built, report.scope) == (3, "all") and logged(database) == set()
    return database


# --- nothing changed -----------------------------------------------------------------------------


def test_a_changed_only_run_with_nothing_logged_touches_no_product(checked_catalog: Database) -> None:
    before, aliases, state_before = snapshot_rows(checked_catalog), alias_rows(checked_catalog), state(checked_catalog)
    statements = traced_statements(checked_catalog)

    report = rebuild_snapshots(checked_catalog, changed_only=True)
    ran = list(statements)  # on PostgreSQL the readers below share the writers' engine

    assert (report.built, report.unchanged, report.failed, report.scope) == (0, 0, 0, "changed")
    assert snapshot_rows(checked_catalog) == before and alias_rows(checked_catalog) == aliases
    assert state(checked_catalog) == state_before  # not even the tick moved: the run wrote nothing
    run = [statement for statement in ran if statement.lstrip().upper().startswith(("SELECT", "INSERT",
                                                                                    "UPDATE", "DELETE"))]
    assert run and all("snapshotstate" in statement or "snapshotchange" in statement for statement in run), run


def test_a_full_check_still_hashes_every_product(checked_catalog: Database) -> None:
    report = rebuild_snapshots(checked_catalog)
    assert (report.built, report.unchanged, report.scope) == (0, 3, "all")


# --- changes, whoever writes them ----------------------------------------------------------------


def test_an_import_changing_one_product_rebuilds_exactly_that_one(database: Database, tmp_path: Path) -> None:
    rows = sample_rows()
    import_folder(database, write_folder(tmp_path / "first", rows, "json"))
    assert rebuild_snapshots(database, changed_only=True).scope == "all"  # the first run checks everything once
    before = snapshot_rows(database)

    rows["plans"][1]["price_cents"] = 3500  # comet's Pro plan
    report = import_folder(database, write_folder(tmp_path / "second", rows, "json"), rebuild=False)
    assert report.changed_products == ["comet"] and logged(database) == {before["comet"][0]}

    run = rebuild_snapshots(database, changed_only=True)
    assert (run.built, run.unchanged, run.scope) == (1, 0, "changed")
    after = snapshot_rows(database)
    assert after["nova"] == before["nova"]  # not rewritten: same built_at
    assert after["comet"][4] == before["comet"][4] + 1 and after["comet"][5] != before["comet"][5]
    assert logged(database) == set()
    assert rebuild_snapshots(database, changed_only=True).built == 0


def test_an_import_that_rebuilds_leaves_nothing_for_the_schedule(database: Database, tmp_path: Path) -> None:
    rows = sample_rows()
    import_folder(database, write_folder(tmp_path / "first", rows, "json"))
    rebuild_snapshots(database, changed_only=True)
    rows["faqs"][0]["answer"] = "Yes, 30 days."
    report = import_folder(database, write_folder(tmp_path / "second", rows, "json"))
    assert report.rebuild is not None and report.rebuild.built == 1
    assert logged(database) == set()
    assert rebuild_snapshots(database, changed_only=True).scope == "changed"  # nothing to do, nothing checked


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE product SET tagline = 'Edited by hand' WHERE slug = 'orbit'",
        "UPDATE planlimit SET value = '7' WHERE value = '5'",  # found through its plan
        "UPDATE planfeature SET detail = 'SAML and SCIM' WHERE detail = 'SAML only'",  # through plan and feature
        "DELETE FROM faq WHERE question = 'Is there a free trial?'",
        "INSERT INTO complianceitem (product_id, name, status, details)"
        " SELECT id, 'FedRAMP', 'in progress', '' FROM product WHERE slug = 'orbit'",
    ],
)
def test_a_change_written_outside_the_importer_is_caught(checked_catalog: Database, statement: str) -> None:
    before = snapshot_rows(checked_catalog)
    write_outside(checked_catalog, statement)
    assert logged(checked_catalog) == {before["orbit"][0]}

    report = rebuild_snapshots(checked_catalog, changed_only=True)
    assert (report.built, report.scope) == (1, "changed")
    after = snapshot_rows(checked_catalog)
    assert after["orbit"][4] == before["orbit"][4] + 1
    assert after["beacon"] == before["beacon"] and after["relay"] == before["relay"]


def test_a_write_that_changes_nothing_is_checked_but_not_rebuilt(checked_catalog: Database) -> None:
    before = snapshot_rows(checked_catalog)
    write_outside(checked_catalog, "UPDATE plan SET name = name WHERE slug = 'growth'")
    report = rebuild_snapshots(checked_catalog, changed_only=True)
    assert (report.built, report.unchanged) == (0, 1)
    assert snapshot_rows(checked_catalog) == before and logged(checked_catalog) == set()


def test_a_product_deleted_outside_the_importer_loses_its_snapshot(checked_catalog: Database) -> None:
    beacon = snapshot_rows(checked_catalog)["beacon"][0]
    # No foreign keys in a sqlite3 connection: the snapshot outlives its product until the rebuild. PostgreSQL's
    # cascade deletes it with the product.
    write_outside(checked_catalog, "DELETE FROM product WHERE slug = 'beacon'")
    cascaded = "beacon" not in snapshot_rows(checked_catalog)
    report = rebuild_snapshots(checked_catalog, changed_only=True)
    assert (report.built, report.removed) == (0, 0 if cascaded else 1)
    assert logged(checked_catalog) == set()
    assert set(snapshot_rows(checked_catalog)) == {"orbit", "relay"}
    assert all(row[1] != beacon for row in alias_rows(checked_catalog))


def test_a_change_made_while_a_rebuild_reads_waits_for_the_next_run(checked_catalog: Database) -> None:
    write_outside(checked_catalog, "UPDATE plan SET price_cents = 6900 WHERE slug = 'team'")  # orbit
    orbit, relay = snapshot_rows(checked_catalog)["orbit"][0], snapshot_rows(checked_catalog)["relay"][0]

    def edit_meanwhile(done: int, _total: int) -> None:
        if done == 0:  # the run has bumped its tick and is reading: these writes are not in what it sees
            write_outside(checked_catalog, "UPDATE product SET tagline = 'Late edit' WHERE slug = 'relay'")
            # orbit is logged already, with the old tick: its entry must move to the new one
            write_outside(checked_catalog, "UPDATE product SET tagline = 'Late edit too' WHERE slug = 'orbit'")

    report = rebuild_snapshots(checked_catalog, changed_only=True, progress=edit_meanwhile)
    assert report.built == 1 and logged(checked_catalog) == {orbit, relay}
    again = rebuild_snapshots(checked_catalog, changed_only=True)
    assert again.built == 2 and logged(checked_catalog) == set()
    assert "Late edit" in snapshot_rows(checked_catalog)["relay"][2]
    assert "Late edit too" in snapshot_rows(checked_catalog)["orbit"][2]


@pytest.mark.postgres_only  # SQLite's writers take turns on its write lock: no writer is in flight during a bump
def test_a_rebuild_waits_for_a_change_in_flight_before_it_reads(checked_catalog: Database) -> None:
    """A change logged with the old tick but committed after the rebuild's read began would be cleared unseen."""
    orbit = snapshot_rows(checked_catalog)["orbit"]
    writer = psycopg.connect(make_url(checked_catalog.url).set(drivername="postgresql")
                             .render_as_string(hide_password=False))
    try:
        writer.execute("UPDATE plan SET price_cents = 7900 WHERE slug = 'team'")  # logged, not committed
        reports: list[Any] = []
        rebuild = threading.Thread(target=lambda: reports.append(rebuild_snapshots(checked_catalog)))
        rebuild.start()
        with checked_catalog.engine.connect() as observer:
            for _ in range(500):  # the run waits for the writer's transaction to end before it bumps the tick
                waiting = observer.execute(text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")).scalar_one()
                observer.rollback()
                if waiting:
                    break
                time.sleep(0.01)
        assert waiting and not reports
        writer.commit()
        rebuild.join(timeout=30)
    finally:
        writer.close()
    assert reports and reports[0].built == 1
    assert snapshot_rows(checked_catalog)["orbit"][4] == orbit[4] + 1 and logged(checked_catalog) == set()


def test_a_build_failure_keeps_the_changes_logged_for_the_next_run(checked_catalog: Database) -> None:
    before = snapshot_rows(checked_catalog)
    write_outside(checked_catalog, "UPDATE addon SET available_on = 'team,platinum' WHERE slug = 'analytics'")
    report = rebuild_snapshots(checked_catalog, changed_only=True)
    assert (report.built, report.failed) == (0, 1) and "platinum" in report.errors[0]
    assert snapshot_rows(checked_catalog) == before and logged(checked_catalog) == {before["orbit"][0]}

    write_outside(checked_catalog, "UPDATE addon SET available_on = 'team' WHERE slug = 'analytics'")
    assert rebuild_snapshots(checked_catalog, changed_only=True).built == 1
    assert logged(checked_catalog) == set()


# --- when the log is not trusted yet -------------------------------------------------------------


def test_a_database_never_fully_checked_is_checked_in_full_once(database: Database) -> None:
    sample_catalog(database)
    assert state(database) is None
    first = rebuild_snapshots(database, changed_only=True)
    assert (first.built, first.scope) == (3, "all")
    assert state(database) == (1, snapshots.PAYLOAD_FORMAT)
    assert rebuild_snapshots(database, changed_only=True).scope == "changed"


def test_a_new_payload_format_makes_the_next_run_check_everything(
    checked_catalog: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(snapshots, "PAYLOAD_FORMAT", snapshots.PAYLOAD_FORMAT + 1)
    report = rebuild_snapshots(checked_catalog, changed_only=True)
    assert (report.built, report.scope) == (3, "all")  # the hash includes the format: every product rebuilt


def test_a_database_from_before_the_change_log_is_checked_in_full(tmp_path: Path) -> None:
    """An old database has neither the log nor its triggers; opening it (adopting it) installs them, the first run
    checks all."""
    path = tmp_path / "old.db"
    db = Database(f"sqlite:///{path}")
    sample_catalog(db)
    rebuild_snapshots(db, force=True)
    db.close()
    old = sqlite3.connect(path)
    for (name,) in old.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'snapshot_change%'"):
        old.execute(f"DROP TRIGGER {name}")
    old.execute("DROP TABLE snapshotchange")
    old.execute("DROP TABLE snapshotstate")
    old.execute("DROP TABLE alembic_version")  # from before migrations too: adopted on open
    old.execute("UPDATE plan SET price_cents = 100 WHERE slug = 'growth'")  # stale snapshot, nothing logged
    old.commit()
    old.close()

    db = Database(f"sqlite:///{path}")
    try:
        report = rebuild_snapshots(db, changed_only=True)
        assert (report.built, report.unchanged, report.scope) == (1, 2, "all")
        write_outside(db, "UPDATE product SET tagline = 'x' WHERE slug = 'orbit'")
        assert logged(db) == {snapshot_rows(db)["orbit"][0]}
    finally:
        db.close()


@pytest.mark.postgres_only
def test_a_postgresql_database_upgraded_to_the_change_log_gets_the_triggers_and_checks_everything_once(
        database: Database) -> None:
    """A database at 0002 (no change log on PostgreSQL): its unlogged writes are caught by the first changed-only
    rebuild after the upgrade, and writes after it are logged."""
    sample_catalog(database)
    rebuild_snapshots(database, force=True)
    with database.engine.begin() as connection:
        for name, table in installed_triggers(database).items():
            connection.exec_driver_sql(f"DROP TRIGGER {name} ON {table}")
        for function in POSTGRESQL_FUNCTION_DDL:
            connection.exec_driver_sql(f"DROP FUNCTION {function}()")
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = '0002'")
        connection.exec_driver_sql("UPDATE plan SET price_cents = 100 WHERE slug = 'growth'")  # nothing logged
    database.close()

    db = Database(database.url, auto_upgrade=True)
    try:
        assert set(installed_triggers(db)) == set(POSTGRESQL_TRIGGER_DDL)
        report = rebuild_snapshots(db, changed_only=True)
        assert (report.built, report.unchanged, report.scope) == (1, 2, "all")
        write_outside(db, "UPDATE product SET tagline = 'x' WHERE slug = 'orbit'")
        assert logged(db) == {snapshot_rows(db)["orbit"][0]}
    finally:
        db.close()


@pytest.mark.postgres_only
def test_the_migration_makes_the_codes_postgresql_change_log(database: Database) -> None:
    with database.engine.connect() as connection:
        functions = dict(connection.execute(text("SELECT proname, prosrc FROM pg_proc WHERE proname LIKE :pattern"),
                                            {"pattern": "snapshot\\_change\\_%"}).all())
    assert set(functions) == set(POSTGRESQL_FUNCTION_DDL)
    for name, ddl in POSTGRESQL_FUNCTION_DDL.items():
        assert functions[name].strip() in ddl, name


@pytest.mark.postgres_only  # SQLite has no TRUNCATE: a DELETE without WHERE fires its row triggers
def test_a_truncate_logs_every_product(checked_catalog: Database) -> None:
    write_outside(checked_catalog, "TRUNCATE faq")
    assert logged(checked_catalog) == {row[0] for row in snapshot_rows(checked_catalog).values()}
    report = rebuild_snapshots(checked_catalog, changed_only=True)
    assert (report.built, report.unchanged) == (2, 1)  # relay had no FAQ


def test_generate_logs_each_product_once_and_keeps_the_triggers(database: Database) -> None:
    before = installed_triggers(database)
    generate(database, products=30, seed=3)
    assert len(logged(database)) == 30
    assert installed_triggers(database) == before and len(before) == len(TRIGGER_DDL[database.engine.dialect.name])


# --- chunks ------------------------------------------------------------------------------------


@pytest.fixture
def other_database(database: Database, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Database]:
    """A second empty database on the same backend as `database`."""
    if database.engine.dialect.name == "sqlite":
        other = Database(f"sqlite:///{tmp_path / 'other.db'}")
        yield other
        other.close()
        return
    databases = request.getfixturevalue("postgres_databases")
    url = databases.create()
    other = Database(url)
    yield other
    other.close()
    databases.drop(url)


def test_chunked_rebuilds_build_what_one_pass_builds(database: Database, other_database: Database,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    whole, chunked_db = database, other_database
    for db in (whole, chunked_db):
        generate(db, products=23, seed=5)
    assert rebuild_snapshots(whole).built == 23  # one chunk, one write slice
    monkeypatch.setattr(snapshots, "CHUNK_SIZE", 4)
    monkeypatch.setattr(snapshots, "WRITE_SLICE", 3)
    assert rebuild_snapshots(chunked_db, changed_only=True).built == 23

    def content(db: Database) -> dict[str, tuple[Any, ...]]:
        return {slug: row[:5] for slug, row in snapshot_rows(db).items()}  # all but built_at

    assert content(chunked_db) == content(whole)
    assert alias_rows(chunked_db) == alias_rows(whole)
    # ... and it is what the builder makes of each product in one pass.
    with whole.engine.connect() as connection:
        payloads = build_payload(connection, [row[0] for row in snapshot_rows(whole).values()])
    for product_id, payload, prompt, *_ in content(chunked_db).values():
        assert payload == canonical_json(payloads[product_id]) and prompt == render_prompt(payloads[product_id])
        assert {alias for alias in alias_rows(chunked_db) if alias[1] == product_id} == set(
            snapshot_aliases(product_id, payloads[product_id])
        )

