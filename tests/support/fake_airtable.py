"""The fake Airtable API for tests: bot.bench.loopback_airtable (shared with the `airtable` benchmark), with the
demo catalog put in it through the shipped example mapping (`fill_catalog`)."""

from __future__ import annotations

from bot.bench.loopback_airtable import BASE_ID, TOKEN, CatalogBase, LoopbackAirtable, fill_catalog
from knowledge.airtable.mapping import EXAMPLE_MAPPING, Mapping, load_mapping

__all__ = ["BASE_ID", "EXAMPLE_MAPPING", "TOKEN", "CatalogBase", "LoopbackAirtable", "example_mapping",
           "fill_catalog"]


def example_mapping() -> Mapping:
    return load_mapping(EXAMPLE_MAPPING)
