"""`pitcrew classify` and `pitcrew eval intents`: the pattern tier offline, for tuning the patterns."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli.common import (
    EXIT_USAGE,
    database_or_exit,
    fail,
    settings_or_exit,
    tolerant_stdin,
)

if TYPE_CHECKING:  # each command imports what it uses when it runs: `pitcrew --help` loads none of it
    from bot.evaluation.conversations import Conversation, ConversationReport
    from bot.settings import Settings
    from control_plane import ControlPlane, Decision
    from control_plane.evaluation import EvalReport

_SHORT_NAMES = {"product_question": "product", "call_search": "search", "meeting_summary": "summary",
                "draft_email": "email", "smalltalk": "chat"}

eval_app = typer.Typer(help="Measure pitcrew against labelled data.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("classify")(classify_command)
    app.add_typer(eval_app, name="eval")


def offline_control_plane(settings: Settings) -> ControlPlane:
    """The control plane with the database's vocabulary and no LLM: the pattern tier alone."""
    from control_plane import ControlPlane, ControlPlaneConfig, PatternError
    from handlers.registry import default_registry
    from knowledge.vocabulary import load_vocabulary

    db = database_or_exit(settings)
    try:
        vocabulary = load_vocabulary(db)
    finally:
        db.close()
    try:
        return ControlPlane(ControlPlaneConfig.from_settings(settings), vocabulary, llm=None,
                            intent_slots=default_registry().slots())
    except PatternError as exc:
        fail(str(exc))


def _now_option(now: str | None) -> dt.datetime:
    if now is None:
        return dt.datetime.now(dt.UTC).replace(tzinfo=None)
    try:
        parsed = dt.datetime.fromisoformat(now)
    except ValueError:
        fail(f"--now must be an ISO date or time like 2025-03-04T15:00, got {now!r}", EXIT_USAGE)
    return parsed.astimezone(dt.UTC).replace(tzinfo=None) if parsed.tzinfo else parsed


NowOption = Annotated[str | None, typer.Option("--now", help="Resolve time ranges relative to this UTC time "
                                                "(ISO, default: now).", show_default=False)]


def classify_command(
    texts: Annotated[list[str] | None, typer.Argument(help="Messages to classify (default: one per line on stdin).",
                                                      show_default=False)] = None,
    explain: Annotated[bool, typer.Option("--explain", help="Add the runner-up, margin and matching patterns.")] = False,
    now: NowOption = None,
) -> None:
    """Classify messages with the patterns alone (no network, no credentials): one JSON object per line."""
    from bot.pipeline.clean_text import clean_text
    from control_plane.thread import ThreadContext

    settings = settings_or_exit()
    moment = _now_option(now)
    control_plane = offline_control_plane(settings)
    if not texts:
        tolerant_stdin()
    messages = texts if texts else (line.rstrip("\r\n") for line in sys.stdin)
    write = sys.stdout.write
    for raw in messages:
        if not texts and not raw.strip():
            continue  # a blank line in a file is not a message
        text = clean_text(raw)
        decision = control_plane.classify(text, moment)
        frame = control_plane.frame(decision, ThreadContext(), moment)
        write(json.dumps(decision_json(text, decision, explain, frame.as_json()), ensure_ascii=False) + "\n")
    sys.stdout.flush()


def decision_json(text: str, decision: Decision, explain: bool = False,
                  frame: dict[str, object] | None = None) -> dict[str, object]:
    row: dict[str, object] = {
        "text": text,
        "intent": decision.intent.value,
        "confidence": decision.confidence,
        "llm_validation": decision.llm_validation,
        "entities": decision.entities.as_json(),
    }
    if frame is not None:
        row["frame"] = frame  # what the message asks, each slot with its source (a message alone: all typed)
    if explain:
        row["runner_up"] = decision.runner_up.value if decision.runner_up else None
        row["margin"] = decision.margin
        row["candidates"] = [{"intent": c.intent.value, "confidence": c.confidence, "pattern": c.pattern}
                             for c in decision.candidates]
    return row


