"""`pitcrew serve`: answer Slack, over Socket Mode (SLACK_APP_TOKEN set) or the HTTP Events API."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from bot.cli.common import EXIT_USAGE, fail, settings_or_exit

if TYPE_CHECKING:
    from bot.settings import Settings

# Where each credential lives in the Slack app's settings (https://api.slack.com/apps).
WHERE_TO_FIND = {
    "SLACK_BOT_TOKEN": "the Bot User OAuth Token (xoxb-...) on the app's OAuth & Permissions page, "
                       "after Install to Workspace",
    "SLACK_SIGNING_SECRET": "the Signing Secret on the app's Basic Information page",
    "SLACK_APP_TOKEN": "an app-level token (xapp-...) with connections:write, under Basic Information > "
                       "App-Level Tokens",
}
EXPECTED_PREFIX = {"SLACK_BOT_TOKEN": "xoxb-", "SLACK_APP_TOKEN": "xapp-"}


def slack_credentials_problem(settings: Settings) -> str | None:
    """One line naming what is missing or wrong and where to get it; None when `serve` can start."""
    socket_mode = settings.slack_app_token is not None
    given = {
        "SLACK_BOT_TOKEN": settings.slack_bot_token,
        "SLACK_SIGNING_SECRET": settings.slack_signing_secret,
        "SLACK_APP_TOKEN": settings.slack_app_token,
    }
    needed = ["SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"] if socket_mode else ["SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"]
    missing = [name for name in needed if given[name] is None or not given[name].get_secret_value().strip()]
    mode = "Socket Mode" if socket_mode else "the HTTP Events API (set SLACK_APP_TOKEN for Socket Mode instead)"
    if missing:
        where = "; ".join(f"{name} is {WHERE_TO_FIND[name]}" for name in missing)
        return (f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set; {mode} needs "
                f"{'it' if len(missing) == 1 else 'them'} in the environment or .env: {where} "
                "(see docs/slack-setup.md)")
    for name, prefix in EXPECTED_PREFIX.items():
        secret = given[name]
        if name in needed and secret is not None and not secret.get_secret_value().startswith(prefix):
            return f"{name} does not look right (it should start with {prefix}); use {WHERE_TO_FIND[name]}"
    return None


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve(
        port: int | None = typer.Option(None, "--port", min=0, max=65535,
                                        help="HTTP port for Slack events and /healthz (default: PORT, 3000)."),
        host: str = typer.Option("0.0.0.0", "--host", help="Interface to listen on in HTTP mode."),
    ) -> None:
        """Answer Slack: Socket Mode when SLACK_APP_TOKEN is set, otherwise Slack events over HTTP on PORT."""
        settings = settings_or_exit()
        problem = slack_credentials_problem(settings)
        if problem is not None:
            fail(problem, EXIT_USAGE)
        # The Slack stack loads only for this command.
        import asyncio

        from bot.observability.setup import configure_logging
        from bot.slack.runtime import run_server

        configure_logging(settings)
        code, problem = asyncio.run(run_server(settings, host=host, port=settings.port if port is None else port))
        if problem is not None:
            fail(problem, code)
        raise typer.Exit(code)
