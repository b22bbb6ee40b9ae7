"""Knowledge import: JSON and CSV folders, idempotent upserts, all-or-nothing rollback with precise messages
(the `pitcrew knowledge import` command is tested in tests/bot/cli/test_knowledge.py)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, text
from sqlmodel import SQLModel

from knowledge.db import Database
from knowledge.import_files import ImportRejected
from knowledge.importer import import_folder
from tests.support.import_folders import BROKEN, prepare_broken_import, row_counts, sample_rows, write_folder
from tests.support.stored_values import stored_datetime, stored_json

SNAPSHOT_TABLES = {"productsnapshot", "snapshotalias"}  # built_at differs between runs


def table_dump(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every source table (and SQLite's FTS index), for before/after comparisons."""
    dump = {}
    with db.engine.connect() as connection:
        for table in SQLModel.metadata.sorted_tables:
            if table.name not in SNAPSHOT_TABLES | {"knowledgerevision"}:  # its time of change differs per run
                dump[table.name] = [tuple(row) for row in connection.execute(table.select().order_by(*table.primary_key))]
        if inspect(connection).has_table("transcript_fts"):
            dump["transcript_fts"] = connection.exec_driver_sql("SELECT rowid, text FROM transcript_fts").all()
    return dump


def snapshot_versions(db: Database) -> dict[str, int]:
    with db.engine.connect() as connection:
        return dict(connection.exec_driver_sql("SELECT slug, version FROM productsnapshot").all())


# --- happy paths ---------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_import_writes_every_kind_and_rebuilds_snapshots(database: Database, tmp_path: Path, fmt: str) -> None:
    report = import_folder(database, write_folder(tmp_path / "in", sample_rows(), fmt))

    counts = row_counts(database)
    assert {k: counts[k] for k in ("product", "plan", "feature", "planfeature", "integration", "planlimit",
                                   "complianceitem", "addon", "faq", "account", "contact", "meeting",
                                   "transcriptsegment")} == {
        "product": 2, "plan": 4, "feature": 2, "planfeature": 3, "integration": 2, "planlimit": 2,
        "complianceitem": 2, "addon": 1, "faq": 1, "account": 1, "contact": 2, "meeting": 1,
        "transcriptsegment": 2}
    assert report.kinds["plans"].inserted == 4 and report.changed
    assert report.changed_products == ["comet", "nova"]
    assert report.rebuild is not None and report.rebuild.built == 2 and report.rebuild.failed == 0
    assert set(snapshot_versions(database)) == {"comet", "nova"}

    with database.engine.connect() as connection:
        plans = connection.execute(text(
            "SELECT p.slug, pl.slug, pl.position, pl.price_cents, pl.currency, pl.billing_period, pl.per_seat "
            "FROM plan pl JOIN product p ON p.id = pl.product_id ORDER BY p.slug, pl.position")).all()
        addon = connection.execute(text("SELECT available_on FROM addon")).scalar_one()
        integration = connection.execute(text("SELECT min_plan_slug FROM integration WHERE slug='salesforce'")).one()
        meeting = connection.execute(text("SELECT kind, started_at, participants, action_items FROM meeting")).one()
        contact = connection.execute(text("SELECT email FROM contact WHERE name='Ada Byrne'")).scalar_one()
    assert plans == [("comet", "basic", 0, 1000, "USD", "month", 1), ("comet", "pro", 1, 3000, "USD", "year", 1),
                     ("comet", "enterprise", 2, None, "USD", "custom", 0), ("nova", "pro", 0, 2000, "EUR", "month", 0)]
    assert addon == "basic,pro" and integration == ("pro",)
    assert meeting[0] == "discovery"
    assert stored_datetime(meeting[1]) == datetime(2025, 3, 4, 14, 30)  # +02:00 stored as naive UTC
    assert stored_json(meeting[2]) == ["Maya", "Ada Byrne"]
    assert stored_json(meeting[3]) == ["Maya to send pricing", "Ada to confirm seats"]
    assert contact == "ada@zenith.example"


@pytest.mark.sqlite_only  # the FTS5 index and its triggers; PostgreSQL's search column is the server's own
def test_imported_transcripts_are_in_the_call_search_index(database: Database, tmp_path: Path) -> None:
    import_folder(database, write_folder(tmp_path / "in", sample_rows(), "json"))
    with database.engine.connect() as connection:
        indexed = connection.execute(text("SELECT count(*) FROM transcript_fts")).scalar_one()
        hits = connection.execute(text(
            "SELECT count(*) FROM transcript_fts WHERE transcript_fts MATCH '\"data residency\"'")).scalar_one()
    assert (indexed, hits) == (2, 1)


