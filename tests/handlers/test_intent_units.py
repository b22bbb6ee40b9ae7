"""Each intent is one unit: a handler module that declares it, plus one section of patterns.toml."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.settings import Settings
from control_plane.frame import SLOT_NAMES
from control_plane.intents import Intent
from control_plane.patterns import load_patterns
from handlers.context import HandlerContext, HandlerResult
from handlers.declaration import HelpExample, handles
from handlers.registry import Registry, RegistryError, default_registry
from knowledge.db import Database
from tests.support.paths import REPO_ROOT, copy_packages
from tests.support.pipeline import ask, make_pipeline

TOY_HANDLER = '''"""tide_times: a toy intent, added by a test."""

from handlers.context import HandlerContext, HandlerResult
from handlers.declaration import HelpExample, handles


@handles("tide_times", slots=("account",),
         examples=(HelpExample("Tide tables", "when is high tide near {account}?", "a toy intent"),))
async def handle(ctx: HandlerContext) -> HandlerResult:
    return HandlerResult.from_marked("High tide is at noon (toy answer).")
'''

TOY_SECTION = """
[intents.tide_times]
description = "When the tide is high or low somewhere (a toy intent)."
patterns = [ { id = "high-tide", confidence = 0.95, regex = '''\\b(?:high|low) tide\\b''' } ]
"""


def test_every_intent_of_the_patterns_file_has_one_declared_handler_and_nothing_else_does() -> None:
    registry = default_registry()
    assert registry.mismatches(load_patterns().intent_names) == []
    assert set(registry.intents) == set(load_patterns().intent_names)


def test_a_declaration_names_only_real_frame_slots() -> None:
    with pytest.raises(ValueError, match="unknown frame slot"):
        handles("tide_times", slots=("tide",))
    for intent in default_registry().intents:
        assert set(default_registry().handler_for(intent).slots) <= set(SLOT_NAMES)


def test_a_patterns_intent_without_a_handler_and_a_handler_without_patterns_are_both_named() -> None:
    problems = default_registry().mismatches([*load_patterns().intent_names, Intent("tide_times")])
    assert problems == ["patterns.toml defines the intent 'tide_times', but no handler module declares it "
                        "(@handles('tide_times') in a module of handlers/)"]
    without_help = [i for i in load_patterns().intent_names if i is not Intent.HELP]
    assert default_registry().mismatches(without_help) == [
        "a handler declares the intent 'help', but patterns.toml has no [intents.help]"]


def test_two_handlers_for_one_intent_or_none_for_unknown_are_refused() -> None:
    async def answer(ctx: HandlerContext) -> HandlerResult:
        return HandlerResult.from_marked("x")

    declared = handles("smalltalk")(answer)
    unknown = default_registry().handler_for(Intent.UNKNOWN)
    with pytest.raises(RegistryError, match="two handlers declare the intent 'smalltalk'"):
        Registry([default_registry().handler_for(Intent.SMALLTALK), declared.__pitcrew_handler__, unknown])  # type: ignore[attr-defined]
    with pytest.raises(RegistryError, match="no handler declares the intent 'unknown'"):
        Registry([default_registry().handler_for(Intent.SMALLTALK)])


def test_help_lists_each_handlers_main_example_in_order() -> None:
    examples = [(o.example.title, o.rank) for o in default_registry().examples()]
    main = [title for title, rank in examples if rank == 0]
    assert main == ["Product questions", "Call search", "Meeting recaps", "Email drafts"]
    assert ("Product questions", 1) in examples


async def test_a_handler_that_does_not_declare_the_llm_is_given_none(
    settings: Settings, demo_db: Database
) -> None:
    from bot.llm import LLMGateway

    seen: dict[str, object] = {}

    def recorder(name: str):  # noqa: ANN202
        async def record(ctx: HandlerContext) -> HandlerResult:
            seen[name] = ctx.llm
            return HandlerResult.from_marked(name)

        return record

    gateway = LLMGateway.from_settings(settings, demo_db)
    try:
        registry = (default_registry().replacing(Intent.HELP, recorder("help"))
                    .replacing(Intent.PRODUCT_QUESTION, recorder("product")))
        pipeline = make_pipeline(settings, demo_db, gateway, registry=registry)
        await ask(pipeline, "help", thread="shell:llm-1")
        await ask(pipeline, "what does the Pro plan cost?", thread="shell:llm-2")
    finally:
        await gateway.aclose()
    assert seen == {"help": None, "product": gateway}


def _toy_copy(tmp_path: Path) -> Path:
    """A copy of the project's packages with one handler module and one TOML section added, nothing else."""
    project = tmp_path / "project"
    copy_packages(project)
    (project / "handlers" / "tide_times.py").write_text(TOY_HANDLER, encoding="utf-8")
    with (project / "control_plane" / "patterns.toml").open("a", encoding="utf-8") as patterns:
        patterns.write(TOY_SECTION)
    return project


def _pitcrew(project: Path, data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`pitcrew ARGS` run from `project`'s packages, with its database and logs under `data`."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("SLACK_", "OPENAI_", "DATABASE_", "LOG_"))}
    env |= {"PYTHONPATH": str(project), "DATABASE_URL": f"sqlite:///{data / 'toy.db'}", "LOG_DIR": str(data / "logs")}
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], cwd=project, env=env, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.slow
def test_a_toy_intent_is_routed_listed_by_help_and_evaluated_with_no_other_change(tmp_path: Path) -> None:
    project = _toy_copy(tmp_path)
    data = tmp_path / "data"
    data.mkdir()

    routed = _pitcrew(project, data, "ask", "when is high tide near acme?", "--json")
    assert routed.returncode == 0, routed.stderr
    reply = json.loads(routed.stdout)
    assert (reply["intent"], reply["handler"], reply["llm_validation"]) == ("tide_times", "tide_times", "skipped")
    assert "High tide is at noon" in reply["text"]
    assert reply["frame"]["slots"]["account"]["source"] == "typed"

    helped = _pitcrew(project, data, "ask", "help")
    assert helped.returncode == 0, helped.stderr
    assert "Tide tables (a toy intent): “when is high tide near" in helped.stdout
    assert "Email drafts" in helped.stdout  # the built-in intents are still listed

    labelled = data / "labelled.jsonl"
    labelled.write_text("\n".join(json.dumps(row) for row in [
        {"text": "when is low tide in boston", "intent": "tide_times"},
        {"text": "what does the Pro plan cost?", "intent": "product_question"},
    ]) + "\n", encoding="utf-8")
    evaluated = _pitcrew(project, data, "eval", "intents", str(labelled), "--json")
    assert evaluated.returncode == 0, evaluated.stderr
    report = json.loads(evaluated.stdout)
    assert report["per_intent"]["tide_times"]["recall"] == 1.0
    assert report["accuracy"] == 1.0

    # The same label is refused by the project itself, which has no such intent.
    unknown_here = _pitcrew(REPO_ROOT, data, "eval", "intents", str(labelled), "--json")
    assert unknown_here.returncode != 0 and "unknown intent 'tide_times'" in unknown_here.stderr


def test_an_intent_name_must_be_a_plain_identifier() -> None:
    assert Intent("tide_times") is Intent("tide_times")
    with pytest.raises(ValueError, match="not an intent name"):
        Intent("Tide Times")
    assert HelpExample("T", "near {account}?").render({"account": "Acme"}) == "near Acme?"
