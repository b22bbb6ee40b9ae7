"""`pitcrew knowledge import`: exit code 1 with one clear line per problem, counts, and never the demo."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli.main import app
from knowledge.db import Database
from tests.support.import_folders import BROKEN, prepare_broken_import, row_counts, sample_rows, write_folder


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
