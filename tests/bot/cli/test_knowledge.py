"""`pitcrew knowledge import` and `pitcrew knowledge generate`: exit codes, one clear line per problem, counts, and
files written only where asked."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import make_url, text
from typer.testing import CliRunner

from bot.settings import Settings
from bot.cli.main import app
from knowledge.db import Database
from tests.support.postgres import PostgresDatabases
from tests.support.import_folders import BROKEN, prepare_broken_import, row_counts, sample_rows, write_folder


def query(db: Database, sql: str) -> list[Any]:
    with db.engine.connect() as connection:
        return connection.execute(text(sql)).all()


def invoke(*args: str):  # noqa: ANN201 (typer's Result)
    return CliRunner().invoke(app, list(args))


@pytest.mark.parametrize(("mutate", "file", "row", "field", "words"),
                         [BROKEN[0], BROKEN[1], BROKEN[2], BROKEN[4]])
def test_cli_import_exits_1_naming_file_row_and_field(database: Database, tmp_path: Path,
                                                      mutate: Callable[[Path], None], file: str, row: str,
                                                      field: str | None, words: str) -> None:
    folder = prepare_broken_import(database, tmp_path, mutate)
    counts = row_counts(database)

    result = invoke("knowledge", "import", str(folder))

    assert result.exit_code == 1
    assert "database is unchanged" in result.stderr
    line = next(line for line in result.stderr.splitlines() if file in line)
    assert row in line and words in line
    if field:
        assert f"field '{field}'" in line
    assert "Traceback" not in result.output + result.stderr
    assert row_counts(database) == counts


def test_missing_path_and_empty_folder_get_clear_messages(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    missing = invoke("knowledge", "import", str(tmp_path / "nope"))
    empty = invoke("knowledge", "import", str(tmp_path / "empty"))
    assert missing.exit_code == empty.exit_code == 1
    assert "no such file or folder" in missing.stderr
    assert "no data files found" in empty.stderr and "products.json|csv" in empty.stderr


def test_cli_import_reports_counts_and_never_loads_the_demo(database: Database, tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "in", {"accounts": sample_rows()["accounts"]}, "csv")

    first = invoke("knowledge", "import", str(folder))
    second = invoke("knowledge", "import", str(folder))

    assert first.exit_code == second.exit_code == 0
    assert "accounts.csv" in first.stdout and "Nothing changed" in second.stdout
    assert row_counts(database)["product"] == 0  # the empty target was not filled with the demo
    assert row_counts(database)["account"] == 1


def test_generate_command_writes_a_new_file_and_refuses_to_overwrite(settings: Settings, tmp_path: Path) -> None:
    out = tmp_path / "bench.db"
    args = ["knowledge", "generate", "--products", "4", "--calls", "3", "--segments-per-call", "2", "--out", str(out)]

    first = CliRunner().invoke(app, args)
    again = CliRunner().invoke(app, args)
    forced = CliRunner().invoke(app, [*args[:-2], "--seed", "9", "--out", str(out), "--force"])

    assert first.exit_code == 0 and "product=4" in first.stdout
    assert again.exit_code == 2 and "already exists" in again.stderr and "--force" in again.stderr
    assert forced.exit_code == 0
    db = Database(f"sqlite:///{out}")
    assert query(db, "SELECT count(*) FROM product") == [(4,)] and query(db, "SELECT count(*) FROM meeting") == [(3,)]
    db.close()


@pytest.mark.sqlite_only  # the file form of --out
def test_generate_command_never_writes_into_the_configured_database(settings: Settings, tmp_path: Path) -> None:
    configured = Path(settings.database_url.removeprefix("sqlite:///"))
    Database(settings.database_url).close()
    before = configured.read_bytes()

    result = CliRunner().invoke(app, ["knowledge", "generate", "--products", "2", "--out", str(configured), "--force"])

    assert result.exit_code == 2 and "DATABASE_URL" in result.stderr
    assert configured.read_bytes() == before


def test_generate_command_never_writes_into_the_configured_database_url(database: Database) -> None:
    result = invoke("knowledge", "generate", "--products", "2", "--out", database.url)

    assert result.exit_code == 2 and "DATABASE_URL" in result.stderr
    assert row_counts(database)["product"] == 0


@pytest.mark.postgres_only
def test_generate_command_fills_an_empty_database_by_url(database: Database,
                                                         postgres_databases: PostgresDatabases) -> None:
    target = make_url(postgres_databases.create()).set(password="not-shown")  # the test server trusts everyone
    url = target.render_as_string(hide_password=False)
    try:
        first = invoke("knowledge", "generate", "--products", "4", "--calls", "3", "--out", url)
        again = invoke("knowledge", "generate", "--products", "4", "--out", url)
        forced = invoke("knowledge", "generate", "--products", "4", "--out", url, "--force")

        assert first.exit_code == 0 and "product=4" in first.stdout and "meeting=3" in first.stdout
        assert again.exit_code == 2 and "already has data" in again.stderr
        assert forced.exit_code == 2 and "empty database" in forced.stderr
        assert all("not-shown" not in result.output + result.stderr for result in (first, again, forced))
        generated = Database(url)
        assert query(generated, "SELECT count(*) FROM product") == [(4,)]
        generated.close()
        assert row_counts(database)["product"] == 0  # the configured database was left alone
    finally:
        postgres_databases.drop(url)
