"""👍/👎 under every answer, and what a click does: acknowledged at once, stored, thanked for in private.

Each answer carries a `context_actions` block with `feedback_buttons` (slack_sdk's `FeedbackButtonsElement`).
Each button's value names the answer: its correlation id and the facts a signal records (intent, handler,
pattern, LLM part, snapshot version), so a click needs no lookup and pitcrew stores nothing per answer in
advance. A click is stored with the clicking user (a second click replaces their first) and answered with an
ephemeral thank-you; a 👎 also opens a small optional modal, "What was wrong?", whose one line is stored with it.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.models.blocks import (
    ContextActionsBlock,
    FeedbackButtonObject,
    FeedbackButtonsElement,
    PlainTextInputElement,
    PlainTextObject,
)
from slack_sdk.models.blocks import InputBlock
from slack_sdk.models.views import View
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.exc import SQLAlchemyError

from bot.pipeline import Reply
from bot.pipeline.quality import QualityRecorder, answer_facts
from bot.slack.capabilities import SLACK_CALL_ERRORS, slack_error
from knowledge.quality import REASON_MAX_CHARS, AnswerFacts

log = logging.getLogger(__name__)

FEEDBACK_ACTION_ID = "pitcrew_feedback"
REASON_CALLBACK_ID = "pitcrew_feedback_reason"
REASON_BLOCK_ID = "reason"
REASON_ACTION_ID = "reason_input"
POSITIVE, NEGATIVE = "good", "bad"
SECTION_MAX_CHARS = 3000  # Slack's limit on a section block's text
THANKS_POSITIVE = "Thanks for the feedback! :raised_hands:"
THANKS_NEGATIVE = "Thanks for telling me. If you like, say what was wrong in the window that opened."
THANKS_FAILED = "Sorry, I could not record that just now. Please try again in a moment."


def button_value(polarity: str, facts: AnswerFacts) -> str:
    """The button's value: its polarity and the answer's facts (well under Slack's 2,000 characters)."""
    payload = {"c": facts.correlation_id, "i": facts.intent, "h": facts.handler, "p": facts.pattern,
               "l": facts.llm, "v": facts.snapshot_version}
    return f"{polarity}:{json.dumps(payload, separators=(',', ':'))}"


def parse_button_value(value: str) -> tuple[bool, AnswerFacts] | None:
    """(positive, facts) from a button's value; None for a value pitcrew did not write."""
    polarity, _, raw = value.partition(":")
    if polarity not in (POSITIVE, NEGATIVE):
        return None
    try:
        payload = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("c"), str) or not payload["c"]:
        return None
    version = payload.get("v")
    facts = AnswerFacts(payload["c"], str(payload.get("i") or "unknown"), str(payload.get("h") or "none"),
                        str(payload.get("p") or ""), str(payload.get("l") or "skipped"),
                        version if isinstance(version, int) and not isinstance(version, bool) else None)
    return polarity == POSITIVE, facts


def _feedback_template() -> dict[str, Any]:
    """The `context_actions` block, built and checked once by slack_sdk's models; answers fill in the values."""
    element = FeedbackButtonsElement(
        action_id=FEEDBACK_ACTION_ID,
        positive_button=FeedbackButtonObject(text="Good answer", accessibility_label="Mark this answer as helpful",
                                             value=POSITIVE),
        negative_button=FeedbackButtonObject(text="Bad answer", accessibility_label="Mark this answer as unhelpful",
                                             value=NEGATIVE),
    )
    return ContextActionsBlock(elements=[element]).to_dict()


_FEEDBACK_TEMPLATE = _feedback_template()


def feedback_block(reply: Reply) -> dict[str, Any]:
    """The `context_actions` block with 👍/👎 for `reply` (the template with this answer's values: building the
    models per answer cost ~50 µs of the event loop, this ~2 µs)."""
    facts = answer_facts(reply)
    [element] = _FEEDBACK_TEMPLATE["elements"]
    filled = {**element,
              "positive_button": {**element["positive_button"], "value": button_value(POSITIVE, facts)},
              "negative_button": {**element["negative_button"], "value": button_value(NEGATIVE, facts)}}
    return {**_FEEDBACK_TEMPLATE, "elements": [filled]}


