"""The fake Airtable API for tests (bot.bench.loopback_airtable, shared with the benchmark), and a catalog base
in it built from an import folder through the shipped example mapping: one table per kind, linked records
between them, prices in dollars, checkboxes left out when false, as a sales team's base would hold them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bot.bench.loopback_airtable import BASE_ID, TOKEN, LoopbackAirtable
from knowledge.airtable.mapping import Mapping, load_mapping
from knowledge.airtable.records import KEY_FIELDS
from knowledge.demo.loader import DEMO_DATA
from knowledge.import_files import read_folder
from knowledge.import_rows import ROW_MODELS

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_MAPPING = ROOT / "docs" / "airtable-mapping.example.toml"

__all__ = ["BASE_ID", "EXAMPLE_MAPPING", "TOKEN", "CatalogBase", "LoopbackAirtable", "example_mapping",
           "fill_catalog"]


def example_mapping() -> Mapping:
    return load_mapping(EXAMPLE_MAPPING)


class CatalogBase:
    """Which record holds which row: `record_id("plans", product="orbit", slug="pro")`."""

    def __init__(self, fake: LoopbackAirtable, mapping: Mapping) -> None:
        self.fake = fake
        self.mapping = mapping
        self.ids: dict[tuple[str, tuple[Any, ...]], str] = {}

    def record_id(self, kind: str, **key: Any) -> str:
        return self.ids[(kind, tuple(key[name] for name in KEY_FIELDS[kind]))]

    def table(self, kind: str) -> str:
        return self.mapping.tables[kind].table

    def field(self, kind: str, pitcrew_field: str) -> str:
        return self.mapping.tables[kind].fields[pitcrew_field].airtable


def fill_catalog(fake: LoopbackAirtable, mapping: Mapping | None = None, folder: Path | None = None) -> CatalogBase:
    """Put the rows of `folder` (the demo catalog by default) into the fake as the mapping's tables."""
    mapping = mapping or example_mapping()
    base = CatalogBase(fake, mapping)
    files = {source.kind: source for source in read_folder(folder or Path(str(DEMO_DATA)))}
    for kind, table in mapping.tables.items():
        fake.add_table(table.table)
        for raw in files[kind].rows if kind in files else ():
            row = ROW_MODELS[kind].model_validate(raw.data)
            fields: dict[str, Any] = {}
            for name in row.model_fields_set:
                mapped = table.fields.get(name)
                value = getattr(row, name)
                if mapped is None or value is None or value is False or value in ("", []):
                    continue
                if mapped.link is not None:
                    values = value if isinstance(value, list) else [value]
                    value = [base.ids[(mapped.link, _link_key(mapped.link, row, slug))] for slug in values]
                elif mapped.scale is not None:
                    value = value / mapped.scale
                fields[mapped.airtable] = value
            record_id = fake.add(table.table, fields, notify_webhooks=False)
            base.ids[(kind, tuple(getattr(row, name) for name in KEY_FIELDS[kind]))] = record_id
    return base


def _link_key(kind: str, row: Any, slug: str) -> tuple[Any, ...]:
    """The key of the `kind` record a row links to by `slug` (plans and features are per product)."""
    return (slug,) if kind in ("products", "accounts") else (row.product, slug)


@contextmanager
def mapping_file(tmp_path: Path, text: str | None = None) -> Iterator[Path]:
    path = tmp_path / "airtable.toml"
    path.write_text(text if text is not None else EXAMPLE_MAPPING.read_text())
    yield path
