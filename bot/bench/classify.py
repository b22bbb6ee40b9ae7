"""Benchmark: the control plane's pattern tier, per message and through `pitcrew classify`.

    pitcrew bench --only classify [--quick]

Messages are generated from templates over the demo vocabulary (every intent, Slack markup, long
and junk messages), 10,000 of them (2,000 with --quick).
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from bot.bench.core import BenchResult, percentiles
from control_plane import ControlPlane, ControlPlaneConfig
from control_plane.normalize import normalize
from knowledge.db import Database
from knowledge.demo import ensure_demo_data
from knowledge.vocabulary import Vocabulary, load_vocabulary

FULL_MESSAGES = 10_000
QUICK_MESSAGES = 2_000
PATTERN_P95_TARGET_US = 50.0
DECISION_P95_TARGET_US = 150.0
CLI_TARGET_S = 5.0  # for 10,000 messages, process start included
NOW = datetime(2025, 3, 5, 15, 0)

TOPICS = ["pricing", "SOC 2", "data residency", "the renewal", "onboarding", "SSO", "a discount", "the API",
          "budget cuts", "competitor pricing", "the security questionnaire", "usage-based billing"]
TIMES = ["today", "yesterday", "last week", "this month", "on Tuesday", "in Q3", "recently", "last quarter", ""]
TEMPLATES = [
    "what does the {plan} plan cost?", "how much is {product} per seat", "does {product} support SSO?",
    "is there a Salesforce integration on {plan}?", "compare the {plan} and {plan2} plans",
    "which plan includes audit logs", "is {product} SOC 2 compliant", "what are the API limits on {plan}",
    "search all recent calls about {topic}", "find calls where {account} mentioned {topic} {time}",
    "any calls {time} about {topic} with {account}?", "search transcripts for \"{topic}\"",
    "which conversations mentioned {topic} {time}", "summarize my last call with {account}",
    "recap {time} meeting with {account}", "what were the action items from the {account} demo?",
    "key points from the call with {first} {time}", "draft an email to {first} about {topic}",
    "write a follow-up to {person} after the {account} QBR", "email {first} a summary of {topic}",
    "<@U07BOT> help", "what can you do?", "hi", "thanks!!", "good morning :wave:",
    "price of Apple stock", "book a flight to NYC {time}", "what's the weather in Paris",
    "<@U07BOT> can you look at <https://example.com/deck|the deck> for {account}?",
    "hey can you tell me whether we discussed {topic} with {account} at some point, I can't remember",
    "{junk}", "{junk} {junk} {junk}",
]
JUNK = ["asdf", "lorem ipsum", "🚀🎉", "SELECT * FROM meeting;", ".*+?[](){}", "ok so", "hmm", "q3 q4 q1",
        "the the the", "calls calls calls", "price price plan plan", "-- -- --", "\x00\x07"]


def messages(vocabulary: Vocabulary, count: int, seed: int = 1) -> list[str]:
    """`count` varied messages; about one in fifty is long (1-4 KB)."""
    rng = random.Random(seed)
    plans = list(vocabulary.plans) or ["Pro", "Enterprise"]
    products = [p.name for p in vocabulary.products] or ["Orbit"]
    accounts = list(vocabulary.accounts) or ["Acme"]
    people = [c.name for c in vocabulary.contacts] or ["Tyler Nguyen"]
    result = []
    for n in range(count):
        person = rng.choice(people)
        text = rng.choice(TEMPLATES).format(
            plan=rng.choice(plans), plan2=rng.choice(plans), product=rng.choice(products),
            account=rng.choice(accounts), person=person, first=person.split()[0], topic=rng.choice(TOPICS),
            time=rng.choice(TIMES), junk=rng.choice(JUNK),
        )
        if rng.random() < 0.3:
            text = text.upper() if rng.random() < 0.2 else text.capitalize()
        if n % 50 == 49:
            text = (text + " ") * rng.randint(20, 80)
        result.append(text)
    return result


def run(quick: bool, workdir: Path) -> list[BenchResult]:
    db_url = f"sqlite:///{workdir / 'demo.db'}"
    db = Database(db_url)
    try:
        ensure_demo_data(db, NOW)
        vocabulary = load_vocabulary(db)
    finally:
        db.close()
    plane = ControlPlane(ControlPlaneConfig(), vocabulary, None)
    texts = messages(vocabulary, FULL_MESSAGES)
    in_process = texts[:QUICK_MESSAGES] if quick else texts
    # The CLI run is always 10,000 messages: its target includes a fixed process start-up.
    return [_patterns(plane, in_process), _decisions(plane, in_process), _cli(texts, db_url, workdir)]


def _patterns(plane: ControlPlane, texts: list[str]) -> BenchResult:
    """Normalization and pattern matching: what decides whether the LLM is needed."""
    classifier = plane._classifier  # the same compiled patterns the plane uses
    for text in texts[:500]:  # warm-up
        classifier.candidates(normalize(text).lowered)
    samples = []
    clock = time.perf_counter
    for text in texts:
        started = clock()
        classifier.candidates(normalize(text).lowered)
        samples.append((clock() - started) * 1e6)
    return _result("control_plane.patterns", "us", samples, f"p95 < {PATTERN_P95_TARGET_US:g} µs",
                   PATTERN_P95_TARGET_US, f"{len(texts)} messages, {plane.patterns.pattern_count} patterns")


def _decisions(plane: ControlPlane, texts: list[str]) -> BenchResult:
    """The whole offline decision: patterns, skip rule and entity extraction."""
    for text in texts[:500]:
        plane.classify(text, NOW)
    samples = []
    clock = time.perf_counter
    for text in texts:
        started = clock()
        plane.classify(text, NOW)
        samples.append((clock() - started) * 1e6)
    skipped = sum(plane.classify(text, NOW).llm_validation == "skipped" for text in texts)
    return _result("control_plane.decision", "us", samples, f"p95 < {DECISION_P95_TARGET_US:g} µs",
                   DECISION_P95_TARGET_US, f"entities included; {skipped / len(texts):.0%} skip the LLM")


def _cli(texts: list[str], db_url: str, workdir: Path) -> BenchResult:
    """`pitcrew classify` reading the messages on stdin, process start included."""
    stdin = "".join(" ".join(text.split()) + "\n" for text in texts)  # one message per line
    env = {**os.environ, "DATABASE_URL": db_url, "LOG_DIR": str(workdir / "logs")}
    command = [sys.executable, "-m", "bot.cli", "classify", "--now", NOW.isoformat()]
    started = time.perf_counter()
    completed = subprocess.run(command, input=stdin.encode(), capture_output=True, env=env, cwd=workdir, check=False)
    seconds = time.perf_counter() - started
    lines = completed.stdout.count(b"\n")
    target = CLI_TARGET_S
    ok = completed.returncode == 0 and lines == len(texts)
    detail = f"{len(texts)} messages, {lines} lines out" if ok else f"exit {completed.returncode}: {completed.stderr[-300:]!r}"
    return BenchResult(f"control_plane.cli.{len(texts) // 1000}k", "s", round(seconds, 3), round(seconds, 3),
                       round(seconds, 3), f"< {target:g} s", ok and seconds < target, detail)


def _result(name: str, unit: str, samples: list[float], target: str, limit: float, detail: str) -> BenchResult:
    p50, p95, p99 = percentiles(samples)
    return BenchResult(name, unit, round(p50, 2), round(p95, 2), round(p99, 2), target, p95 < limit, detail)
