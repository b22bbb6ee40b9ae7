"""What the workspace lets pitcrew do, learned from Slack's first refusal and remembered for the process."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError

log = logging.getLogger(__name__)

# Errors that will not go away on the next call: stop trying the feature instead of paying a
# wasted round trip on every message.
PERMANENT_ERRORS = frozenset({
    "access_denied",
    "feature_not_enabled",
    "method_deprecated",
    "missing_scope",
    "no_permission",
    "not_allowed",
    "not_allowed_token_type",
    "unknown_method",
})


# What a Web API call can raise once the client's own retries are spent.
SLACK_CALL_ERRORS = (SlackClientError, aiohttp.ClientError, TimeoutError)


def slack_error(exc: BaseException) -> str:
    """The `error` code of a failed Web API call, or the exception's type for a transport failure."""
    if isinstance(exc, SlackApiError):
        try:
            return str(exc.response.get("error") or "unknown")
        except AttributeError:
            return "unknown"
    return type(exc).__name__


@dataclass
class WorkspaceFeatures:
    thread_status: bool = True  # assistant.threads.setStatus
    streaming: bool = True  # chat.startStream / appendStream / stopStream

    def note_refusal(self, feature: str, exc: BaseException) -> None:
        """Turn `feature` off for this process if Slack's refusal is permanent."""
        error = slack_error(exc)
        if error in PERMANENT_ERRORS and getattr(self, feature):
            setattr(self, feature, False)
            log.warning("Slack refused a feature; not using it again in this process",
                        extra={"feature": feature, "slack_error": error})
