"""`pitcrew shell` and `pitcrew ask`: chat with pitcrew in the terminal, through the same pipeline as Slack."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import AsyncExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli.common import (
    EXIT_USAGE,
    fail,
    say_which_database,
    settings_or_exit,
    tolerant_stdin,
)

if TYPE_CHECKING:  # each command imports what it uses when it runs: `pitcrew --help` loads none of it
    import asyncio

    from bot.app.application import Application
    from bot.pipeline import IncomingMessage, Reply
    from bot.settings import Settings

HISTORY_NAME = ".pitcrew_history"  # in the home directory
HISTORY_LENGTH = 1000
PROMPT = "you> "
QUIT_WORDS = frozenset({"exit", "quit", ":q", "/quit", "/exit"})
FEEDBACK_COMMANDS = {"/good": True, "/bad": False}  # rate the last answer, as the Slack buttons do


def register(app: typer.Typer) -> None:
    app.command("shell")(shell)
    app.command("ask")(ask)


def shell(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Also show intent, confidence, LLM validation and stage timings.")
    ] = False,
) -> None:
    """Chat with pitcrew in the terminal (demo knowledge base when the database is empty). Ctrl-D quits."""
    import asyncio
    import secrets

    from rich.console import Console
    from rich.text import Text

    settings = settings_or_exit()
    tolerant_stdin()
    console = Console(highlight=False, soft_wrap=True)  # the terminal wraps; piped output keeps its lines
    thread_key = f"shell:{secrets.token_hex(4)}"
    user = _user_name()
    with asyncio.Runner() as runner, _opened(settings, runner) as app, _history():
        llm_note = "an LLM" if settings.llm_configured else "no LLM (deterministic answers)"
        console.print(
            Text.assemble(("pitcrew", "bold"), f" shell, {llm_note}. Ask a question; \"help\" for examples, Ctrl-D to quit.")
        )
        console.print(Text(app.database.describe(), style="dim"))
        console.print(Text("After an answer, /good or /bad [what was wrong] rates it.", style="dim"))
        last: Reply | None = None
        while True:
            try:
                text = input(PROMPT)
            except EOFError:
                console.print()
                break
            except KeyboardInterrupt:  # like a shell: drop the line, keep going
                console.print()
                continue
            if not text.strip():
                continue
            if text.strip().lower() in QUIT_WORDS:
                break
            command, _, reason = text.strip().partition(" ")
            if command.lower() in FEEDBACK_COMMANDS:
                console.print(Text(_rate(runner, app, last, user, FEEDBACK_COMMANDS[command.lower()], reason),
                                   style="dim"))
                continue
            message = _message(text, thread_key, user)
            try:
                reply = runner.run(app.pipeline.handle(message))
            except KeyboardInterrupt:
                console.print(Text("(cancelled)", style="dim"))
                continue
            last = reply
            console.print(Text(reply.plain))
            if verbose:
                console.print(Text(describe(reply), style="dim"))
            console.print()


def _rate(runner: asyncio.Runner, app: Application, last: Reply | None, user: str | None, positive: bool,
          reason: str) -> str:
    """Store /good or /bad for the last answer; the line to show."""
    from sqlalchemy.exc import SQLAlchemyError

    from bot.pipeline.quality import answer_facts

    if last is None or last.failed:
        return "Nothing to rate yet: /good and /bad rate the last answer."
    quality = app.pipeline.quality
    if quality is None:
        return "Feedback is not recorded in this setup."
    try:
        runner.run(quality.feedback(answer_facts(last), user or "", positive=positive, source="shell",
                                    reason=None if positive else reason.strip() or None))
    except SQLAlchemyError as exc:
        return f"Could not record that ({type(exc).__name__}); try again."
    verdict = "👍" if positive else "👎" + (" with your note" if reason.strip() else "")
    return f"Thanks: {verdict} recorded for {last.correlation_id}."


def ask(
    text: Annotated[str, typer.Argument(help="The message, as you would write it in Slack.", show_default=False)],
    as_json: Annotated[bool, typer.Option("--json", help="Print the reply and its metadata as one JSON object.")] = False,
    thread: Annotated[
        str | None,
        typer.Option("--thread", help="Continue a conversation: asks with the same KEY share thread memory.", show_default=False),
    ] = None,
) -> None:
    """Send one message and print the reply (exit 1 only if answering failed; the reply says so)."""
    if not text.strip():
        fail('nothing to ask: give the message, e.g. pitcrew ask "what does the Pro plan cost?"', EXIT_USAGE)
    import asyncio
    import secrets

    settings = settings_or_exit()
    thread_key = f"shell:{thread}" if thread else f"shell:ask:{secrets.token_hex(4)}"
    message = _message(text, thread_key, _user_name())
    with asyncio.Runner() as runner, _opened(settings, runner) as app:
        say_which_database(app.database)
        reply = runner.run(app.pipeline.handle(message))
    if as_json:
        typer.echo(json.dumps(reply.as_json(), ensure_ascii=False))
    else:
        typer.echo(reply.plain)
    if reply.failed:
        raise typer.Exit(1)


def _message(text: str, thread_key: str, user: str | None) -> IncomingMessage:
    """The one place a terminal message is built: its text cleaned like a Slack event's."""
    from bot.pipeline import IncomingMessage
    from bot.pipeline.clean_text import clean_text

    return IncomingMessage(text=clean_text(text), thread_key=thread_key, user=user, source="shell")


