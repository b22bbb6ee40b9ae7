"""Reading an import folder: which files it holds and their raw rows, with precise locations for errors."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from knowledge.import_problems import ImportProblem, ImportRejected  # here too, where importers look for them
from knowledge.import_rows import ROW_MODELS

SUFFIXES = (".json", ".csv")


@dataclass(frozen=True)
class SourceRow:
    where: str  # "record 3" (JSON, 1-based) or "line 4" (CSV, the header is line 1)
    data: dict[str, Any]


@dataclass(frozen=True)
class SourceFile:
    kind: str  # one of ROW_MODELS
    name: str  # the file name, for messages
    rows: tuple[SourceRow, ...]


def expected_names() -> str:
    return ", ".join(f"{kind}.json|csv" for kind in ROW_MODELS)


def find_files(path: Path) -> list[tuple[str, Path]]:
    """The (kind, file) pairs to import from a folder (or one file), in dependency order."""
    if not path.exists():
        raise ImportRejected([ImportProblem(str(path), "no such file or folder")])
    candidates = [path] if path.is_file() else sorted(p for p in path.iterdir() if not p.name.startswith("."))
    problems: list[ImportProblem] = []
    by_kind: dict[str, Path] = {}
    for candidate in candidates:
        if candidate.is_dir():
            continue  # sub-folders are not part of the format
        kind = candidate.stem
        if candidate.suffix.lower() not in SUFFIXES or kind not in ROW_MODELS:
            problems.append(ImportProblem(candidate.name, f"not an import file; expected one of: {expected_names()}"))
        elif kind in by_kind:
            problems.append(ImportProblem(candidate.name, f"{by_kind[kind].name} holds the same kind; keep one"))
        else:
            by_kind[kind] = candidate
    if problems:
        raise ImportRejected(problems)
    if not by_kind:
        raise ImportRejected([ImportProblem(str(path), f"no data files found; expected any of: {expected_names()}")])
    return [(kind, by_kind[kind]) for kind in ROW_MODELS if kind in by_kind]


def read_folder(path: Path) -> list[SourceFile]:
    """Every import file under `path`, parsed into raw rows; every file-level problem is reported at once."""
    files: list[SourceFile] = []
    problems: list[ImportProblem] = []
    for kind, file_path in find_files(path):
        try:
            files.append(read_file(kind, file_path))
        except ImportRejected as exc:
            problems.extend(exc.problems)
    if problems:
        raise ImportRejected(problems)
    return files


def read_file(kind: str, path: Path) -> SourceFile:
    try:
        content = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportRejected([ImportProblem(path.name, f"not UTF-8 text (byte {exc.start})")]) from None
    except OSError as exc:
        raise ImportRejected([ImportProblem(path.name, f"cannot read: {exc.strerror}")]) from None
    if not content.strip():
        raise ImportRejected([ImportProblem(path.name, "the file is empty")])
    if path.suffix.lower() == ".json":
        rows = _json_rows(path.name, content)
    else:
        rows = _csv_rows(path.name, content, known_columns=tuple(ROW_MODELS[kind].model_fields))
    return SourceFile(kind=kind, name=path.name, rows=tuple(rows))


def _json_rows(name: str, content: str) -> list[SourceRow]:
    try:
        data = json.loads(content)
    except json.JSONDecodeError as exc:
        problem = ImportProblem(name, f"not valid JSON: {exc.msg}", row=f"line {exc.lineno}, column {exc.colno}")
        raise ImportRejected([problem]) from None
    if not isinstance(data, list):
        raise ImportRejected([ImportProblem(name, "expected a JSON array of objects")])
    rows, problems = [], []
    for number, item in enumerate(data, start=1):
        if isinstance(item, dict):
            rows.append(SourceRow(f"record {number}", item))
        else:
            problems.append(ImportProblem(name, f"expected an object, got {type(item).__name__}", row=f"record {number}"))
    if problems:
        raise ImportRejected(problems)
    return rows


def _csv_rows(name: str, content: str, known_columns: Sequence[str]) -> list[SourceRow]:
    lines = content.splitlines(keepends=True)
    reader = csv.reader(lines, strict=True)
    try:
        header = [column.strip() for column in next(reader)]
        _check_header(name, header, known_columns)
        rows, problems = [], []
        line = reader.line_num + 1
        for cells in reader:
            where = f"line {line}"
            line = reader.line_num + 1
            if not any(cell.strip() for cell in cells):
                continue  # blank line
            if len(cells) != len(header):
                problems.append(ImportProblem(name, f"{len(cells)} cells but the header has {len(header)} columns",
                                              row=where))
                continue
            rows.append(SourceRow(where, {column: _cell(cell) for column, cell in zip(header, cells, strict=True)}))
    except csv.Error as exc:
        raise ImportRejected([ImportProblem(name, f"malformed CSV: {exc}", row=f"line {reader.line_num}")]) from None
    if problems:
        raise ImportRejected(problems)
    return rows


def _check_header(name: str, header: Iterable[str], known_columns: Sequence[str]) -> None:
    """Unnamed, repeated or unknown columns are refused once, here, rather than on every row."""
    seen: set[str] = set()
    problems = []
    for position, column in enumerate(header, start=1):
        if not column:
            problems.append(ImportProblem(name, f"header column {position} has no name", row="line 1"))
        elif column in seen:
            problems.append(ImportProblem(name, "column appears twice in the header", row="line 1", field=column))
        elif column not in known_columns:
            problems.append(ImportProblem(name, f"unknown column; the columns of {name.rsplit('.', 1)[0]} are: "
                                          f"{', '.join(known_columns)}", row="line 1", field=column))
        seen.add(column)
    if problems:
        raise ImportRejected(problems)


def _cell(value: str) -> str | None:
    """An empty CSV cell means "no value" (the field's default, or missing if it is required)."""
    stripped = value.strip()
    return stripped or None