def test_json_and_csv_folders_load_identical_rows(tmp_path: Path) -> None:
    dumps = []
    for fmt in ("json", "csv"):
        db = Database(f"sqlite:///{tmp_path / fmt}.db")
        import_folder(db, write_folder(tmp_path / fmt, sample_rows(), fmt), rebuild=False)
        dumps.append(table_dump(db))
        db.close()
    assert dumps[0] == dumps[1]


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_reimporting_the_same_folder_changes_nothing(database: Database, tmp_path: Path, fmt: str) -> None:
    folder = write_folder(tmp_path / "in", sample_rows(), fmt)
    import_folder(database, folder)
    before, versions = table_dump(database), snapshot_versions(database)

    report = import_folder(database, folder)

    assert not report.changed and report.changed_products == [] and report.rebuild is None
    assert all(counts.inserted == counts.updated == 0 for counts in report.kinds.values())
    assert report.kinds["transcripts"].unchanged == 2
    assert table_dump(database) == before
    assert snapshot_versions(database) == versions


def test_update_touches_only_the_columns_a_file_carries(database: Database, tmp_path: Path) -> None:
    import_folder(database, write_folder(tmp_path / "full", sample_rows(), "csv"))
    versions = snapshot_versions(database)
    price_change = {"plans": [{"product": "comet", "slug": "pro", "name": "Pro", "price_cents": 3500}]}

    report = import_folder(database, write_folder(tmp_path / "prices", price_change, "csv"))

    assert report.kinds["plans"].updated == 1 and report.changed_products == ["comet"]
    with database.engine.connect() as connection:
        row = connection.execute(text(
            "SELECT price_cents, billing_period, annual_discount_pct, description FROM plan WHERE slug='pro' "
            "AND product_id=(SELECT id FROM product WHERE slug='comet')")).one()
    assert row == (3500, "year", 10, "For growing teams, with SSO.")
    new_versions = snapshot_versions(database)
    assert new_versions["comet"] == versions["comet"] + 1 and new_versions["nova"] == versions["nova"]


def test_importing_a_new_primary_product_demotes_the_old_one(database: Database, tmp_path: Path) -> None:
    import_folder(database, write_folder(tmp_path / "a", sample_rows(), "json"))
    report = import_folder(database, write_folder(tmp_path / "b", {"products": [
        {"slug": "nova", "name": "Nova", "is_primary": True}]}, "json"))

    with database.engine.connect() as connection:
        primaries = connection.execute(text("SELECT slug FROM product WHERE is_primary")).scalars().all()
    assert primaries == ["nova"]
    assert report.changed_products == ["comet", "nova"]


def test_contacts_are_matched_by_email_then_name(database: Database, tmp_path: Path) -> None:
    import_folder(database, write_folder(tmp_path / "a", sample_rows(), "json"), rebuild=False)
    update = {"contacts": [{"account": "zenith", "name": "Ada B. Byrne", "email": "ada@zenith.example",
                            "title": "Chief Financial Officer"},
                           {"account": "zenith", "name": "ben ode", "title": "IT"}]}

    report = import_folder(database, write_folder(tmp_path / "b", update, "json"), rebuild=False)

    assert (report.kinds["contacts"].inserted, report.kinds["contacts"].updated) == (0, 2)
    with database.engine.connect() as connection:
        contacts = connection.execute(text("SELECT name, email, title FROM contact ORDER BY id")).all()
    assert contacts == [("Ada B. Byrne", "ada@zenith.example", "Chief Financial Officer"), ("ben ode", "", "IT")]


def test_a_single_file_can_be_imported(database: Database, tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "in", {"accounts": sample_rows()["accounts"]}, "csv")
    report = import_folder(database, folder / "accounts.csv")
    assert report.kinds["accounts"].inserted == 1


@pytest.mark.postgres_only
def test_a_large_import_refreshes_the_planner_statistics(database: Database, tmp_path: Path) -> None:
    """Without them PostgreSQL plans the rebuild that follows for empty tables: whole-table scans per chunk."""
    rows = sample_rows()
    rows["faqs"] = [{"product": "comet", "question": f"Question {n}?", "answer": "Yes."} for n in range(1_200)]
    import_folder(database, write_folder(tmp_path / "in", rows, "json"))
    with database.engine.connect() as connection:
        estimated = dict(connection.execute(text(
            "SELECT relname, reltuples FROM pg_class WHERE relname IN ('faq', 'plan')")).all())
    assert estimated["faq"] == 1_200  # analyzed (a never-analyzed table says -1)
    assert estimated["plan"] == -1  # 4 rows: not worth it