@contextmanager
def _opened(settings: Settings, runner: asyncio.Runner) -> Iterator[Application]:
    """The process as Slack gets it (same logging to the day files, database, gateway and pipeline),
    opened and closed on `runner`'s loop."""
    # Imported here: the application stack (database, pipeline, LLM gateway) is for the commands that answer.
    from bot.app.application import Application
    from bot.app.database import StartupError
    from bot.observability import configure_logging

    # The day files get exactly the records a Slack request gets; the terminal shows the chat only.
    configure_logging(settings, stderr=False)
    services = AsyncExitStack()
    try:
        app = runner.run(services.enter_async_context(Application.running(settings)))
    except StartupError as exc:
        fail(str(exc), EXIT_USAGE)
    try:
        yield app
    finally:
        runner.run(services.aclose())


@contextmanager
def _history() -> Iterator[None]:
    """Line editing and a persistent history when the terminal supports it."""
    if not sys.stdin.isatty():
        yield
        return
    try:
        import readline
    except ImportError:  # e.g. Windows without pyreadline: plain input() still works
        yield
        return
    history_file = _history_file()
    if history_file is None:  # no home directory (a service user without one): no history, still a shell
        yield
        return
    try:
        readline.read_history_file(history_file)
    except OSError:
        pass
    readline.set_history_length(HISTORY_LENGTH)
    try:
        yield
    finally:
        try:
            readline.write_history_file(history_file)
        except OSError:
            pass


def _history_file() -> Path | None:
    try:
        return Path.home() / HISTORY_NAME
    except (RuntimeError, KeyError):  # HOME unset and no passwd entry for this uid
        return None


def _user_name() -> str | None:
    import getpass  # here: it loads termios, which `pitcrew --help` need not

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers): the user is optional
        return None


def describe(reply: Reply) -> str:
    """One line of metadata under a reply in verbose mode."""
    stages = " · ".join(f"{name} {ms:.2f} ms" for name, ms in reply.stages.items())
    parts = [
        reply.intent,
        f"confidence {reply.confidence:.2f}",
        f"LLM validation {reply.llm_validation}",
        f"handler {reply.handler}",
        stages,
        f"total {reply.total_ms:.2f} ms",
        f"id {reply.correlation_id}",
    ]
    if reply.failed:
        parts.append("FAILED")
    return " · ".join(p for p in parts if p)
