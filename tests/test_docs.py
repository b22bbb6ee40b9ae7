"""The README and docs/ stay true: the README is a short front door, every relative link and anchor
resolves, every `pitcrew` command they show exists with the options they give it, and the Quick
start works in a fresh copy of the repository."""

from __future__ import annotations

import csv
import json
import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer
import typer.main

from bot.cli.main import app


def _repository_root() -> Path:
    # This file may move deeper into tests/; the root is where pyproject.toml is.
    for directory in Path(__file__).resolve().parents:
        if (directory / "pyproject.toml").is_file():
            return directory
    raise RuntimeError("no pyproject.toml above tests/")


ROOT = _repository_root()
README = ROOT / "README.md"
README_MAX_BYTES = 12 * 1024
SHELL_FENCES = {"sh", "bash", "shell", "console"}


def doc_files() -> list[Path]:
    return [README, *sorted((ROOT / "docs").glob("*.md"))]


# --- reading Markdown ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Fence:
    info: str
    lines: list[str]


_FENCE = re.compile(r"^ *(```+|~~~+)\s*([\w+-]*)")


def split_markdown(text: str) -> tuple[list[str], list[Fence]]:
    """The prose lines (fenced blocks blanked out) and the fenced blocks."""
    prose: list[str] = []
    fences: list[Fence] = []
    current: Fence | None = None
    marker = ""
    for line in text.splitlines():
        match = _FENCE.match(line)
        if current is None and match:
            marker, current = match.group(1), Fence(match.group(2).lower(), [])
            prose.append("")
        elif current is not None and line.strip().startswith(marker) and not line.strip()[len(marker):].strip():
            fences.append(current)
            current = None
            prose.append("")
        elif current is not None:
            current.lines.append(line)
            prose.append("")
        else:
            prose.append(line)
    return prose, fences


_CODE_SPAN = re.compile(r"(`+)(.+?)\1")


def paragraphs(prose: list[str]) -> list[str]:
    """Prose lines joined into paragraphs (a code span or a link may wrap onto the next line)."""
    return [" ".join(block.split("\n")) for block in "\n".join(prose).split("\n\n") if block.strip()]


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: its text, lower case, punctuation dropped, spaces as hyphens."""
    text = _CODE_SPAN.sub(lambda m: m.group(2), heading)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links and images keep their text
    text = text.replace("*", "")
    text = re.sub(r"<[^>]+>", "", text)
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    prose, _ = split_markdown(path.read_text(encoding="utf-8"))
    seen: dict[str, int] = {}
    found: set[str] = set()
    for line in prose:
        match = re.match(r"^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not match:
            continue
        slug = github_slug(match.group(1))
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return found


_LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)")


def links(path: Path) -> list[str]:
    """Link and image targets in the prose of `path` (code spans and fenced blocks are not links)."""
    prose, _ = split_markdown(path.read_text(encoding="utf-8"))
    targets = []
    for line in prose:
        reference = _REFERENCE.match(_CODE_SPAN.sub("", line))
        if reference:
            targets.append(reference.group(1))
    for paragraph in paragraphs(prose):
        targets += _LINK.findall(_CODE_SPAN.sub("", paragraph))
    return targets


def link_problem(source: Path, target: str) -> str | None:
    """Why `target`, linked from `source`, does not resolve; None when it does (or is not relative)."""
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target) or target.startswith("//"):
        return None  # http:, https:, mailto:: not ours to check, and tests stay off the network
    path_part, _, anchor = target.partition("#")
    resolved = (source.parent / path_part).resolve() if path_part else source
    if not resolved.exists():
        return f"{target}: {resolved.relative_to(ROOT) if resolved.is_relative_to(ROOT) else resolved} does not exist"
    if anchor:
        if resolved.suffix != ".md":
            return f"{target}: an anchor into a file that is not Markdown"
        if anchor not in anchors(resolved):
            return f"{target}: no heading with the anchor #{anchor} in {resolved.relative_to(ROOT)}"
    return None


# --- reading shell commands -----------------------------------------------------------------------

def shell_commands(fence: Fence) -> list[str]:
    """The commands of a shell block: continuation lines joined, multi-line quotes kept whole; in a
    block that shows prompts (`$ `), only the prompted lines (the others are output)."""
    lines = fence.lines
    if any(line.startswith("$ ") for line in lines):
        lines = [line[2:] for line in lines if line.startswith("$ ")]
    commands: list[str] = []
    pending = ""
    for line in lines:
        pending = f"{pending}\n{line}" if pending else line
        if pending.endswith("\\"):
            pending = pending[:-1]
            continue
        try:
            shlex.split(pending, comments=True)
        except ValueError:  # a quote still open: the command goes on on the next line
            continue
        if pending.strip():
            commands.append(pending.strip())
        pending = ""
    assert not pending, f"unterminated shell command: {pending!r}"
    return commands


_OPERATORS = re.compile(r"^[|&;<>()]+$")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


def pitcrew_invocations(command: str) -> list[list[str]]:
    """The argument lists of every `pitcrew` (or `.venv/bin/pitcrew`) run in one shell command."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    segments: list[list[str]] = [[]]
    for token in lexer:
        if _OPERATORS.match(token):
            segments.append([])
        else:
            segments[-1].append(token)
    found = []
    for words in segments:
        while words and _ASSIGNMENT.match(words[0]):
            words = words[1:]  # VAR=value before the command
        if words and (words[0] == "pitcrew" or words[0].endswith("/pitcrew")):
            found.append(words[1:])
    return found


