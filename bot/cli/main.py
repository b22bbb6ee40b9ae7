"""The `pitcrew` console script."""

from __future__ import annotations

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
    from bot.cli import knowledge as knowledge_commands
    from bot.cli import logs as logs_commands
    from bot.cli import serve as serve_commands
    from bot.cli import snapshots as snapshots_commands

    for module in (knowledge_commands, logs_commands, cache_commands, snapshots_commands, classify_commands,
                   serve_commands, chat_commands, bench_commands):
        module.register(app)


_register_commands()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
