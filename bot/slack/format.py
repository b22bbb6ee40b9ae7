"""Slack-specific text handling on the way in (mentions) and out (message size)."""

from __future__ import annotations

import re

# `<@U123ABC>` or `<@U123ABC|name>`; W-prefixed ids are Enterprise Grid users.
_USER_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_SPACES = re.compile(r"[ \t]+")

# Slack truncates message text past 40,000 characters; stop short and say so.
MAX_MESSAGE_CHARS = 39_000
TRUNCATION_NOTE = "\n_…(answer shortened: it was longer than a Slack message allows)_"


def strip_bot_mention(text: str, bot_user_id: str | None) -> str:
    """The user's words without the mention(s) of the bot; other people's mentions stay."""
    if bot_user_id:
        # Every mention ends with a `>`: none lies past the last one, and searching there read to the
        # end of the text from each `<@U1|` (quadratic in a message of them).
        end = text.rfind(">") + 1
        stripped = _USER_MENTION.sub(lambda m: "" if m.group(1) == bot_user_id else m.group(0), text[:end]) + text[end:]
    else:  # identity unknown: drop only a leading mention, which is how people address a bot
        stripped = re.sub(rf"^\s*{_USER_MENTION.pattern}", "", text)
    return "\n".join(_SPACES.sub(" ", line).strip() for line in stripped.splitlines()).strip()


def fit_message(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """`text` cut to fit one Slack message, on a line boundary where possible."""
    if len(text) <= limit:
        return text
    cut = text.rfind("\n", 0, limit - len(TRUNCATION_NOTE))
    if cut < limit // 2:
        cut = limit - len(TRUNCATION_NOTE)
    return text[:cut].rstrip() + TRUNCATION_NOTE