def documented_invocations() -> list[tuple[str, list[str]]]:
    found = []
    for path in doc_files():
        _, fences = split_markdown(path.read_text(encoding="utf-8"))
        for fence in fences:
            if fence.info in SHELL_FENCES:
                for command in shell_commands(fence):
                    for args in pitcrew_invocations(command):
                        found.append((f"{path.relative_to(ROOT)}: {command}", args))
    return found


# --- the real command line ------------------------------------------------------------------------

def _remaining(context: Any) -> list[str]:
    protected = getattr(context, "_protected_args", None)
    if protected is None:
        protected = context.protected_args
    return [*protected, *context.args]


def parse_problem(args: list[str]) -> str | None:
    """Parse `pitcrew ARGS` with the real command line, down to the command it names, without running
    it: None when the command and its options exist and fit, else what is wrong."""
    command: Any = typer.main.get_command(app)
    name, remaining, parent = "pitcrew", list(args), None
    try:
        while True:
            context = command.make_context(name, remaining, parent=parent, resilient_parsing=False)
            if not hasattr(command, "commands"):
                return None
            name, command, remaining = command.resolve_command(context, _remaining(context))
            parent = context
    except typer.Exit as exit_:
        return None if exit_.exit_code == 0 else f"exit {exit_.exit_code}"  # e.g. --help
    except Exception as exc:  # the command line's usage errors: no such command or option, bad value...
        return f"{type(exc).__name__}: {exc}"


def command_tree() -> Any:
    return typer.main.get_command(app)


def option_names(command: Any) -> set[str]:
    names = {"--help"}
    for param in getattr(command, "params", []):
        names.update(getattr(param, "opts", []))
        names.update(getattr(param, "secondary_opts", []))
    return names


def inline_pitcrew_spans() -> list[tuple[Path, str]]:
    spans = []
    for path in doc_files():
        prose, _ = split_markdown(path.read_text(encoding="utf-8"))
        for paragraph in paragraphs(prose):
            for match in _CODE_SPAN.finditer(paragraph):
                text = match.group(2).strip()
                if text.startswith("pitcrew ") or text.startswith(".venv/bin/pitcrew "):
                    spans.append((path, text))
    return spans


def inline_span_problem(span: str) -> str | None:
    """A usage line like `pitcrew logs stats [--date D | --days N] [--json]`: the words name a real
    command and every --flag is one of its options (or, after `|`, of a sibling command)."""
    words = span.replace("\\|", "|").split()[1:]
    command, parent = command_tree(), None
    index = 0
    while hasattr(command, "commands") and index < len(words) and re.fullmatch(r"[a-z][a-z-]*", words[index]):
        if words[index] not in command.commands:
            return f"no command {words[index]!r} in {span!r}"
        parent, command = command, command.commands[words[index]]
        index += 1
    allowed = option_names(command)
    if parent is not None and "|" in words[index:]:
        for sibling in parent.commands.values():
            allowed |= option_names(sibling)
    flags = {re.sub(r"[^\w-].*$", "", word.lstrip("[")) for word in words[index:] if word.lstrip("[").startswith("--")}
    unknown = sorted(flags - allowed)
    return f"{span!r}: no option {', '.join(unknown)}" if unknown else None


# --- the tests ------------------------------------------------------------------------------------

def test_the_readme_is_a_short_front_door() -> None:
    size = README.stat().st_size
    assert size <= README_MAX_BYTES, f"README.md is {size} bytes; move detail into docs/ (at most {README_MAX_BYTES})"


def test_the_readme_links_every_docs_page() -> None:
    linked = {(README.parent / target.partition("#")[0]).resolve() for target in links(README)}
    unlinked = [page.name for page in sorted((ROOT / "docs").glob("*.md")) if page.resolve() not in linked]
    assert unlinked == []


def test_every_relative_link_and_anchor_resolves() -> None:
    problems = []
    checked = 0
    for path in doc_files():
        for target in links(path):
            checked += 1
            problem = link_problem(path, target)
            if problem:
                problems.append(f"{path.relative_to(ROOT)}: {problem}")
    assert checked > 20  # the reader found the links at all
    assert problems == []


def test_the_link_checker_catches_broken_links(tmp_path: Path) -> None:
    page = ROOT / "docs" / "configuration.md"
    assert link_problem(page, "operations.md#health") is None
    assert link_problem(page, "#using-a-local-model") is None
    assert link_problem(page, "operations.md#no-such-section") is not None
    assert link_problem(page, "no-such-page.md") is not None
    assert link_problem(page, "https://example.com/unchecked") is None