# --- rejection and rollback ----------------------------------------------------------------------


@pytest.mark.parametrize(("mutate", "file", "row", "field", "words"), BROKEN)
def test_a_broken_file_rejects_the_whole_import(database: Database, tmp_path: Path, mutate: Callable[[Path], None],
                                               file: str, row: str, field: str | None, words: str) -> None:
    folder = prepare_broken_import(database, tmp_path, mutate)
    before, versions = table_dump(database), snapshot_versions(database)

    with pytest.raises(ImportRejected) as caught:
        import_folder(database, folder)

    problem = next(p for p in caught.value.problems if p.file == file)
    assert problem.row is not None and problem.row.startswith(row)
    assert problem.field == field
    assert words in str(problem)
    assert table_dump(database) == before
    assert snapshot_versions(database) == versions


def test_every_problem_is_reported_not_just_the_first(database: Database, tmp_path: Path) -> None:
    rows = sample_rows()
    rows["plans"][0]["price_cents"] = -5
    rows["plans"][1]["billing_period"] = "fortnight"
    rows["meetings"][0]["started_at"] = "yesterday-ish"
    with pytest.raises(ImportRejected) as caught:
        import_folder(database, write_folder(tmp_path / "in", rows, "json"))
    located = {(p.file, p.row, p.field) for p in caught.value.problems}
    assert located == {("plans.json", "record 1", "price_cents"), ("plans.json", "record 2", "billing_period"),
                       ("meetings.json", "record 1", "started_at")}
    assert row_counts(database)["product"] == 0


def test_duplicate_keys_in_a_file_are_rejected(database: Database, tmp_path: Path) -> None:
    rows = sample_rows()
    rows["features"].append({"product": "comet", "slug": "sso", "name": "SSO again"})
    with pytest.raises(ImportRejected) as caught:
        import_folder(database, write_folder(tmp_path / "in", rows, "csv"))
    assert [str(p) for p in caught.value.problems] == ["features.csv, line 4: duplicate of line 2 (same key)"]


def test_unknown_csv_columns_are_rejected_once(database: Database, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "products.csv").write_text("slug,name,pirce\ncomet,Comet,1\nnova,Nova,2\n")
    with pytest.raises(ImportRejected) as caught:
        import_folder(database, folder)
    [problem] = caught.value.problems
    assert (problem.file, problem.row, problem.field) == ("products.csv", "line 1", "pirce")
    assert "unknown column" in problem.message


def test_unknown_and_ambiguous_file_names_are_rejected(database: Database, tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "in", {"products": sample_rows()["products"]}, "json")
    (folder / "product.csv").write_text("slug,name\nx,X\n")
    (folder / "products.csv").write_text("slug,name\nx,X\n")
    (folder / ".DS_Store").write_text("ignored")
    with pytest.raises(ImportRejected) as caught:
        import_folder(database, folder)
    messages = {p.file: p.message for p in caught.value.problems}
    assert set(messages) == {"product.csv", "products.json"}
    assert "not an import file" in messages["product.csv"] and "products.json|csv" in messages["product.csv"]
    assert "same kind" in messages["products.json"]
    assert row_counts(database)["product"] == 0


def test_naive_and_offset_datetimes_agree(database: Database, tmp_path: Path) -> None:
    rows: Mapping[str, list[dict[str, Any]]] = {
        "accounts": [{"slug": "zenith", "name": "Zenith"}],
        "meetings": [{"external_id": "a", "account": "zenith", "title": "A", "started_at": "2025-03-04T14:30:00"},
                     {"external_id": "b", "account": "zenith", "title": "B", "started_at": "2025-03-04T09:30:00-05:00"}],
    }
    import_folder(database, write_folder(tmp_path / "in", dict(rows), "json"), rebuild=False)
    with database.engine.connect() as connection:
        stored = connection.execute(text("SELECT started_at FROM meeting ORDER BY external_id")).scalars().all()
    assert [stored_datetime(value) for value in stored] == [datetime(2025, 3, 4, 14, 30)] * 2
