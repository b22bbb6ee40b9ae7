"""The mapping file (TOML, docs/airtable.md): which Airtable base and tables feed which pitcrew kinds, and
which Airtable field feeds which pitcrew field. A linked-record field names the kind it links to and resolves
to that record's slug (the natural key rows name each other by)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from knowledge.import_rows import LIST_FIELDS, ROW_MODELS

EXAMPLE_MAPPING = Path(__file__).with_name("mapping.example.toml")  # a typical catalog base, commented

# Kinds a sync can fill (meetings and transcripts come from call recorders, not the catalog base).
SYNC_KINDS = ("products", "plans", "features", "plan_features", "integrations", "limits", "compliance", "addons",
              "faqs", "accounts", "contacts")
# A linked record of these kinds stands for its slug.
LINKABLE = frozenset({"products", "plans", "features", "accounts"})


class MappingError(Exception):
    """The mapping file is missing or wrong; the message is one line for a person."""


@dataclass(frozen=True)
class FieldMap:
    """Where one pitcrew field comes from."""

    airtable: str  # the Airtable field name
    link: str | None = None  # the kind a linked-record field links to
    scale: float | None = None  # multiply a number by this (e.g. 100: a dollar price into cents)


@dataclass(frozen=True)
class TableMap:
    kind: str
    table: str  # the Airtable table's name or id
    fields: dict[str, FieldMap]

    def airtable_field(self, pitcrew_field: str | None) -> str | None:
        """The Airtable field a pitcrew field comes from, for messages."""
        mapped = self.fields.get(pitcrew_field or "")
        return mapped.airtable if mapped else pitcrew_field


@dataclass(frozen=True)
class Mapping:
    base: str
    tables: dict[str, TableMap] = field(default_factory=dict)  # kind -> its table, in import order
    source: str = ""  # the file it was read from

    def kind_of_table(self, name_or_id: str) -> str | None:
        for kind, table in self.tables.items():
            if table.table == name_or_id:
                return kind
        return None


def load_mapping(path: Path) -> Mapping:
    """Read and check the mapping file; raises MappingError naming the first problem."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MappingError(f"no mapping file at {path}; copy knowledge/airtable/mapping.example.toml there "
                           "(or set AIRTABLE_MAPPING) and name your base and tables in it") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise MappingError(f"cannot read the mapping file {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(f"{path} is not valid TOML: {exc}") from None
    return parse_mapping(data, source=str(path))


def parse_mapping(data: dict[str, Any], *, source: str = "mapping") -> Mapping:
    base = data.get("base")
    if not isinstance(base, str) or not base.strip():
        raise MappingError(f"{source}: `base` must name the Airtable base id (app...)")
    raw_tables = data.get("tables")
    if not isinstance(raw_tables, dict) or not raw_tables:
        raise MappingError(f"{source}: no [tables.<kind>] sections; kinds are: {', '.join(SYNC_KINDS)}")
    unknown = [kind for kind in raw_tables if kind not in SYNC_KINDS]
    if unknown:
        raise MappingError(f"{source}: [tables.{unknown[0]}] is not a kind pitcrew syncs; use one of: "
                           f"{', '.join(SYNC_KINDS)}")
    tables = {kind: _table(kind, raw_tables[kind], source) for kind in SYNC_KINDS if kind in raw_tables}
    return Mapping(base=base.strip(), tables=tables, source=source)


def _table(kind: str, raw: Any, source: str) -> TableMap:
    where = f"{source}: [tables.{kind}]"
    if not isinstance(raw, dict) or not isinstance(raw.get("table"), str) or not raw["table"].strip():
        raise MappingError(f"{where} needs `table`, the Airtable table's name or id")
    raw_fields = raw.get("fields")
    if not isinstance(raw_fields, dict) or not raw_fields:
        raise MappingError(f"{where} needs a [tables.{kind}.fields] section: pitcrew field = \"Airtable field\"")
    model = ROW_MODELS[kind]
    fields: dict[str, FieldMap] = {}
    for name, spec in raw_fields.items():
        if name not in model.model_fields:
            raise MappingError(f"{where}: `{name}` is not a field of {kind}; its fields are: "
                               f"{', '.join(model.model_fields)}")
        fields[name] = _field(spec, f"{where} field `{name}`", many=name in LIST_FIELDS)
    missing = [name for name, info in model.model_fields.items() if info.is_required() and name not in fields]
    if missing:
        raise MappingError(f"{where}: required field{'s' * (len(missing) > 1)} not mapped: {', '.join(missing)}")
    return TableMap(kind=kind, table=raw["table"].strip(), fields=fields)


def _field(spec: Any, where: str, *, many: bool) -> FieldMap:
    if isinstance(spec, str) and spec.strip():
        return FieldMap(airtable=spec)
    if not isinstance(spec, dict) or not isinstance(spec.get("field"), str) or not spec["field"].strip():
        raise MappingError(f"{where}: give the Airtable field's name, or {{ field = \"...\", link = \"<kind>\" }}")
    extra = set(spec) - {"field", "link", "scale"}
    if extra:
        raise MappingError(f"{where}: unknown key `{sorted(extra)[0]}` (keys: field, link, scale)")
    link = spec.get("link")
    if link is not None and link not in LINKABLE:
        raise MappingError(f"{where}: `link` must be one of {', '.join(sorted(LINKABLE))}")
    scale = spec.get("scale")
    if scale is not None and (isinstance(scale, bool) or not isinstance(scale, int | float) or scale <= 0):
        raise MappingError(f"{where}: `scale` must be a positive number")
    return FieldMap(airtable=spec["field"], link=link, scale=float(scale) if scale is not None else None)
