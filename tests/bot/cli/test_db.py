"""`pitcrew db upgrade | status | copy` on real databases (SQLite, and PostgreSQL in the PostgreSQL pass)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from bot.cli.main import app
from bot.settings import Settings
from knowledge.db import Database, create_db_engine
from knowledge.migrations import head_revision
from tests.support.postgres import PostgresDatabases
from tests.support.schema_rows import (
    blank_database_url,
    fill_every_table,
    stored_revision,
    table_contents,
    upgrade_to,
)

runner = CliRunner()


@pytest.fixture
def blank_url(settings: Settings, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    with blank_database_url(settings.database_url, tmp_path, request) as url:
        yield url


@pytest.fixture
def filled_url(blank_url: str, demo_template: Path) -> str:
    """A database at head with a row in every table."""
    Database(blank_url).close()
    fill_every_table(blank_url, demo_template)
    return blank_url


@pytest.mark.database
def test_status_and_upgrade_of_a_new_database(blank_url: str) -> None:
    status = runner.invoke(app, ["db", "status", "--url", blank_url])
    assert status.exit_code == 1, status.output
    assert "revision: none" in status.output and f"head:     {head_revision()}" in status.output
    assert "not a pitcrew database" in status.output

    upgraded = runner.invoke(app, ["db", "upgrade", "--url", blank_url])
    assert upgraded.exit_code == 0, upgraded.output
    assert upgraded.output.strip().endswith(f"upgraded from nothing to {head_revision()}")
    assert stored_revision(blank_url) == head_revision()

    status = runner.invoke(app, ["db", "status", "--url", blank_url])
    assert status.exit_code == 0 and "status:   up to date" in status.output, status.output
    again = runner.invoke(app, ["db", "upgrade", "--url", blank_url])
    assert again.exit_code == 0 and f"already at revision {head_revision()} (up to date)" in again.output


@pytest.mark.database
def test_status_of_a_behind_database_and_its_upgrade(blank_url: str) -> None:
    upgrade_to(blank_url, "0001")
    status = runner.invoke(app, ["db", "status", "--url", blank_url])
    assert status.exit_code == 1 and "revision: 0001" in status.output
    behind = int(head_revision()) - 1
    assert f"status:   {behind} behind" in status.output, status.output
    upgraded = runner.invoke(app, ["db", "upgrade", "--url", blank_url])
    assert f"upgraded from 0001 to {head_revision()}" in upgraded.output


def test_status_reads_database_url_and_never_creates_a_sqlite_file(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "nothing-here.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{path}")
    status = runner.invoke(app, ["db", "status"])
    assert status.exit_code == 1 and "not a pitcrew database (no file" in status.output
    assert not path.exists()


def test_the_password_is_never_shown(tmp_path: Path) -> None:
    url = "postgresql+psycopg://pitcrew:s3cret-pw@127.0.0.1:1/pitcrew"  # nothing listens on port 1
    for command in (["db", "status", "--url", url], ["db", "upgrade", "--url", url],
                    ["db", "copy", url, f"sqlite:///{tmp_path / 'x.db'}"]):
        result = runner.invoke(app, command)
        assert result.exit_code == 1, result.output
        assert "s3cret-pw" not in result.output and "pitcrew:***@127.0.0.1:1" in result.output
        assert "Traceback" not in result.output


def test_copy_refuses_bad_urls_and_one_database_twice(tmp_path: Path) -> None:
    same = f"sqlite:///{tmp_path / 'a.db'}"
    assert "not a database URL" in runner.invoke(app, ["db", "copy", "nonsense", same]).output
    assert "SQLite or PostgreSQL, not mysql" in runner.invoke(app, ["db", "copy", "mysql://h/d", same]).output
    result = runner.invoke(app, ["db", "copy", same, same])
    assert result.exit_code == 1 and "the same database" in result.output
    missing = runner.invoke(app, ["db", "copy", f"sqlite:///{tmp_path / 'missing.db'}", same])
    assert missing.exit_code == 1 and "no such file" in missing.output
    assert not (tmp_path / "missing.db").exists()


def _copy(source: str, target: str, *extra: str) -> str:
    result = runner.invoke(app, ["db", "copy", source, target, *extra])
    assert result.exit_code == 0, result.output
    return result.output


def _printed_counts(output: str) -> dict[str, int]:
    return {name: int(rows) for name, rows in re.findall(r"^  (\w+) +(\d+) rows", output, re.MULTILINE)}


@pytest.mark.database
def test_copy_into_a_new_sqlite_database(filled_url: str, tmp_path: Path) -> None:
    target = f"sqlite:///{tmp_path / 'copy.db'}"
    output = _copy(filled_url, target)
    source = table_contents(filled_url)
    assert _printed_counts(output) == {name: count for name, (count, _) in source.items()}
    assert "every table's count matches the source; committed" in output
    assert table_contents(target) == source and stored_revision(target) == head_revision()
    # The copy's ids are taken: new rows get new ones.
    db = Database(target)
    with db.engine.begin() as connection:
        connection.execute(text("INSERT INTO account (slug, name, industry, segment, owner) VALUES ('new', 'New', '', '', '')"))
    db.close()


@pytest.mark.database
def test_copy_refuses_a_non_empty_target_unless_replace(filled_url: str, tmp_path: Path) -> None:
    target = f"sqlite:///{tmp_path / 'copy.db'}"
    _copy(filled_url, target)
    engine = create_db_engine(target)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM faq WHERE id IN (SELECT min(id) FROM faq)"))
        connection.execute(text("INSERT INTO threadturn (thread_key, created_at, intent, context) "
                                "VALUES ('t', '2026-01-01 00:00:00.000000', 'x', '{}')"))
    changed = table_contents(engine)

    refused = runner.invoke(app, ["db", "copy", filled_url, target])
    assert refused.exit_code == 1 and "is not empty (rows in account" in refused.output
    assert "pass --replace" in refused.output
    assert table_contents(engine) == changed

    output = _copy(filled_url, target, "--replace")
    assert "(its previous rows replaced)" in output
    assert table_contents(engine) == table_contents(filled_url)
    engine.dispose()


@pytest.mark.database
def test_a_count_mismatch_rolls_the_whole_copy_back(filled_url: str, tmp_path: Path) -> None:
    """Rows the target silently dropped (a trigger here) are caught by the count check: nothing is committed."""
    target = f"sqlite:///{tmp_path / 'copy.db'}"
    Database(target).close()
    engine = create_db_engine(target)
    with engine.begin() as connection:
        connection.execute(text("CREATE TRIGGER drop_faqs BEFORE INSERT ON faq BEGIN SELECT RAISE(IGNORE); END"))
    faqs = table_contents(filled_url)["faq"][0]

    result = runner.invoke(app, ["db", "copy", filled_url, target])

    assert result.exit_code == 1
    assert f"row counts differ after the copy (faq: {faqs} in the source, 0 in the target)" in result.output
    assert "rolled back, no row was written to the target" in result.output
    assert all(count == 0 for count, _ in table_contents(engine).values())
    engine.dispose()


@pytest.mark.postgres_only
def test_copy_sqlite_to_postgresql_and_back(demo_template: Path, tmp_path: Path, settings: Settings,
                                            postgres_databases: PostgresDatabases) -> None:
    sqlite_source = f"sqlite:///{tmp_path / 'source.db'}"
    Database(sqlite_source).close()
    fill_every_table(sqlite_source, demo_template)
    postgres = postgres_databases.create()  # empty: the copy upgrades it
    try:
        output = _copy(sqlite_source, postgres)
        expected = table_contents(sqlite_source)
        assert _printed_counts(output) == {name: count for name, (count, _) in expected.items()}
        assert table_contents(postgres) == expected and stored_revision(postgres) == head_revision()
        # The sequences were moved past the copied ids: the next row gets a new id.
        engine = create_db_engine(postgres)
        with engine.begin() as connection:
            largest = connection.execute(text("SELECT max(id) FROM transcriptsegment")).scalar_one()
            new = connection.execute(text(
                "INSERT INTO transcriptsegment (meeting_id, seq, speaker, text, offset_s)"
                " SELECT min(id), 99, 'A', 'later', 0 FROM meeting RETURNING id")).scalar_one()
            assert new == largest + 1
            connection.rollback()
        engine.dispose()

        back = f"sqlite:///{tmp_path / 'back.db'}"
        _copy(postgres, back)
        assert table_contents(back) == expected
    finally:
        postgres_databases.drop(postgres)


@pytest.mark.postgres_only
def test_a_count_mismatch_on_postgresql_rolls_back(filled_url: str, tmp_path: Path, settings: Settings,
                                                   postgres_databases: PostgresDatabases) -> None:
    target = postgres_databases.create()
    try:
        Database(target).close()
        engine = create_db_engine(target)
        with engine.begin() as connection:
            connection.execute(text("CREATE FUNCTION drop_row() RETURNS trigger LANGUAGE plpgsql AS "
                                    "$$ BEGIN RETURN NULL; END $$"))
            connection.execute(text("CREATE TRIGGER drop_faqs BEFORE INSERT ON faq FOR EACH ROW EXECUTE FUNCTION drop_row()"))
        result = runner.invoke(app, ["db", "copy", filled_url, target])
        assert result.exit_code == 1 and "row counts differ after the copy (faq:" in result.output
        assert all(count == 0 for count, _ in table_contents(engine).values())
        engine.dispose()
    finally:
        postgres_databases.drop(target)