def answer_blocks(mrkdwn: str, reply: Reply) -> list[dict[str, Any]]:
    """The answer as section blocks (cut on line boundaries to Slack's section size) and the feedback block."""
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": part}}
                                    for part in _sections(mrkdwn)]
    blocks.append(feedback_block(reply))
    return blocks


def _sections(text: str) -> list[str]:
    parts: list[str] = []
    start = 0
    while len(text) - start > SECTION_MAX_CHARS:
        cut = text.rfind("\n", start, start + SECTION_MAX_CHARS)
        if cut <= start:
            cut = start + SECTION_MAX_CHARS
        parts.append(text[start:cut])
        start = cut + 1 if text[cut:cut + 1] == "\n" else cut
    parts.append(text[start:] or " ")
    return [part if part.strip() else " " for part in parts]


def reason_modal(correlation_id: str) -> dict[str, Any]:
    """The optional "What was wrong?" modal; its private metadata names the answer."""
    return View(
        type="modal", callback_id=REASON_CALLBACK_ID, private_metadata=correlation_id,
        title=PlainTextObject(text="What was wrong?"), submit=PlainTextObject(text="Send"),
        close=PlainTextObject(text="Skip"),
        blocks=[InputBlock(block_id=REASON_BLOCK_ID, optional=True,
                           label=PlainTextObject(text="In one line (optional)"),
                           element=PlainTextInputElement(action_id=REASON_ACTION_ID, max_length=REASON_MAX_CHARS,
                                                         placeholder="e.g. it quoted the wrong plan"))],
    ).to_dict()


def register_feedback(app: AsyncApp, quality: QualityRecorder) -> None:
    """The listeners for feedback clicks and the reason modal."""

    async def on_feedback(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()  # first: Slack wants it within 3 s, and the rep sees the button respond at once
        action = next((a for a in body.get("actions") or [] if a.get("action_id") == FEEDBACK_ACTION_ID), {})
        parsed = parse_button_value(str(action.get("value") or ""))
        user = (body.get("user") or {}).get("id") or ""
        channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
        message = body.get("message") or {}
        thread_ts = message.get("thread_ts") or (body.get("container") or {}).get("thread_ts")
        if parsed is None or not user:
            log.warning("a feedback click pitcrew cannot read", extra={"has_user": bool(user)})
            return
        positive, facts = parsed
        if not positive and body.get("trigger_id"):  # the trigger expires within 3 s: open the modal first
            await _call(client.views_open(trigger_id=body["trigger_id"], view=reason_modal(facts.correlation_id)),
                        "open the feedback modal", facts.correlation_id)
        stored = True
        try:
            await quality.feedback(facts, user, positive=positive)
        except SQLAlchemyError as exc:
            stored = False
            log.warning("could not store a feedback click",
                        extra={"correlation_id": facts.correlation_id, "error": type(exc).__name__})
        log.info("feedback", extra={"correlation_id": facts.correlation_id, "positive": positive, "stored": stored})
        if channel:
            text = THANKS_FAILED if not stored else THANKS_POSITIVE if positive else THANKS_NEGATIVE
            await _call(client.chat_postEphemeral(channel=channel, user=user, text=text, thread_ts=thread_ts),
                        "thank for the feedback", facts.correlation_id)

    async def on_reason(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        await ack()
        correlation_id = str(view.get("private_metadata") or "")
        user = (body.get("user") or {}).get("id") or ""
        values = ((view.get("state") or {}).get("values") or {}).get(REASON_BLOCK_ID) or {}
        reason = str((values.get(REASON_ACTION_ID) or {}).get("value") or "").strip()
        if not (correlation_id and user and reason):
            return  # sent empty: the 👎 stands on its own
        try:
            attached = await quality.reason(correlation_id, user, reason)
        except SQLAlchemyError as exc:
            log.warning("could not store a feedback reason",
                        extra={"correlation_id": correlation_id, "error": type(exc).__name__})
            return
        log.info("feedback reason", extra={"correlation_id": correlation_id, "stored": attached})

    app.action(FEEDBACK_ACTION_ID)(on_feedback)
    app.view(REASON_CALLBACK_ID)(on_reason)


async def _call(call: Any, what: str, correlation_id: str) -> None:
    try:
        await call
    except SLACK_CALL_ERRORS as exc:
        log.info(f"could not {what}", extra={"correlation_id": correlation_id, "slack_error": slack_error(exc)})
