"""`pitcrew logs stats` and `pitcrew logs trace`: read the JSON day files."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli.common import EXIT_USAGE, fail, settings_or_exit

if TYPE_CHECKING:  # each command imports what it uses when it runs: `pitcrew --help` loads none of it
    from rich.table import Table

    from bot.observability.stats import Distribution, LogStats

logs_app = typer.Typer(help="Read the JSON day files: request statistics and one request's trace.", no_args_is_help=True)

DirOption = Annotated[Path | None, typer.Option("--dir", help="Log directory (default: LOG_DIR).", show_default=False)]


def register(app: typer.Typer) -> None:
    app.add_typer(logs_app, name="logs")


def _parse_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        fail(f"--date must look like 2025-03-04, got {text!r}", EXIT_USAGE)


@logs_app.command("stats")
def stats_command(
    date: Annotated[str | None, typer.Option("--date", help="One UTC day, YYYY-MM-DD.", show_default=False)] = None,
    days: Annotated[int | None, typer.Option("--days", min=1, help="The last N UTC days, today included.",
                                              show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    directory: DirOption = None,
) -> None:
    """Requests, errors, latency percentiles per stage, LLM use, cache and SLA breaches (default: today)."""
    from rich.console import Console

    from bot.observability.stats import compute_stats, day_window, files_for_days

    if date is not None and days is not None:
        fail("use --date or --days, not both", EXIT_USAGE)
    settings = settings_or_exit()
    log_dir = directory or settings.log_dir
    window = day_window(date=_parse_date(date) if date is not None else None, days=days)
    paths = files_for_days(log_dir, window)
    if not paths:
        span = window[0].isoformat() if len(window) == 1 else f"{window[0]} to {window[-1]}"
        fail(f"no log files in {log_dir} for {span}")
    stats = compute_stats(paths, sla_ms=settings.sla_ms)
    if as_json:
        typer.echo(json.dumps(stats.as_json(), ensure_ascii=False))
        return
    console = Console(highlight=False)
    console.print(_summary_table(stats))
    if stats.requests:
        console.print(_timings_table(stats))
    else:
        console.print("No request summaries in these files.", markup=False)


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _summary_table(stats: LogStats) -> Table:
    from rich.table import Table

    table = Table(title="Requests", show_header=False, title_justify="left")
    table.add_column("metric", style="bold")
    table.add_column("value", justify="right")
    table.add_row("files", str(len(stats.files)))
    table.add_row("requests", str(stats.requests))
    table.add_row("errors", f"{stats.errors} ({_percent(stats.error_rate)})")
    table.add_row("undelivered replies", str(stats.undelivered))
    table.add_row(f"over SLA ({stats.sla_ms:g} ms)", f"{stats.sla_breaches} ({_percent(stats.sla_breach_rate)})")
    table.add_row("skipped LLM validation", _percent(stats.skipped_llm_validation_share))
    validation = ", ".join(f"{name} {count}" for name, count in stats.llm_validation.items()) or "-"
    table.add_row("LLM validation", validation)
    unavailable = ", ".join(f"{why.replace('_', ' ')} {count}" for why, count in stats.llm_validation_unavailable.items())
    table.add_row("validation unavailable, why", unavailable or "-")
    per_request = stats.llm_calls_per_request
    table.add_row("LLM calls per request", "-" if per_request is None else f"{per_request:.2f}")
    table.add_row("cache hit rate",
                  f"{_percent(stats.cache_hit_rate)} ({stats.cache.get('hit', 0)} hit, {stats.cache.get('miss', 0)} miss)")
    table.add_row("snapshot path",
                  f"{stats.snapshot_path.get('fast', 0)} fast, {stats.snapshot_path.get('slow', 0)} slow")
    table.add_row("shadow agreement", f"{_percent(stats.shadow_agreement_rate)} of {stats.shadow_samples}")
    speculated = stats.speculation.get("confirmed", 0) + stats.speculation.get("reconciled", 0)
    table.add_row("speculation reconciled",
                  f"{_percent(stats.reconcile_rate)} of {speculated} ({stats.speculation.get('off', 0)} off)")
    table.add_row("speculation saved / wasted",
                  f"{stats.speculation_saved_ms / 1000:.1f} s saved, {stats.speculation_wasted_tokens} tokens wasted")
    table.add_row("hedged LLM requests", str(stats.llm_hedged))
    intents = ", ".join(f"{name} {count}" for name, count in stats.intents.items()) or "-"
    table.add_row("intents", intents)
    table.add_row("lines skipped", f"{stats.malformed_lines} malformed, {stats.foreign_lines} foreign")
    return table


def _timings_table(stats: LogStats) -> Table:
    from rich.table import Table

    table = Table(title="Timings (ms)", title_justify="left")
    for name in ("stage", "n", "p50", "p95", "p99", "max"):
        table.add_column(name, justify="left" if name == "stage" else "right")

    def add(name: str, dist: Distribution | None) -> None:
        if dist is not None:
            table.add_row(name, str(dist.count), *(f"{v:.2f}" for v in (dist.p50, dist.p95, dist.p99, dist.max)))

    add("total", stats.total_time)
    for name, dist in stats.stages.items():
        add(name, dist)
    add("delivery (Slack post)", stats.delivery)
    return table


@logs_app.command("trace")
def trace_command(
    correlation_id: Annotated[str, typer.Argument(help="The 8-hex-character id a reply or log line quotes.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the lines as written (JSON).")] = False,
    directory: DirOption = None,
) -> None:
    """Every record of one request, in order, across the day files."""
    from bot.observability.trace import CORRELATION_ID, describe_record, trace

    wanted = correlation_id.strip().lower()
    if not CORRELATION_ID.match(wanted):
        fail(f"a correlation id is 8 hex characters, like a1b2c3d4; got {correlation_id!r}", EXIT_USAGE)
    log_dir = directory or settings_or_exit().log_dir
    found = 0
    for traced in trace(log_dir, wanted):
        found += 1
        typer.echo(traced.line if as_json else describe_record(traced.record))
    if not found:
        fail(f"no records for {wanted} in {log_dir}")
