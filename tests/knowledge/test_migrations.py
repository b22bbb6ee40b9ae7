"""Schema migrations: the revision chain, the head schema against the models, rows surviving an upgrade, databases
from before migrations adopted, a behind database refused when auto-upgrade is off, concurrent starts."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text
from sqlmodel import SQLModel

from bot.app.database import StartupError, open_database
from bot.settings import Settings, load_settings
from knowledge.db import FTS_DDL, Database, DatabaseError, create_db_engine
from knowledge.migrations import VERSIONS_DIR, head_revision, revision_ids
from knowledge.migrations.config import alembic_config
from knowledge.migrations.unmanaged import is_unmanaged
from knowledge.dialects.upgrade_lock import upgrade_transaction
from knowledge.schema import SchemaState, read_schema_state, schema_state, upgrade_schema
from knowledge.dialects.snapshot_changes import SQLITE_TRIGGER_DDL as TRIGGER_DDL
from tests.support.schema_rows import (
    LATER_TABLES,
    blank_database_url,
    fill_every_table,
    stored_revision,
    table_contents,
    upgrade_to,
)

FIRST = "0001"


@pytest.fixture
def blank_url(settings: Settings, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    with blank_database_url(settings.database_url, tmp_path, request) as url:
        yield url


def test_the_revisions_are_one_numbered_chain() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    assert script.get_heads() == [head_revision()]
    chain = [revision.revision for revision in reversed(list(script.walk_revisions()))]
    assert chain == list(revision_ids()) and chain[0] == FIRST
    for revision in script.walk_revisions():
        assert revision.down_revision == (None if revision.revision == FIRST else f"{int(revision.revision) - 1:04d}")
        assert Path(revision.path).parent == VERSIONS_DIR and Path(revision.path).name.startswith(revision.revision + "_")


def test_the_head_schema_is_the_models(database: Database) -> None:
    """What migrations build is what the code reads and writes: no table, column, index or constraint of the models
    missing or different (a model changed without a migration fails here)."""
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={
            "include_object": lambda obj, name, type_, reflected, compare_to: not is_unmanaged(type_, name),
            "compare_type": True,
        })
        assert compare_metadata(context, SQLModel.metadata) == []


@pytest.mark.sqlite_only
def test_the_head_triggers_and_transcript_index_are_the_codes(database: Database) -> None:
    """Code recreates these after bulk loads from its own DDL (knowledge.db.FTS_DDL, knowledge.snapshot_changes): it
    must be the head schema's, or a bulk load would quietly change the schema."""
    reference = sqlite3.connect(":memory:")
    reference.execute("CREATE TABLE transcriptsegment (id INTEGER PRIMARY KEY, meeting_id, text)")
    for table in ("snapshotchange", "snapshotstate", "product", "plan", "feature", "planfeature", "integration",
                  "planlimit", "complianceitem", "addon", "faq"):
        reference.execute(f'CREATE TABLE "{table}" (x)')
    for statement in (*FTS_DDL, *TRIGGER_DDL.values()):
        reference.execute(statement)
    query = "SELECT type, name, sql FROM sqlite_master WHERE type = 'trigger' OR name = 'transcript_fts' ORDER BY name"
    with database.engine.connect() as connection:
        head = [tuple(row) for row in connection.exec_driver_sql(query)]
    assert head == reference.execute(query).fetchall()
    assert len(head) == 1 + 3 + len(TRIGGER_DDL)


@pytest.mark.database
def test_every_row_survives_the_upgrade_from_the_first_revision(blank_url: str, demo_template: Path) -> None:
    upgrade_to(blank_url, FIRST)
    fill_every_table(blank_url, demo_template)
    before = table_contents(blank_url)

    Database(blank_url).close()  # auto-upgrade (the default of Database)

    assert stored_revision(blank_url) == head_revision() != FIRST
    after = table_contents(blank_url)
    assert all(after.pop(name)[0] == 0 for name in LATER_TABLES)  # made by later migrations, empty
    assert after == before


@pytest.mark.database
def test_a_database_from_before_migrations_is_adopted(blank_url: str, demo_template: Path) -> None:
    """Tables but no alembic_version, and what older releases lacked (a newer table, the read indexes) missing: the
    baseline creates what is missing, stamps it, the later migrations run; no row is lost or changed."""
    upgrade_to(blank_url, FIRST)
    fill_every_table(blank_url, demo_template)
    before = table_contents(blank_url)
    engine = create_db_engine(blank_url)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE alembic_version"))
        connection.execute(text("DROP TABLE inboxevent"))  # added by a later release than this database's
        for index in ("ix_snapshotalias_winner", "ix_product_primary", "ix_product_listing"):
            connection.execute(text(f"DROP INDEX {index}"))
    state = schema_state(engine)
    engine.dispose()
    assert (state.current, state.pitcrew_tables, state.behind) == (None, True, len(revision_ids()))
    assert "before migrations" in state.describe()

    Database(blank_url).close()

    assert stored_revision(blank_url) == head_revision()
    after = table_contents(blank_url)
    assert after.pop("inboxevent")[0] == 0  # made again, empty
    assert all(after.pop(name)[0] == 0 for name in LATER_TABLES)
    assert after == {name: content for name, content in before.items() if name != "inboxevent"}
    assert {"ix_snapshotalias_winner", "ix_product_primary", "ix_product_listing"} <= _index_names(blank_url)


