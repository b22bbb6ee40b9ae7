"""`clean_text`: a message's text made safe for everything downstream (SQLite, logs, JSON, the LLM).

A Slack event may carry a lone UTF-16 surrogate (JSON allows the escape `\\ud800`) and a terminal
argument undecodable bytes (Python turns them into surrogates); neither can be encoded as UTF-8, so
SQLite, the log files and the LLM client would all fail on them. Control characters are invisible
and only confuse the classifier and the logs. Both are replaced where a message comes in (Slack
events and the CLI alike), once, so nothing downstream needs to care.
"""

from __future__ import annotations

import re

REPLACEMENT = "\ufffd"

# C0 controls except tab, newline and carriage return; DEL and the C1 controls; every surrogate.
_UNCLEAN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def clean_text(text: str) -> str:
    """`text` with lone surrogates replaced by U+FFFD and control characters (but tab, CR, LF) by a
    space; a well-formed surrogate pair becomes the character it encodes. Linear in the length."""
    if _UNCLEAN.search(text) is None:  # the usual case: one scan, no copy
        return text
    if _SURROGATE.search(text) is not None:
        # UTF-16 round trip: pairs combine into their character, anything unpaired becomes U+FFFD.
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return _CONTROL.sub(" ", text)
