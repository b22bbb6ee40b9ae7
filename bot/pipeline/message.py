"""What goes into the pipeline and what comes out."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol


@dataclass(frozen=True)
class IncomingMessage:
    text: str
    thread_key: str  # "slack:C123:1712345678.000100" or "shell:<session>": follow-ups share it
    user: str | None = None
    channel: str | None = None
    event_id: str | None = None
    source: Literal["slack", "shell"] = "slack"
    new_thread: bool = False  # the message starts its thread, so there is no thread memory to recall
    # Told the intent and frame as soon as the control plane has them (Slack's per-stage status); never blocks.
    on_intent: Callable[[str, dict[str, Any]], None] | None = None


class StreamSink(Protocol):
    """Slack streams LLM answers through it; the shell passes None."""

    async def append(self, text: str) -> None: ...


@dataclass
class Reply:
    mrkdwn: str  # for Slack, within its limits
    plain: str  # for a terminal
    intent: str
    confidence: float
    handler: str
    llm_validation: str
    correlation_id: str
    stages: dict[str, float] = field(default_factory=dict)  # stage name -> ms, in the order they ran
    total_ms: float = 0.0
    streamed: bool = False  # the answer already went out through the sink
    failed: bool = False
    frame: dict[str, Any] | None = None  # the message's frame: intent, slots and their sources (no text)
    pattern: str = ""  # the id of the pattern that decided the intent ("" when none did)
    llm: str = "skipped"  # the LLM's part: "skipped", "validated" (the intent) or "used" (the answer)
    snapshot_version: int | None = None  # the product snapshot the answer was read from

    def as_json(self) -> dict[str, Any]:
        """The reply and its metadata as one JSON-ready object (`pitcrew ask --json`)."""
        return {
            "text": self.plain,
            "mrkdwn": self.mrkdwn,
            "intent": self.intent,
            "confidence": self.confidence,
            "handler": self.handler,
            "llm_validation": self.llm_validation,
            "correlation_id": self.correlation_id,
            "stages": self.stages,
            "total_ms": self.total_ms,
            "streamed": self.streamed,
            "failed": self.failed,
            "frame": self.frame,
            "pattern": self.pattern,
            "llm": self.llm,
            "snapshot_version": self.snapshot_version,
        }


def failure_reply(correlation_id: str, *, intent: str = "unknown", confidence: float = 0.0, handler: str = "none",
                  llm_validation: str = "skipped", stages: dict[str, float] | None = None,
                  total_ms: float = 0.0) -> Reply:
    """The one reply a user gets when answering failed: an apology quoting the id to give the admin
    (it finds the request's log records)."""
    text = ("Sorry, something went wrong on my side while answering that. Please try again; if it keeps "
            f"happening, quote this id to your admin: `{correlation_id}`")
    return Reply(mrkdwn=text, plain=text.replace("`", ""), intent=intent, confidence=confidence, handler=handler,
                 llm_validation=llm_validation, correlation_id=correlation_id, stages=stages or {},
                 total_ms=total_ms, failed=True)


# Sends a finished reply to the user; the pipeline calls it before its own bookkeeping (thread
# memory, the summary record), so the user does not wait for those. It returns False when the reply
# could not be delivered (the request then counts as failed); True or None when it was.
Deliver = Callable[[Reply], Awaitable[bool | None]]
