"""Looking inside a JSON list column (a meeting's participants) on each engine.

SQLite reads a list's elements with json_each, PostgreSQL with json_array_elements_text (the column is
`json` there; the cast also takes `jsonb`); both name the element `value`. SQLite finds text in text with
instr, PostgreSQL with strpos.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, Engine

from knowledge.dialects import version_for


@dataclass(frozen=True)
class JsonListSQL:
    elements: str  # a table of the list's elements, one `value` column: format with column=
    contains: str  # true when text `haystack` holds text `needle`: format with haystack=, needle=

    def any_element(self, column: str, condition: str) -> str:
        """True when an element `p.value` of the list in `column` meets `condition`."""
        return f"EXISTS (SELECT 1 FROM {self.elements.format(column=column)} AS p WHERE {condition})"

    def holds(self, haystack: str, needle: str) -> str:
        return self.contains.format(haystack=haystack, needle=needle)


_BY_ENGINE = {
    "sqlite": JsonListSQL(elements="json_each({column})", contains="instr({haystack}, {needle}) > 0"),
    "postgresql": JsonListSQL(elements="json_array_elements_text(CAST({column} AS json))",
                              contains="strpos({haystack}, CAST({needle} AS text)) > 0"),
}


def for_engine(engine: Engine | Connection) -> JsonListSQL:
    """The JSON list SQL of `engine`'s database."""
    return version_for(_BY_ENGINE, engine, "reading JSON lists")
