"""Benchmark: how much LLM validation the control plane avoids on a realistic message mix.

    pitcrew bench --only llm_avoidance [--quick]

The same labelled mix is replayed through two control planes sharing one gateway and one fake
OpenAI-compatible server on 127.0.0.1: the production decision (skip when confident and unambiguous)
and the always-validate baseline (threshold above 1). LLM calls are counted by the server, so the figure
is what a provider would bill. Precision of the skipped messages is reported beside the saving, because a
saving bought with wrong skips is worthless.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from contextlib import AsyncExitStack
from datetime import datetime
from pathlib import Path

from bot.app.application import Application
from bot.bench.core import BenchResult
from bot.bench.llm import VALIDATION_REPLY, LoopbackLLM
from bot.settings import load_settings
from control_plane import ControlPlane, ControlPlaneConfig
from knowledge.db import Database
from knowledge.demo import ensure_demo_data
from knowledge.vocabulary import load_vocabulary

SKIP_SHARE_TARGET = 0.6
CALLS_PER_MESSAGE_TARGET = 0.4
SKIPPED_PRECISION_TARGET = 0.98
NOW = datetime(2026, 3, 4, 15, 0)

# (weight, intent, message): a day of a sales team's traffic, written for this benchmark (not the test
# sets). Weights say how often such a message comes; a few are phrased unusually on purpose.
MESSAGE_MIX: tuple[tuple[int, str, str], ...] = (
    (6, "product_question", "how much does Growth cost per user?"),
    (5, "product_question", "What's the price of the Team plan"),
    (4, "product_question", "does Enterprise come with SAML SSO"),
    (4, "product_question", "is the HubSpot integration available on Starter?"),
    (3, "product_question", "what are the seat limits on Team"),
    (3, "product_question", "Pro vs Enterprise, what's different?"),
    (3, "product_question", "do we have a HIPAA BAA?"),
    (2, "product_question", "is there an annual discount on Orbit"),
    (2, "product_question", "which plans have audit logs?"),
    (2, "product_question", "customer asks if we're GDPR compliant"),
    (2, "product_question", "what does the analytics add-on include and cost"),
    (1, "product_question", "can Beacon Basic users record calls?"),
    (1, "product_question", "SLA on enterprise?"),
    (1, "product_question", "prospect wants to know about data retention"),
    (5, "call_search", "find calls where pricing objections came up"),
    (4, "call_search", "search calls about SSO from last month"),
    (3, "call_search", "any calls with Umbrella mentioning the security review?"),
    (3, "call_search", "which calls talked about switching from a competitor"),
    (2, "call_search", "look for calls mentioning \"procurement\""),
    (2, "call_search", "show me recent calls about the API"),
    (1, "call_search", "who brought up discounts on calls this quarter"),
    (1, "call_search", "did anyone at Hooli ask about data residency"),
    (4, "meeting_summary", "summarize yesterday's call with Globex"),
    (3, "meeting_summary", "recap of the last Initech meeting"),
    (3, "meeting_summary", "what were the next steps from the Acme demo"),
    (2, "meeting_summary", "key takeaways from this morning's discovery call"),
    (1, "meeting_summary", "what happened in the Hooli QBR"),
    (1, "meeting_summary", "remind me what Umbrella decided"),
    (4, "draft_email", "draft a follow-up to Sarah after our demo"),
    (3, "draft_email", "write an email to Tyler with the pricing we discussed"),
    (2, "draft_email", "compose a thank you email to Priya"),
    (1, "draft_email", "can you put together a note for the Globex folks recapping today"),
    (2, "help", "what can pitcrew do"),
    (1, "help", "how does this work?"),
    (4, "smalltalk", "thanks"),
    (3, "smalltalk", "hey pitcrew"),
    (1, "smalltalk", "good afternoon!"),
    (1, "smalltalk", "appreciate it, that helped"),
    (1, "unknown", "what's the stock price of our biggest competitor"),
    (1, "unknown", "can you book a meeting room for 3pm"),
    (1, "unknown", "tell me a joke"),
    (1, "unknown", "translate this to Spanish"),
)

def replay_mix(size: int, seed: int = 0) -> list[tuple[str, str]]:
    """`size` (intent, message) pairs drawn from MESSAGE_MIX by weight, reproducibly."""
    rng = random.Random(seed)
    weights = [weight for weight, _, _ in MESSAGE_MIX]
    drawn = rng.choices(MESSAGE_MIX, weights=weights, k=size)
    return [(intent, text) for _, intent, text in drawn]


async def _replay(plane: ControlPlane, server: LoopbackLLM, mix: Sequence[tuple[str, str]]) -> dict[str, float]:
    requests_before = server.requests
    skipped = correct_skipped = 0
    for intent, text in mix:
        decision = await plane.decide(text, now=NOW)
        if decision.llm_validation == "skipped":
            skipped += 1
            correct_skipped += decision.intent.value == intent
    return {
        "skip_share": skipped / len(mix),
        "calls_per_message": (server.requests - requests_before) / len(mix),
        "skipped_precision": correct_skipped / skipped if skipped else 1.0,
        "skipped": skipped,
    }


async def _measure(workdir: Path, size: int) -> tuple[dict[str, float], dict[str, float]]:
    db = Database(f"sqlite:///{workdir / 'llm-avoidance.db'}")
    try:
        ensure_demo_data(db)
        vocabulary = load_vocabulary(db)
        async with LoopbackLLM(reply=VALIDATION_REPLY) as server:
            settings = load_settings(openai_api_key="bench-key", openai_base_url=server.base_url,
                                     database_url=db.url, log_dir=workdir / "logs")
            services = AsyncExitStack()  # the gateway and control plane as the process builds them
            app = await services.enter_async_context(Application.running(settings, load_demo=False))
            gateway = app.llm
            try:
                production = app.pipeline.control_plane
                baseline = ControlPlane(ControlPlaneConfig(skip_threshold=1.01, ambiguity_margin=0.1, shadow_rate=0.0),
                                        vocabulary, gateway)
                mix = replay_mix(size)
                return await _replay(production, server, mix), await _replay(baseline, server, mix)
            finally:
                await services.aclose()
    finally:
        db.close()


def _ratio(name: str, value: float, target: str, passed: bool, detail: str) -> BenchResult:
    value = round(value, 4)
    return BenchResult(name=name, unit="ratio", p50=value, p95=value, p99=value, target=target, passed=passed,
                       detail=detail)


def run(quick: bool, workdir: Path) -> list[BenchResult]:
    size = 400 if quick else 2000
    production, baseline = asyncio.run(_measure(workdir, size))
    mix_note = f"{size} messages drawn by weight from {len(MESSAGE_MIX)} kinds"
    return [
        _ratio("llm_avoidance.skip_share", production["skip_share"], f">= {SKIP_SHARE_TARGET}",
               production["skip_share"] >= SKIP_SHARE_TARGET, f"{mix_note}; baseline skips {baseline['skip_share']:.2f}"),
        _ratio("llm_avoidance.llm_calls_per_message", production["calls_per_message"],
               f"<= {CALLS_PER_MESSAGE_TARGET}", production["calls_per_message"] <= CALLS_PER_MESSAGE_TARGET,
               f"always-validate baseline in the same run: {baseline['calls_per_message']:.2f} calls per message"),
        _ratio("llm_avoidance.skipped_precision", production["skipped_precision"], f">= {SKIPPED_PRECISION_TARGET}",
               production["skipped_precision"] >= SKIPPED_PRECISION_TARGET,
               f"{int(production['skipped'])} skipped messages checked against their labels"),
    ]
