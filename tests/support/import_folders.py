"""Import folders for the knowledge-import tests: a small dataset touching every file kind, written as JSON or
CSV, and broken variants of it (each with the file, row, field and words its rejection must name)."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect
from sqlmodel import SQLModel

from knowledge.db import Database
from knowledge.import_rows import LIST_FIELDS
from knowledge.importer import import_folder

Rows = dict[str, list[dict[str, Any]]]

def sample_rows() -> Rows:
    """One small dataset touching every file kind."""
    return {
        "products": [
            {"slug": "comet", "name": "Comet", "tagline": "Sales workspace", "is_primary": True},
            {"slug": "nova", "name": "Nova", "category": "Feedback"},
        ],
        "plans": [
            {"product": "comet", "slug": "basic", "name": "Basic", "price_cents": 1000, "per_seat": True},
            {"product": "comet", "slug": "pro", "name": "Pro", "price_cents": 3000, "per_seat": True,
             "billing_period": "year", "annual_discount_pct": 10, "description": "For growing teams, with SSO."},
            {"product": "comet", "slug": "enterprise", "name": "Enterprise", "price_cents": None,
             "billing_period": "custom"},
            {"product": "nova", "slug": "pro", "name": "Pro", "price_cents": 2000, "currency": "eur"},
        ],
        "features": [
            {"product": "comet", "slug": "sso", "name": "Single sign-on", "category": "Security"},
            {"product": "comet", "slug": "csv-export", "name": "CSV export"},
        ],
        "plan_features": [
            {"product": "comet", "plan": "pro", "feature": "sso", "detail": "SAML"},
            {"product": "comet", "plan": "enterprise", "feature": "sso", "detail": "SAML + SCIM"},
            {"product": "comet", "plan": "basic", "feature": "csv-export"},
        ],
        "integrations": [
            {"product": "comet", "slug": "salesforce", "name": "Salesforce", "min_plan": "pro",
             "description": "Two-way sync, every 5 minutes"},
            {"product": "nova", "slug": "slack", "name": "Slack"},
        ],
        "limits": [
            {"product": "comet", "plan": "basic", "name": "API rate limit", "value": "60 requests/minute"},
            {"product": "comet", "plan": "enterprise", "name": "Uptime SLA", "value": "99.95%"},
        ],
        "compliance": [
            {"product": "comet", "name": "SOC 2 Type II", "status": "certified", "details": "Annual audit"},
            {"product": "comet", "name": "Encryption at rest", "status": "supported"},
        ],
        "addons": [
            {"product": "comet", "slug": "analytics", "name": "Analytics", "price_cents": 1500, "per_seat": True,
             "available_on": ["basic", "pro"], "description": "Win-loss reports; included on Enterprise"},
        ],
        "faqs": [
            {"product": "comet", "question": "Is there a free trial?", "answer": "Yes, 14 days, no card needed."},
        ],
        "accounts": [
            {"slug": "zenith", "name": "Zenith Corp", "segment": "Enterprise", "owner": "Maya"},
        ],
        "contacts": [
            {"account": "zenith", "name": "Ada Byrne", "email": "Ada@Zenith.example", "title": "CFO"},
            {"account": "zenith", "name": "Ben Ode"},
        ],
        "meetings": [
            {"external_id": "rec-1", "account": "zenith", "title": "Zenith discovery", "kind": "Discovery",
             "started_at": "2025-03-04T16:30:00+02:00", "participants": ["Maya", "Ada Byrne"],
             "summary": "Budget approved for Q3.", "decisions": ["Run a pilot"],
             "action_items": ["Maya to send pricing", "Ada to confirm seats"]},
        ],
        "transcripts": [
            {"meeting": "rec-1", "seq": 1, "speaker": "Maya", "text": "Thanks for joining; let's talk pricing."},
            {"meeting": "rec-1", "seq": 2, "speaker": "Ada Byrne", "text": "We need data residency in the EU, "
             "and a \"fair\" discount.", "offset_s": 4.5},
        ],
    }


def write_folder(folder: Path, rows: Rows, fmt: str) -> Path:
    """Write `rows` as one JSON or CSV file per kind (CSV lists as `a;b`, None as an empty cell)."""
    folder.mkdir(parents=True, exist_ok=True)
    for kind, records in rows.items():
        if fmt == "json":
            (folder / f"{kind}.json").write_text(json.dumps(records, indent=1), encoding="utf-8")
            continue
        columns = list(dict.fromkeys(key for record in records for key in record))
        with (folder / f"{kind}.csv").open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(columns)
            for record in records:
                writer.writerow([_cell(record.get(column), column) for column in columns])
    return folder


def _cell(value: Any, column: str) -> str:
    if value is None:
        return ""
    if column in LIST_FIELDS:
        return ";".join(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# Two rows a running server has not seen: an account and its contact.
NEW_ACCOUNTS = {
    "accounts": [{"slug": "quasar", "name": "Quasar Freight", "segment": "Mid-market", "owner": "Maya"}],
    "contacts": [{"account": "quasar", "name": "Ines Quarry", "email": "ines@quasar.example", "title": "COO"}],
}


def import_new_accounts(db: Database, tmp_path: Path) -> None:
    """Import NEW_ACCOUNTS (one JSON folder under `tmp_path`)."""
    import_folder(db, write_folder(tmp_path / "quasar", NEW_ACCOUNTS, "json"))


def row_counts(db: Database) -> dict[str, int]:
    """Rows per table (and in SQLite's FTS index)."""
    with db.engine.connect() as connection:
        names = [table.name for table in SQLModel.metadata.sorted_tables]
        if inspect(connection).has_table("transcript_fts"):
            names.append("transcript_fts")
        return {name: connection.exec_driver_sql(f"SELECT count(*) FROM {name}").scalar_one() for name in names}


def _malformed_json(folder: Path) -> None:
    (folder / "transcripts.json").write_text('[{"meeting": "rec-1", "seq": 1,\n "speaker": "Maya" "text": "x"}]')


def _missing_field(folder: Path) -> None:
    rows = sample_rows()["transcripts"]
    del rows[1]["speaker"]
    (folder / "transcripts.json").write_text(json.dumps(rows))


def _dangling_reference(folder: Path) -> None:
    rows = sample_rows()["transcripts"]
    rows[1]["meeting"] = "rec-404"
    (folder / "transcripts.json").write_text(json.dumps(rows))


def _bad_enum(folder: Path) -> None:
    (folder / "plans.csv").write_text("product,slug,name,billing_period\ncomet,pro,Pro,month\ncomet,team,Team,weekly\n")


def _bad_csv_cells(folder: Path) -> None:
    (folder / "limits.csv").write_text("product,plan,name,value\ncomet,basic,Seats,5\ncomet,pro,Seats,10,extra\n")


def _bad_csv_quote(folder: Path) -> None:
    (folder / "faqs.csv").write_text('product,question,answer\ncomet,"Trial?,Yes\n')


def _bad_integer(folder: Path) -> None:
    (folder / "plans.csv").write_text("product,slug,name,price_cents\ncomet,pro,Pro,3000\ncomet,team,Team,12.5.0\n")


def _dangling_plan_in_list(folder: Path) -> None:
    rows = sample_rows()["addons"]
    rows[0]["available_on"] = ["basic", "platinum"]
    (folder / "addons.json").write_text(json.dumps(rows))


# (mutation, file, row, field, words in the message)
BROKEN = [
    pytest.param(_malformed_json, "transcripts.json", "line 2", None, "not valid JSON", id="malformed-json"),
    pytest.param(_missing_field, "transcripts.json", "record 2", "speaker", "required field is missing",
                 id="missing-field"),
    pytest.param(_dangling_reference, "transcripts.json", "record 2", "meeting", "rec-404", id="dangling-reference"),
    pytest.param(_bad_enum, "plans.csv", "line 3", "billing_period", "weekly", id="bad-enum"),
    pytest.param(_bad_csv_cells, "limits.csv", "line 3", None, "5 cells but the header has 4", id="csv-cells"),
    pytest.param(_bad_csv_quote, "faqs.csv", "line 2", None, "malformed CSV", id="csv-quote"),
    pytest.param(_bad_integer, "plans.csv", "line 3", "price_cents", "valid integer", id="bad-integer"),
    pytest.param(_dangling_plan_in_list, "addons.json", "record 1", "available_on", "platinum", id="dangling-list"),
]


def prepare_broken_import(database: Database, tmp_path: Path, mutate: Callable[[Path], None]) -> Path:
    """A database holding the sample, and a folder of new rows (every kind) with one broken file."""
    import_folder(database, write_folder(tmp_path / "first", sample_rows(), "json"))
    rows = sample_rows()
    rows["products"].append({"slug": "vega", "name": "Vega"})
    rows["plans"].append({"product": "vega", "slug": "solo", "name": "Solo", "price_cents": 500})
    rows["accounts"].append({"slug": "orion", "name": "Orion"})
    rows["meetings"][0]["summary"] = "Changed summary"
    folder = write_folder(tmp_path / "second", rows, "json")
    mutate(folder)
    for written in folder.glob("*.csv"):  # a CSV mutation replaces the JSON file of its kind
        written.with_suffix(".json").unlink(missing_ok=True)
    return folder