@eval_app.command("intents")
def eval_intents_command(
    path: Annotated[Path, typer.Argument(help="JSONL file: one {\"text\", \"intent\"} object per line.",
                                         show_default=False)],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    now: NowOption = None,
) -> None:
    """Accuracy, coverage (share decided without the LLM), precision of those, per intent, confusion matrix.

    A conversations file (see `eval conversations`) is run through the pipeline, each turn decided in its
    thread as production decides it (follow-ups included), on a fresh demo database."""
    from bot.evaluation.conversations import intent_report, is_conversation_file
    from control_plane.evaluation import LabelledFileError, evaluate, read_labelled

    settings = settings_or_exit()
    if is_conversation_file(path):
        report = intent_report(_conversation_report(path, settings, use_database=False))
    else:
        try:
            messages = read_labelled(path)
        except LabelledFileError as exc:
            fail(str(exc), EXIT_USAGE)
        report = evaluate(offline_control_plane(settings), messages, _now_option(now))
    if as_json:
        typer.echo(json.dumps(report.as_json(), ensure_ascii=False))
        return
    _print_report(report, settings.control_plane_skip_threshold, settings.control_plane_ambiguity_margin,
                  "Intent decisions in their threads" if is_conversation_file(path) else "Pattern tier")


def _print_report(report: EvalReport, threshold: float, margin: float, title: str) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(highlight=False)
    summary = Table(title=title, show_header=False, title_justify="left")
    summary.add_column("metric", style="bold")
    summary.add_column("value", justify="right")
    summary.add_row("messages", str(report.total))
    summary.add_row("accuracy", f"{report.accuracy:.3f} ({report.correct}/{report.total})")
    summary.add_row(f"coverage (skipped at >= {threshold:g}, margin {margin:g})",
                    f"{report.coverage:.3f} ({report.skipped}/{report.total})")
    summary.add_row("precision of skipped", f"{report.skipped_precision:.3f} ({report.skipped_correct}/{report.skipped})")
    if report.entity_checks:
        summary.add_row("entities", f"{report.entity_accuracy:.3f} of {report.entity_checks} checked")
    console.print(summary)

    per_intent = Table(title="Per intent", title_justify="left")
    for name in ("intent", "precision", "recall", "support"):
        per_intent.add_column(name, justify="left" if name == "intent" else "right")
    for name, stats in report.per_intent().items():
        per_intent.add_row(name, f"{stats['precision']:.3f}", f"{stats['recall']:.3f}", str(stats["support"]))
    console.print(per_intent)

    names = list(report.per_intent())  # the built-in intents, then any other the file or the patterns name
    confusion = Table(title="Confusion (rows: expected, columns: predicted)", title_justify="left")
    confusion.add_column("")
    for name in names:
        confusion.add_column(_SHORT_NAMES.get(name, name), justify="right")
    for expected in names:
        row = report.confusion.get(expected, {})
        confusion.add_row(_SHORT_NAMES.get(expected, expected), *(str(row.get(predicted, 0) or "·") for predicted in names))
    console.print(confusion)

    if report.misclassified:
        wrong = Table(title="Misclassified", title_justify="left")
        for name in ("line", "expected", "predicted", "conf", "skipped", "text"):
            wrong.add_column(name, justify="right" if name in ("line", "conf") else "left", overflow="fold")
        for row in report.misclassified:
            wrong.add_row(str(row["line"]), row["expected"], row["predicted"], f"{row['confidence']:.2f}",
                          "yes" if row["skipped"] else "", Text(row["text"]))
        console.print(wrong)
    if report.entity_mismatches:
        mismatches = Table(title="Entity mismatches", title_justify="left")
        for name in ("line", "entity", "expected", "got", "text"):
            mismatches.add_column(name, overflow="fold")
        for row in report.entity_mismatches:
            mismatches.add_row(str(row["line"]), row["entity"], Text(json.dumps(row["expected"])), Text(json.dumps(row["got"])),
                              Text(row["text"]))
        console.print(mismatches)


