"""The `pitcrew` console script."""

from __future__ import annotations

import gc

import typer

app = typer.Typer(
    name="pitcrew",
    help="pitcrew: the Slack assistant for sales teams.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register_commands() -> None:
    # Each command group lives in its own module under bot.cli and exposes `register(app)`. Modules
    # import what only their commands need inside those commands, so `pitcrew --help` stays quick.
    from bot.cli import bench as bench_commands
    from bot.cli import cache as cache_commands
    from bot.cli import chat as chat_commands
    from bot.cli import classify as classify_commands
    from bot.cli import db as db_commands
    from bot.cli import knowledge as knowledge_commands
    from bot.cli import logs as logs_commands
    from bot.cli import rollout as rollout_commands
    from bot.cli import quality as quality_commands
    from bot.cli import serve as serve_commands
    from bot.cli import snapshots as snapshots_commands
    from bot.cli import sync as sync_commands

    for module in (knowledge_commands, logs_commands, cache_commands, snapshots_commands, classify_commands,
                   serve_commands, chat_commands, bench_commands, db_commands, sync_commands,
                   rollout_commands, quality_commands):
        module.register(app)


_register_commands()


def main() -> None:
    try:
        app()
    finally:
        # The process is ending: its last garbage collection would walk every object the start built (the
        # libraries, the patterns, the catalog's names) only to free memory the OS takes back anyway, ~0.15 s
        # of every command. Frozen objects are skipped; exit handlers still run (log files flushed and
        # closed, temporary folders removed), and stdout and stderr are still flushed.
        gc.freeze()


if __name__ == "__main__":
    main()
