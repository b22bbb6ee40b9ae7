"""The Airtable API through pyairtable: a base's records, its tables' ids, its webhook."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pyairtable import Api, retry_strategy
from pyairtable.formulas import EQ, OR, RECORD_ID

from knowledge.airtable.mapping import Mapping

PAGE_SIZE = 100  # Airtable's largest page
IDS_PER_FORMULA = 50  # record ids per filterByFormula: keeps the URL well under Airtable's length limit
TIMEOUT_S = (5.0, 30.0)  # connect, read


def connect(token: str, api_url: str) -> Api:
    """An API client; 429s (Airtable allows 5 requests/s per base) and 503s are retried with backoff."""
    retry = retry_strategy(status_forcelist=(429, 503), backoff_factor=0.25, total=8)
    return Api(token, endpoint_url=api_url, timeout=TIMEOUT_S, retry_strategy=retry)


class AirtableBase:
    """The mapped base: reads records by kind."""

    def __init__(self, api: Api, mapping: Mapping) -> None:
        self.mapping = mapping
        self.base = api.base(mapping.base)

    def all_records(self, kind: str) -> list[dict[str, Any]]:
        table = self.base.table(self.mapping.tables[kind].table)
        return [dict(record) for record in table.all(page_size=PAGE_SIZE)]

    def records(self, kind: str, record_ids: Iterable[str]) -> list[dict[str, Any]]:
        """The records with these ids that still exist."""
        table = self.base.table(self.mapping.tables[kind].table)
        ids = sorted(set(record_ids))
        found: list[dict[str, Any]] = []
        for start in range(0, len(ids), IDS_PER_FORMULA):
            formula = OR(*(EQ(RECORD_ID(), record_id) for record_id in ids[start:start + IDS_PER_FORMULA]))
            found.extend(dict(record) for record in table.all(formula=formula, page_size=PAGE_SIZE))
        return found

    def kinds_by_table_id(self) -> dict[str, str]:
        """Table id -> the kind it feeds (webhook payloads name tables by id)."""
        kinds = {}
        for table in self.base.schema().tables:
            kind = self.mapping.kind_of_table(table.id) or self.mapping.kind_of_table(table.name)
            if kind is not None:
                kinds[table.id] = kind
        return kinds