@eval_app.command("conversations")
def eval_conversations_command(
    path: Annotated[Path, typer.Argument(help="JSONL file: one {\"id\", \"turns\": [...]} conversation per line.",
                                         show_default=False)],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    fail_under: Annotated[float | None, typer.Option(
        "--fail-under", help="Exit 1 when fewer than this share of turns pass (e.g. 0.95).", show_default=False)] = None,
    use_database: Annotated[bool, typer.Option(
        "--use-database", help="Answer from DATABASE_URL instead of a fresh copy of the demo knowledge base.")] = False,
) -> None:
    """Run labelled conversations through the same pipeline as Slack, each in its own thread (no LLM):
    turns and conversations passed, failures per intent and slot, and every failing turn with its reply."""
    report = _conversation_report(path, settings_or_exit(), use_database=use_database)
    if as_json:
        typer.echo(json.dumps(report.as_json(), ensure_ascii=False))
    else:
        _print_conversations(report)
    if fail_under is not None and report.turn_pass_rate < fail_under:
        raise typer.Exit(1)


def _conversation_report(path: Path, settings: Settings, *, use_database: bool) -> ConversationReport:
    """Every conversation of `path` answered without an LLM, on a fresh demo database unless `use_database`."""
    import asyncio
    import tempfile

    from bot.evaluation.conversations import read_conversations
    from control_plane.evaluation import LabelledFileError

    try:
        conversations = read_conversations(path)
    except LabelledFileError as exc:
        fail(str(exc), EXIT_USAGE)
    with tempfile.TemporaryDirectory(prefix="pitcrew-eval-") as scratch:
        overrides: dict[str, object] = {"log_dir": Path(scratch) / "logs", "openai_api_key": None, "openai_base_url": None}
        if not use_database:
            overrides["database_url"] = f"sqlite:///{Path(scratch) / 'demo.db'}"
        return asyncio.run(_run_conversations(settings.model_copy(update=overrides), conversations))


async def _run_conversations(settings: Settings, conversations: list[Conversation]) -> ConversationReport:
    """Open the application without an LLM, answer every conversation, close it."""
    from bot.app.application import Application
    from bot.app.database import StartupError
    from bot.evaluation.conversations import run_conversations
    from bot.observability import configure_logging, reset_logging

    configure_logging(settings, stderr=False)
    try:
        async with Application.running(settings, use_llm=False) as app:
            return await run_conversations(app.pipeline, conversations)
    except StartupError as exc:
        fail(str(exc), EXIT_USAGE)
    finally:
        reset_logging()


def _print_conversations(report: ConversationReport) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(highlight=False)
    passed, total = report.conversations()
    summary = Table(title="Conversations", show_header=False, title_justify="left")
    summary.add_column("metric", style="bold")
    summary.add_column("value", justify="right")
    summary.add_row("turns passed", f"{report.turn_pass_rate:.3f} ({report.turns_passed}/{report.turns})")
    summary.add_row("conversations fully passed", f"{passed / total if total else 0:.3f} ({passed}/{total})")
    console.print(summary)
    per_intent = Table(title="Per intent (expected, else answered)", title_justify="left")
    for name in ("intent", "turns", "failed"):
        per_intent.add_column(name, justify="left" if name == "intent" else "right")
    for intent, row in report.failures_by_intent().items():
        per_intent.add_row(intent, str(row.get("turns", 0)), str(row.get("failed", 0)))
    console.print(per_intent)
    slots = report.failures_by_slot()
    if slots:
        slot_table = Table(title="Wrong slots", title_justify="left")
        slot_table.add_column("slot")
        slot_table.add_column("turns", justify="right")
        for name, count in slots.items():
            slot_table.add_row(name, str(count))
        console.print(slot_table)
    for outcome in report.failed():
        console.print(Text(f"\n✗ {outcome.conversation} turn {outcome.turn}: {outcome.say}", style="bold"))
        if outcome.expected_intent and outcome.expected_intent != outcome.intent:
            console.print(Text(f"  intent: expected {outcome.expected_intent}, got {outcome.intent}"))
        for pattern in outcome.missing:
            console.print(Text(f"  missing: /{pattern}/"))
        for pattern in outcome.forbidden:
            console.print(Text(f"  forbidden: /{pattern}/"))
        for slot, values in outcome.wrong_slots.items():
            console.print(Text(f"  slot {slot}: expected {values['expected']!r}, got {values['got']!r}"))
        console.print(Text("  reply: " + outcome.reply.replace("\n", "\n         ")))