def test_headings_get_githubs_anchors() -> None:
    assert github_slug("`pitcrew logs stats`") == "pitcrew-logs-stats"
    assert github_slug("The inbox: no acknowledged event is lost") == "the-inbox-no-acknowledged-event-is-lost"
    assert github_slug("Why the `llm_call` record, and 1.5x?") == "why-the-llm_call-record-and-15x"


def test_every_documented_pitcrew_command_exists_with_its_options() -> None:
    invocations = documented_invocations()
    assert len(invocations) >= 20  # the extraction found the examples at all
    problems = [f"{where}: {problem}" for where, args in invocations if (problem := parse_problem(args))]
    assert problems == []


def test_the_command_checker_refuses_what_does_not_exist() -> None:
    assert parse_problem(["snapshots", "rebuild", "--product", "orbit", "--force"]) is None
    assert parse_problem(["ask", "--thread", "demo", "What does the Pro plan cost?"]) is None
    assert parse_problem(["snapshots", "rebuild", "--no-such-flag"]) is not None
    assert parse_problem(["no-such-command"]) is not None
    assert parse_problem(["knowledge"]) is not None  # a group is not a command
    assert parse_problem(["ask"]) is not None  # its TEXT is required
    assert parse_problem(["serve", "--port", "seventy"]) is not None


def test_inline_pitcrew_usage_names_real_commands_and_options() -> None:
    spans = inline_pitcrew_spans()
    assert len(spans) >= 20
    problems = [f"{path.relative_to(ROOT)}: {problem}" for path, span in spans if (problem := inline_span_problem(span))]
    assert problems == []
    assert inline_span_problem("pitcrew cache stats | clear [--expired]") is None
    assert inline_span_problem("pitcrew cache stats [--expired]") is not None
    assert inline_span_problem("pitcrew snapshot rebuild") is not None


def test_the_shell_reader_understands_the_docs_shapes() -> None:
    fence = Fence("sh", ["# a comment", "DATABASE_URL=sqlite:///x.db pitcrew snapshots rebuild  # after",
                         "grep x f | jq '.a", "  | .b' && .venv/bin/pitcrew logs stats --days 7", "pitcrew ask \\",
                         "  --json hi"])
    commands = shell_commands(fence)
    assert [args for command in commands for args in pitcrew_invocations(command)] == [
        ["snapshots", "rebuild"], ["logs", "stats", "--days", "7"], ["ask", "--json", "hi"]]
    prompted = Fence("sh", ['$ pitcrew classify "hi"', '{"text": "hi"}'])
    assert shell_commands(prompted) == ['pitcrew classify "hi"']


def quick_start_commands() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Quick start\n", 1)[1].split("\n## ", 1)[0]
    _, fences = split_markdown(section)
    first = next(fence for fence in fences if fence.info in SHELL_FENCES)
    return [line.strip() for line in first.lines if line.strip()]


def test_the_quick_start_is_two_commands_and_the_second_is_what_ci_runs() -> None:
    install_and_chat, test_suite = quick_start_commands()  # exactly two
    assert install_and_chat.endswith("pitcrew shell")
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
                if line.strip() and not line.strip().startswith("#")]
    # CI runs the README's test command: its install, then its pytest (beside which CI runs the PostgreSQL pass)
    install, _, pytest_command = test_suite.rpartition(" && ")
    assert install in ci_lines, ".ci/run does not install as the README says"
    runs = [index for index, line in enumerate(ci_lines) if line == pytest_command or line.startswith(pytest_command + " ||")]
    assert runs and runs[0] > ci_lines.index(install), ".ci/run does not run the README's pytest after its install"


def demo_pro_price() -> str:
    """The Pro plan's price of the demo's primary product, as a reply writes it (`$99`)."""
    data = ROOT / "knowledge" / "demo" / "data"
    primary = next(p["slug"] for p in json.loads((data / "products.json").read_text(encoding="utf-8")) if p.get("is_primary"))
    with (data / "plans.csv").open(encoding="utf-8", newline="") as handle:
        cents = next(int(row["price_cents"]) for row in csv.DictReader(handle)
                     if row["product"] == primary and row["slug"] == "pro")
    return f"${cents // 100}" if cents % 100 == 0 else f"${cents / 100:.2f}"


@pytest.mark.slow
def test_the_quick_start_works_in_a_fresh_copy(tmp_path: Path) -> None:
    """The first Quick start command, run as written in a copy of the tracked files: it installs
    pitcrew (pip reaches the package registry, nothing else) and answers from the demo data."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: cannot tell which files a fresh clone would have")
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    clone = tmp_path / "clone"
    for name in filter(None, listed.decode().split("\0")):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in the working tree is not in it
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, clone / name)
    install_and_chat = quick_start_commands()[0]
    env = {name: value for name, value in os.environ.items()
           if name not in {"DATABASE_URL", "LOG_DIR", "VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME"}}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    result = subprocess.run(["sh", "-c", install_and_chat], cwd=clone, env=env, input="what does the pro plan cost?\n",
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    price = demo_pro_price()
    assert re.search(rf"Pro\b.*{re.escape(price)}\b", result.stdout), result.stdout[-2000:]
    assert (clone / "data" / "pitcrew.db").is_file()  # the default database, created on first use
