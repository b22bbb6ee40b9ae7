"""`pitcrew cache stats` and `pitcrew cache clear [--expired]`: the LLM response cache in the database."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli.common import database_or_exit, settings_or_exit

if TYPE_CHECKING:  # loaded by the command itself: `pitcrew --help` does not pay for the database layer
    from rich.table import Table

    from bot.llm.cache import CacheStats, ResponseCache

cache_app = typer.Typer(help="The LLM response cache: statistics and clearing.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(cache_app, name="cache")


def _open_cache() -> ResponseCache:
    from bot.llm.cache import ResponseCache

    settings = settings_or_exit()
    db = database_or_exit(settings)
    return ResponseCache(db, ttl_s=settings.response_cache_ttl_s, max_entries=settings.response_cache_max_entries)


@cache_app.command("stats")
def stats_command(as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False) -> None:
    """Entries (live and expired), hits, ages and the configured limits."""
    cache = _open_cache()
    try:
        stats = cache.stats()
    finally:
        cache.db.close()
    if as_json:
        typer.echo(json.dumps(stats.as_json()))
        return
    from rich.console import Console

    Console(highlight=False).print(_stats_table(stats))


@cache_app.command("clear")
def clear_command(
    expired: Annotated[bool, typer.Option("--expired", help="Only remove entries past their TTL.")] = False,
) -> None:
    """Remove every cached answer (or only the expired ones). Answers are rebuilt on demand."""
    cache = _open_cache()
    try:
        removed = cache.clear(expired_only=expired)
    finally:
        cache.db.close()
    what = "expired " if expired else ""
    typer.echo(f"removed {removed} {what}cache entr{'y' if removed == 1 else 'ies'}")


def _when(value: datetime | None) -> str:
    return "-" if value is None else value.strftime("%Y-%m-%d %H:%M:%S UTC")


def _stats_table(stats: CacheStats) -> Table:
    from rich.table import Table

    table = Table(title="Response cache", show_header=False, title_justify="left")
    table.add_column("metric", style="bold")
    table.add_column("value", justify="right")
    table.add_row("entries", f"{stats.entries} of at most {stats.max_entries}")
    table.add_row("live", str(stats.live))
    table.add_row("expired", str(stats.expired))
    table.add_row("hits", str(stats.total_hits))
    table.add_row("entries served at least once", str(stats.entries_hit))
    table.add_row("TTL", "caching off" if stats.ttl_s == 0 else f"{stats.ttl_s} s")
    table.add_row("oldest entry", _when(stats.oldest))
    table.add_row("newest entry", _when(stats.newest))
    table.add_row("last hit or write", _when(stats.last_access))
    return table
