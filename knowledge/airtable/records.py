"""Airtable records into import rows: each mapped field read, linked records resolved to slugs, numbers scaled."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from knowledge.airtable.mapping import TableMap
from knowledge.airtable.state import StoredRecord
from knowledge.import_files import SourceFile, SourceRow
from knowledge.import_problems import ImportProblem
from knowledge.import_rows import LIST_FIELDS, ROW_MODELS

# The fields of each kind's natural key: what the importer upserts on, and what a deletion removes by.
KEY_FIELDS: dict[str, tuple[str, ...]] = {
    "products": ("slug",), "plans": ("product", "slug"), "features": ("product", "slug"),
    "plan_features": ("product", "plan", "feature"), "integrations": ("product", "slug"),
    "limits": ("product", "plan", "name"), "compliance": ("product", "name"), "addons": ("product", "slug"),
    "faqs": ("product", "question"), "accounts": ("slug",), "contacts": ("account", "email", "name"),
}

Record = Mapping[str, Any]  # {"id": "rec...", "createdTime": ..., "fields": {...}} as the API returns it


def where(record_id: str) -> str:
    return f"record {record_id}"


@dataclass
class Converted:
    """One table's records as an import file, what each record's row will be keyed by, and link problems."""

    file: SourceFile
    keys: dict[str, StoredRecord] = field(default_factory=dict)
    problems: list[ImportProblem] = field(default_factory=list)
    # Records left out because they link to a record that is invalid or left out: a consequence, not a cause.
    blocked: list[ImportProblem] = field(default_factory=list)


class _Blocked(Exception):
    """The record links to a record that is not imported this run."""


def convert(table: TableMap, records: Iterable[Record], links: MutableMapping[str, StoredRecord],
            invalid: set[str] | None = None) -> Converted:
    """Read `records` of `table`; `links` (record id -> what it became) resolves linked records and gains the
    keys of these records, so a later kind can link to them. `invalid` (record ids that fail validation or are
    left out) gains this table's invalid records; a record linking to one is left out, in `blocked`."""
    invalid = set() if invalid is None else invalid
    rows: list[SourceRow] = []
    converted = Converted(SourceFile(table.kind, table.table, ()))
    model = ROW_MODELS[table.kind]
    for record in records:
        record_id = str(record["id"])
        cells = record.get("fields") or {}
        data: dict[str, Any] = {}
        try:
            for name, mapped in table.fields.items():
                value = cells.get(mapped.airtable)
                if mapped.link is not None:
                    value = _resolve(value, mapped.link, name in LIST_FIELDS, links, converted, table, record_id,
                                     mapped.airtable, invalid)
                elif mapped.scale is not None and isinstance(value, int | float) and not isinstance(value, bool):
                    value = round(value * mapped.scale)
                data[name] = value
        except _Blocked:
            invalid.add(record_id)
            continue
        rows.append(SourceRow(where(record_id), data))
        try:
            row = model.model_validate(data)
        except ValidationError:
            invalid.add(record_id)
            continue  # the importer names the problem
        key = StoredRecord(table.kind, {name: getattr(row, name) for name in KEY_FIELDS[table.kind]})
        converted.keys[record_id] = key
        links[record_id] = key
    converted.file = SourceFile(table.kind, table.table, tuple(rows))
    return converted


def _resolve(value: Any, kind: str, many: bool, links: Mapping[str, StoredRecord], converted: Converted,
             table: TableMap, record_id: str, airtable_field: str, invalid: set[str]) -> Any:
    """Linked record ids -> the slugs of the rows they became (a list for a list field, else one or None)."""
    if value in (None, "", []):
        return [] if many else None
    ids = value if isinstance(value, list) else [value]
    slugs = []
    for linked in ids:
        if str(linked) in invalid:
            converted.blocked.append(ImportProblem(
                table.table, f"links to {linked}, which is invalid or skipped", row=where(record_id),
                field=airtable_field))
            raise _Blocked
        target = links.get(str(linked))
        if target is None or target.kind != kind or "slug" not in target.key:
            converted.problems.append(ImportProblem(
                table.table, f"links to {linked}, which is not a synced {kind} record", row=where(record_id),
                field=airtable_field))
            return [] if many else None
        slugs.append(target.key["slug"])
    if many:
        return slugs
    if len(slugs) > 1:
        converted.problems.append(ImportProblem(table.table, f"links to {len(slugs)} {kind} records; link one",
                                                row=where(record_id), field=airtable_field))
        return None
    return slugs[0]
