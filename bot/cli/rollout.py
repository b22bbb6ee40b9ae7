"""`pitcrew rollout status` and `pitcrew rollout set MODE [--percent N]`: the LLM-skip optimisation's rollout."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from bot.cli.common import EXIT_USAGE, database_or_exit, fail, settings_or_exit

MODES = ("disabled", "shadow", "canary", "enabled")

rollout_app = typer.Typer(help="Rollout of the LLM-skip optimisation: its mode, canary share and rollbacks.",
                          no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(rollout_app, name="rollout")


@rollout_app.command("status")
def status_command(as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False) -> None:
    """The mode every instance follows, the canary share, the last 24 h's shadow agreement, any automatic rollback."""
    from sqlalchemy.exc import SQLAlchemyError

    from bot.ops.daily import last_day
    from bot.ops.rollout import current_state

    settings = settings_or_exit()
    db = database_or_exit(settings, load_demo=False)
    try:
        state = current_state(db, settings)
    except SQLAlchemyError as exc:
        fail(f"cannot read the rollout from the database ({type(exc).__name__}); run `pitcrew db upgrade`")
    finally:
        db.close()
    figures = last_day(settings.log_dir, sla_ms=settings.sla_ms)
    body = state.as_json() | {
        "rolled_back": state.rolled_back,
        "requests_24h": figures.requests,
        "skipped_share_24h": figures.skip_rate,
        "shadow_checks_24h": figures.shadow_checks,
        "shadow_agreement_24h": figures.shadow_agreement,
    }
    if as_json:
        typer.echo(json.dumps(body))
        return
    share = "n/a" if figures.shadow_agreement is None else f"{figures.shadow_agreement:.1%}"
    skipped = "n/a" if figures.skip_rate is None else f"{figures.skip_rate:.1%}"
    lines = [
        f"mode:             {state.mode}" + (" (LATENCY_OPTIMIZATION_MODE; never set at run time)"
                                              if state.changed_by == "setting" else ""),
        f"canary:           {state.canary_percent:g} % of users" + ("" if state.mode == "canary" else " (when canary)"),
        f"skipped (24 h):   {skipped} of {figures.requests} requests",
        f"agreement (24 h): {share} of {figures.shadow_checks} checked skip decisions",
    ]
    if state.changed_at is not None:
        lines.append(f"changed:          {state.changed_at:%Y-%m-%d %H:%M:%S} UTC by {state.changed_by}")
    if state.rolled_back:
        lines.append(f"rolled back:      automatically, because {state.reason}")
    typer.echo("\n".join(lines))


@rollout_app.command("set")
def set_command(
    mode: Annotated[str, typer.Argument(help="disabled, shadow, canary or enabled.")],
    percent: Annotated[float | None, typer.Option("--percent", help="Canary share of users, 0 to 100.")] = None,
) -> None:
    """Change the mode; every running instance follows within ROLLOUT_REFRESH_S."""
    from sqlalchemy.exc import SQLAlchemyError

    from bot.ops.rollout import current_state
    from knowledge.rollout import write_rollout

    if mode not in MODES:
        fail(f"unknown mode {mode[:40]!r}; use one of: {', '.join(MODES)}", EXIT_USAGE)
    if percent is not None and not 0 <= percent <= 100:
        fail("--percent must be between 0 and 100", EXIT_USAGE)
    settings = settings_or_exit()
    db = database_or_exit(settings, load_demo=False)
    try:
        keep = current_state(db, settings).canary_percent
        write_rollout(db, mode, keep if percent is None else percent, changed_by="operator",
                      reason="set by `pitcrew rollout set`")
        state = current_state(db, settings)
    except SQLAlchemyError as exc:
        fail(f"cannot store the rollout in the database ({type(exc).__name__}); run `pitcrew db upgrade`")
    finally:
        db.close()
    suffix = f" ({state.canary_percent:g} % of users)" if state.mode == "canary" else ""
    typer.echo(f"rollout mode: {state.mode}{suffix}; running instances follow within {settings.rollout_refresh_s:g} s")
