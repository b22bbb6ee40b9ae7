"""Why an import is refused: its problems, file by file (apart from the reading, so catching one is cheap)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

MAX_PROBLEMS_SHOWN = 20


@dataclass(frozen=True)
class ImportProblem:
    """One reason an import is refused: which file, which row (`record 3`, `line 4`) and which field."""

    file: str
    message: str
    row: str | None = None
    field: str | None = None

    def __str__(self) -> str:
        where = [self.file]
        if self.row:
            where.append(self.row)
        if self.field:
            where.append(f"field '{self.field}'")
        return f"{', '.join(where)}: {self.message}"


class ImportRejected(Exception):
    """The import was refused and nothing was written; `problems` says why, file by file."""

    def __init__(self, problems: Sequence[ImportProblem]) -> None:
        self.problems = list(problems)
        super().__init__(self.describe())

    def describe(self, limit: int = MAX_PROBLEMS_SHOWN) -> str:
        lines = [str(problem) for problem in self.problems[:limit]]
        if len(self.problems) > limit:
            lines.append(f"... and {len(self.problems) - limit} more problems")
        return "\n".join(lines)
