"""`pitcrew quality` (the quality score) and `pitcrew export exchanges` (redacted exchanges as JSONL)."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Annotated

import typer

from bot.cli.common import EXIT_USAGE, database_or_exit, fail, settings_or_exit

export_app = typer.Typer(help="Export data for improving pitcrew, with people taken out.", no_args_is_help=True)
BY_CHOICES = ("intent", "handler", "pattern", "llm")
MIN_SCORES = ("positive", "any")


def register(app: typer.Typer) -> None:
    app.command("quality")(quality_command)
    app.add_typer(export_app, name="export")


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def quality_command(
    days: Annotated[int, typer.Option("--days", min=1, help="The period: the last N days (compared with the N "
                                                            "days before).")] = 7,
    by: Annotated[str, typer.Option("--by", help="Group by intent, handler, pattern or llm.")] = "intent",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """The quality score out of 100, overall and per group, the worst patterns and handlers, and the trend."""
    from knowledge.quality import read_signals

    from bot.evaluation.quality import quality_report

    if by not in BY_CHOICES:
        fail(f"--by must be one of {', '.join(BY_CHOICES)}, got {by!r}", EXIT_USAGE)
    settings = settings_or_exit()
    db = database_or_exit(settings, load_demo=False)
    try:
        end = _utc_now()
        start = end - dt.timedelta(days=days)
        before = start - dt.timedelta(days=days)
        report = quality_report(read_signals(db, start, end), read_signals(db, before, start), by=by,
                                period=(start, end))
    finally:
        db.close()
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False))
        return
    _print_report(report)


def _print_report(report: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    overall = report["overall"]
    trend = overall.get("trend")
    low, high = overall["interval_95"]
    console.print(f"Quality score {overall['score']} / 100 (n={overall['n']}, 95% {low}-{high}); "
                  f"previous period {overall['previous']['score']} (n={overall['previous']['n']}); "
                  f"trend {'n/a' if trend is None else f'{trend:+}'}" + ("  [bold red]ALERT: dropped[/]"
                                                                      if report["alert"] else ""))
    for title, rows in ((f"By {report['by']}", report["groups"]), ("Worst patterns", report["worst_patterns"]),
                        ("Worst handlers", report["worst_handlers"])):
        table = Table(title=title)
        for column in ("name", "score", "n", "95% interval", "trend", "examples"):
            table.add_column(column)
        for row in rows:
            table.add_row(row["name"], f"{row['score']}", str(row["n"]),
                          "{}-{}".format(*row["interval_95"]),
                          "" if row.get("trend") is None else f"{row['trend']:+}", " ".join(row["examples"]))
        console.print(table)


@export_app.command("exchanges")
def export_exchanges_command(
    since: Annotated[str, typer.Option("--since", help="First UTC day, YYYY-MM-DD.")],
    out: Annotated[Path, typer.Option("--out", help="The JSONL file of good exchanges; negative ones go to "
                                                    "FILE.negative.jsonl beside it.")],
    min_score: Annotated[str, typer.Option("--min-score", help="positive: only exchanges reps rated well; any: "
                                                              "unrated ones too.")] = "positive",
) -> None:
    """Kept exchanges (QUALITY_KEEP_EXCHANGES=on) with names, e-mails, phones and Slack ids replaced."""
    if min_score not in MIN_SCORES:
        fail(f"--min-score must be one of {', '.join(MIN_SCORES)}, got {min_score!r}", EXIT_USAGE)
    try:
        start = dt.datetime.fromisoformat(since)
    except ValueError:
        fail(f"--since must look like 2025-03-04, got {since!r}", EXIT_USAGE)
    if start.tzinfo is not None:
        start = start.astimezone(dt.UTC).replace(tzinfo=None)
    if not out.parent.is_dir():
        fail(f"cannot write {out}: {out.parent} is not a directory", EXIT_USAGE)
    from knowledge.quality import read_exchanges, read_signals

    from bot.evaluation.exchanges import Redactor, export_record, rate

    settings = settings_or_exit()
    db = database_or_exit(settings, load_demo=False)
    try:
        exchanges = read_exchanges(db, start)
        rated = rate(exchanges, read_signals(db, start, _utc_now() + dt.timedelta(days=1)))
        redactor = Redactor.from_knowledge(db)
    finally:
        db.close()
    if not exchanges and not settings.quality_keep_exchanges:
        fail("no exchanges are kept: set QUALITY_KEEP_EXCHANGES=on (the text of answers is stored only then)")
    negative_out = out.with_name(out.name.removesuffix(".jsonl") + ".negative.jsonl")
    good = [export_record(e, v, s, redactor) for e, v, s in rated
            if v == "positive" or (min_score == "any" and v == "unrated")]
    negative = [export_record(e, v, s, redactor) for e, v, s in rated if v == "negative"]
    for path, records in ((out, good), (negative_out, negative)):
        _write_jsonl(path, records)
    typer.echo(f"{len(good)} exchanges to {out}, {len(negative)} negative to {negative_out}"
               f" ({len(rated) - len(good) - len(negative)} left out)")


def _write_jsonl(path: Path, records: list[dict]) -> None:
    """Write all of it or nothing: a temporary file renamed over the target."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        with partial.open("w", encoding="utf-8") as handle:
            for record in records:
                handle.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
        os.replace(partial, path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        fail(f"cannot write {path}: {exc.strerror or exc}")
