"""Copying an installation's data from one database to another (`pitcrew db copy`), typically SQLite to PostgreSQL.

Every table of the schema is copied, parents before children, in ONE transaction on the target, which is first
brought to this pitcrew's schema revision. Before the commit each table's row count on the target is checked
against the source's (read from one consistent snapshot); any difference rolls everything back. Rows travel in
batches (a streamed read, an executemany per batch).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Connection, Engine, Table, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import SQLModel

from knowledge.db import create_db_engine, redact_url
from knowledge.dialects.bulk_copy import begin_bulk_write, begin_snapshot_read, reset_sequences
from knowledge.models import SnapshotChange
from knowledge.schema import SchemaError, schema_state, upgrade_schema

BATCH_ROWS = 5_000
# Written by triggers when catalog rows are inserted (knowledge.snapshot_changes): copied last, over what the
# copy's own inserts logged, so the target's log is the source's.
_TRIGGER_WRITTEN: tuple[Table, ...] = (SnapshotChange.__table__,)  # type: ignore[attr-defined]


class CopyError(Exception):
    """The copy cannot be made, or was rolled back; the message is for a person (URLs redacted)."""


@dataclass(frozen=True)
class TableCopy:
    name: str
    rows: int
    seconds: float


@dataclass
class CopyReport:
    tables: list[TableCopy] = field(default_factory=list)
    replaced: bool = False  # the target had rows, deleted first (--replace)
    seconds: float = 0.0

    @property
    def rows(self) -> int:
        return sum(table.rows for table in self.tables)

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0


def copy_order() -> list[Table]:
    """Every table of the schema, parents before children, trigger-written tables last."""
    tables = [table for table in SQLModel.metadata.sorted_tables if table not in _TRIGGER_WRITTEN]
    return [*tables, *_TRIGGER_WRITTEN]


def copy_database(source_url: str, target_url: str, *, replace: bool = False, batch_rows: int = BATCH_ROWS,
                  on_table: Callable[[TableCopy], None] | None = None) -> CopyReport:
    """Copy every row of `source_url` into `target_url` (upgraded to head first) in one target transaction.

    A target with rows is refused unless `replace` (its rows are then deleted in the same transaction). Raises
    CopyError with a message for a person; the target is left as it was.
    """
    if _same_database(source_url, target_url):
        raise CopyError("the source and the target are the same database")
    _check_source_exists(source_url)
    source = target = None
    step = _Step()
    try:
        source = create_db_engine(source_url)
        target = create_db_engine(target_url)
        return _copy(source, target, step, replace=replace, batch_rows=batch_rows, on_table=on_table)
    except SchemaError as exc:
        raise CopyError(f"target database {redact_url(target_url)} {exc}") from None
    except SQLAlchemyError as exc:
        raise CopyError(f"{step.doing} failed: {_first_line(exc)}; nothing was committed to the target") from None
    finally:
        for engine in (source, target):
            if engine is not None:
                engine.dispose()


@dataclass
class _Step:
    """What the copy is doing, for the message of a database error."""

    doing: str = "opening the databases"


def _copy(source: Engine, target: Engine, step: _Step, *, replace: bool, batch_rows: int,
          on_table: Callable[[TableCopy], None] | None) -> CopyReport:
    step.doing = f"reading the source database {redact_url(str(source.url))}"
    state = schema_state(source)
    if not state.up_to_date:
        raise CopyError(f"source database {redact_url(str(source.url))} {state.refusal()} on it first")
    step.doing = f"upgrading the target database {redact_url(str(target.url))}"
    upgrade_schema(target)
    step.doing = "the copy"
    report = CopyReport()
    started = time.perf_counter()
    tables = copy_order()
    with source.connect() as reader, target.connect() as writer:
        begin_snapshot_read(reader)
        begin_bulk_write(writer)
        try:
            occupied = [table.name for table in tables if writer.execute(select(1).select_from(table).limit(1)).first()]
            if occupied and not replace:
                raise CopyError(f"target database {redact_url(str(target.url))} is not empty (rows in "
                                f"{', '.join(occupied)}): pass --replace to delete them and copy over them")
            if occupied:
                for table in reversed(tables):
                    writer.execute(table.delete())
                report.replaced = True
            for table in tables:
                table_started = time.perf_counter()
                if table in _TRIGGER_WRITTEN:
                    writer.execute(table.delete())
                copied = _copy_table(reader, writer, table, batch_rows)
                report.tables.append(TableCopy(table.name, copied, time.perf_counter() - table_started))
                if on_table is not None:
                    on_table(report.tables[-1])
            reset_sequences(writer, tables)
            _check_counts(reader, writer, tables)
        except BaseException:
            writer.rollback()
            raise
        writer.commit()
    report.seconds = time.perf_counter() - started
    return report


def _copy_table(reader: Connection, writer: Connection, table: Table, batch_rows: int) -> int:
    copied = 0
    ordered = select(table).order_by(*table.primary_key.columns)
    result = reader.execution_options(yield_per=batch_rows).execute(ordered)
    for rows in result.partitions():
        writer.execute(table.insert(), [row._asdict() for row in rows])
        copied += len(rows)
    return copied


def _check_counts(reader: Connection, writer: Connection, tables: list[Table]) -> None:
    """Raise CopyError naming every table whose row count differs between the source and the target."""
    differ = []
    for table in tables:
        counted = select(func.count()).select_from(table)
        source_rows, target_rows = reader.execute(counted).scalar_one(), writer.execute(counted).scalar_one()
        if source_rows != target_rows:
            differ.append(f"{table.name}: {source_rows} in the source, {target_rows} in the target")
    if differ:
        raise CopyError("row counts differ after the copy (" + "; ".join(differ) + "): rolled back, no row was "
                        "written to the target")


def _same_database(source_url: str, target_url: str) -> bool:
    source, target = make_url(source_url), make_url(target_url)
    if source.get_backend_name() == target.get_backend_name() == "sqlite":
        return _sqlite_path(source_url) == _sqlite_path(target_url)
    return source.set(drivername=source.get_backend_name()) == target.set(drivername=target.get_backend_name())


def _sqlite_path(url: str) -> Path | str:
    database = make_url(url).database or ""
    return database if database in ("", ":memory:") else Path(database).expanduser().resolve()


def _check_source_exists(source_url: str) -> None:
    """A SQLite source that is not there would be created empty by opening it: say so instead."""
    path = _sqlite_path(source_url) if make_url(source_url).get_backend_name() == "sqlite" else None
    if isinstance(path, Path) and not path.is_file():
        raise CopyError(f"source database {redact_url(source_url)}: no such file {path}")


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc)
    return text.splitlines()[0] if text else type(exc).__name__
