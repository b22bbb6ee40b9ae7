"""`pitcrew snapshots rebuild` and `pitcrew snapshots show`: JSON and text output, one-line errors, the demo on a
fresh database."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import text
from typer.testing import CliRunner

from bot.cli.main import app
from knowledge.db import Database
from knowledge.snapshots import rebuild_snapshots
from tests.support.catalog_factory import sample_catalog


def execute(db: Database, sql: str, **params: Any) -> None:
    with db.engine.begin() as connection:
        connection.execute(text(sql), params)


def run_cli(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def test_rebuild_json_twice_builds_then_reports_all_unchanged(database: Database) -> None:
    sample_catalog(database)
    first = run_cli("snapshots", "rebuild", "--json")
    assert first.exit_code == 0, first.output
    data = json.loads(first.stdout)
    assert set(data) == {"built", "unchanged", "failed", "seconds"}
    assert (data["built"], data["unchanged"], data["failed"]) == (3, 0, 0)
    assert isinstance(data["seconds"], float)

    second = json.loads(run_cli("snapshots", "rebuild", "--json").stdout)
    assert (second["built"], second["unchanged"], second["failed"]) == (0, 3, 0)

    forced = json.loads(run_cli("snapshots", "rebuild", "--product", "relay", "--force", "--json").stdout)
    assert (forced["built"], forced["unchanged"]) == (1, 0)


def test_rebuild_command_errors_are_one_line(database: Database) -> None:
    sample_catalog(database)
    unknown = run_cli("snapshots", "rebuild", "--product", "orbt")
    assert unknown.exit_code == 1
    assert unknown.stderr.strip() == "pitcrew: error: unknown product 'orbt' (did you mean Orbit?)"

    execute(database, "UPDATE integration SET min_plan_slug = 'gold' WHERE slug = 'salesforce'")
    broken = run_cli("snapshots", "rebuild", "--json")
    assert broken.exit_code == 1
    assert json.loads(broken.stdout)["failed"] == 3
    assert "orbit: integration 'salesforce' names unknown plan 'gold'" in broken.stderr
    assert "Traceback" not in broken.output


def test_rebuild_command_prints_a_summary_without_json(database: Database) -> None:
    sample_catalog(database)
    result = run_cli("snapshots", "rebuild")
    assert result.exit_code == 0
    assert "3 built, 0 unchanged, 0 failed" in result.stdout


def test_show_prints_a_snapshot(database: Database) -> None:
    sample_catalog(database)
    rebuild_snapshots(database)
    shown = run_cli("snapshots", "show", "ORBIT")
    assert shown.exit_code == 0
    assert "Orbit (orbit) · version 1, built" in shown.stdout
    assert "Team: $59/seat/month" in shown.stdout

    data = json.loads(run_cli("snapshots", "show", "orbit", "--json").stdout)
    assert (data["slug"], data["version"], data["path"]) == ("orbit", 1, "fast")
    assert data["payload"]["plans"][0]["name"] == "Starter"
    assert len(data["source_hash"]) == 64

    missing = run_cli("snapshots", "show", "beakon")
    assert missing.exit_code == 1
    assert missing.stderr.strip() == "pitcrew: error: no product named 'beakon' (did you mean Beacon?)"


def test_first_rebuild_on_a_fresh_database_builds_the_demo_products(database: Database) -> None:
    first = run_cli("snapshots", "rebuild", "--json")
    assert first.exit_code == 0, first.output
    with database.engine.connect() as connection:
        products = connection.execute(text("SELECT count(*) FROM product")).scalar_one()
    assert products >= 6
    assert json.loads(first.stdout) | {"seconds": 0} == {"built": products, "unchanged": 0, "failed": 0, "seconds": 0}
    second = json.loads(run_cli("snapshots", "rebuild", "--json").stdout)
    assert (second["built"], second["unchanged"], second["failed"]) == (0, products, 0)
    shown = run_cli("snapshots", "show", "orbit")
    assert shown.exit_code == 0 and "Orbit (orbit) · version 1" in shown.stdout


def test_rebuild_changed_checks_only_the_logged_products(database: Database) -> None:
    sample_catalog(database)
    first = json.loads(run_cli("snapshots", "rebuild", "--changed", "--json").stdout)
    assert (first["built"], first["unchanged"]) == (3, 0)  # never checked in full: everything is checked once

    execute(database, "UPDATE product SET tagline = 'Edited' WHERE slug = 'relay'")
    edited = json.loads(run_cli("snapshots", "rebuild", "--changed", "--json").stdout)
    assert (edited["built"], edited["unchanged"], edited["failed"]) == (1, 0, 0)
    idle = json.loads(run_cli("snapshots", "rebuild", "--changed", "--json").stdout)
    assert (idle["built"], idle["unchanged"]) == (0, 0)  # nothing logged, no product checked

    both = run_cli("snapshots", "rebuild", "--changed", "--product", "relay")
    assert both.exit_code == 2 and both.stderr.startswith("pitcrew: error: --changed and --product cannot")
