"""Joining a group's values into one text on each engine: SQLite's group_concat, PostgreSQL's string_agg.

Bulk reads use it to hand a group's values over in one row (a catalog's 400,000 plans grouped by name
come over as a few rows), which costs less than a row per value; the order inside a group is unspecified.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, Engine

from knowledge.dialects import version_for


@dataclass(frozen=True)
class AggregateSQL:
    joined: str  # format with expression= and separator= (a character code)

    def join(self, expression: str, separator: str) -> str:
        """SQL joining the group's values of `expression` into one text, `separator` (one character) between."""
        return self.joined.format(expression=expression, separator=ord(separator))


_BY_ENGINE = {
    "sqlite": AggregateSQL(joined="group_concat({expression}, char({separator}))"),
    "postgresql": AggregateSQL(joined="string_agg(CAST({expression} AS text), chr({separator}))"),
}


def for_engine(engine: Engine | Connection) -> AggregateSQL:
    """The aggregate SQL of `engine`'s database."""
    return version_for(_BY_ENGINE, engine, "joining values")