@pytest.mark.database
def test_a_failed_upgrade_leaves_the_database_as_it_was(blank_url: str) -> None:
    """Every migration of an upgrade runs in one transaction (DDL included, on SQLite too): an error rolls all back."""
    upgrade_to(blank_url, FIRST)
    engine = create_db_engine(blank_url)
    with pytest.raises(RuntimeError, match="a migration failed"):
        with engine.connect() as connection, upgrade_transaction(connection):
            command.upgrade(alembic_config(connection), "head")
            assert read_schema_state(connection).up_to_date  # done, inside the transaction
            raise RuntimeError("a migration failed")
    assert schema_state(engine).current == FIRST
    if engine.dialect.name == "postgresql":  # what 0002 adds, gone with the rollback
        with engine.connect() as connection:
            columns = connection.execute(text(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'transcriptsegment'")).scalars()
            assert "search" not in set(columns)
    engine.dispose()


@pytest.mark.database
def test_auto_upgrade_off_refuses_a_behind_database_and_leaves_it(blank_url: str) -> None:
    upgrade_to(blank_url, FIRST)
    with pytest.raises(DatabaseError) as refused:
        Database(blank_url, auto_upgrade=False)
    assert str(refused.value).endswith(
        f"is at revision {FIRST}, this pitcrew needs {head_revision()}: run `pitcrew db upgrade`")
    assert stored_revision(blank_url) == FIRST


@pytest.mark.database
def test_auto_upgrade_off_refuses_an_empty_database(blank_url: str) -> None:
    with pytest.raises(DatabaseError, match=r"has no pitcrew schema yet, this pitcrew needs \d{4}: run `pitcrew db upgrade`"):
        Database(blank_url, auto_upgrade=False)
    assert not schema_state(create_db_engine(blank_url)).pitcrew_tables


@pytest.mark.database
def test_the_setting_reaches_the_database(blank_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    upgrade_to(blank_url, FIRST)
    monkeypatch.setenv("DATABASE_URL", blank_url)
    monkeypatch.setenv("DB_AUTO_UPGRADE", "off")
    with pytest.raises(StartupError, match="run `pitcrew db upgrade`"):
        open_database(load_settings(), load_demo=False)
    monkeypatch.setenv("DB_AUTO_UPGRADE", "on")
    db, _ = open_database(load_settings(), load_demo=False)
    db.close()
    assert stored_revision(blank_url) == head_revision()


def test_auto_upgrade_defaults_to_on_for_sqlite_and_off_for_postgresql() -> None:
    assert load_settings(database_url="sqlite:///./x.db").auto_upgrade is True
    assert load_settings(database_url="postgresql+psycopg://u@h/d").auto_upgrade is False
    assert load_settings(database_url="postgresql+psycopg://u@h/d", db_auto_upgrade="on").auto_upgrade is True
    assert load_settings(database_url="sqlite:///./x.db", db_auto_upgrade="off").auto_upgrade is False
    assert load_settings(db_auto_upgrade=" ").db_auto_upgrade is None


@pytest.mark.database
def test_a_database_upgraded_by_a_newer_release_is_refused(blank_url: str) -> None:
    Database(blank_url).close()
    engine = create_db_engine(blank_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(DatabaseError, match="is at revision 9999, newer than this pitcrew knows"):
        Database(blank_url)
    assert stored_revision(blank_url) == "9999"


@pytest.mark.database
def test_concurrent_upgrades_run_the_migrations_once(blank_url: str) -> None:
    """Several processes starting on one new database at once (threads with engines of their own here): one upgrades,
    the others wait for its lock and find nothing to do."""
    engines = [create_db_engine(blank_url) for _ in range(4)]
    start = threading.Barrier(len(engines))
    results: list[tuple[SchemaState, SchemaState] | BaseException] = []

    def upgrade(engine):  # type: ignore[no-untyped-def]
        start.wait()
        try:
            results.append(upgrade_schema(engine))
        except BaseException as exc:  # noqa: BLE001  (reported by the assertion below)
            results.append(exc)

    threads = [threading.Thread(target=upgrade, args=(engine,)) for engine in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for engine in engines:
        engine.dispose()
    assert not [result for result in results if isinstance(result, BaseException)], results
    upgraded = [before for before, after in results if not before.up_to_date]  # type: ignore[union-attr]
    assert len(upgraded) == 1 and upgraded[0].current is None
    assert all(after.current == head_revision() for _, after in results)  # type: ignore[union-attr]
    engine = create_db_engine(blank_url)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
    engine.dispose()


def test_opening_an_up_to_date_database_does_not_load_alembic(tmp_path: Path) -> None:
    """The start-up cost: Alembic (~0.1 s of imports) only when there is something to upgrade."""
    url = f"sqlite:///{tmp_path / 'current.db'}"
    Database(url).close()
    probe = ("import sys; from knowledge.db import Database; Database(sys.argv[1]).close(); "
             "print('alembic' in sys.modules)")
    loaded = subprocess.run([sys.executable, "-c", probe, url], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "False"
    fresh = f"sqlite:///{tmp_path / 'behind.db'}"
    upgrade_to(fresh, FIRST)
    loaded = subprocess.run([sys.executable, "-c", probe, fresh], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "True"


def _index_names(url: str) -> set[str]:
    engine = create_engine(url)
    query = ("SELECT indexname FROM pg_indexes" if engine.dialect.name == "postgresql"
             else "SELECT name FROM sqlite_master WHERE type = 'index'")
    try:
        with engine.connect() as connection:
            return {row[0] for row in connection.exec_driver_sql(query)}
    finally:
        engine.dispose()
