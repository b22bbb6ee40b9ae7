"""Reply text: one marked-up form that renders to Slack mrkdwn and to plain text for the terminal.

Handlers compose replies with `bold()`, `italic()`, `code()` and `table()`. These wrap text in
private control characters rather than in `*`/`_`, so a `*` typed by a user stays a literal
character: `render_mrkdwn` escapes everything (`&`, `<`, `>`) and only then turns the markers
into Slack syntax, and `render_plain` simply drops them. User-derived text goes through `clean()`
first, which removes control characters (the markers among them) so it can never forge formatting.
LLM answers arrive as Markdown: `markdown_to_mrkdwn` converts them for Slack, and the terminal
shows the Markdown as it is.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable, Sequence

SECTION_LIMIT = 3000  # Slack: a section block's text holds at most 3,000 characters
MAX_SECTIONS = 12  # beyond this a reply is trimmed; no sales rep reads 36,000 characters in Slack
TRIM_NOTE = "… (reply trimmed)"

_BOLD_ON, _BOLD_OFF = "\x0e", "\x0f"
_ITALIC_ON, _ITALIC_OFF = "\x10", "\x11"
_CODE_ON, _CODE_OFF = "\x12", "\x13"
_PRE_ON, _PRE_OFF = "\x14", "\x15"
# Call search's snippet highlight markers (knowledge.dialects.search), turned into bold by `highlight()`.
SNIPPET_START, SNIPPET_END = "\x02", "\x03"

_SNIPPET_MARK = re.compile(f"([{SNIPPET_START}{SNIPPET_END}])")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_MRKDWN_MARKERS = {
    _BOLD_ON: "*",
    _BOLD_OFF: "*",
    _ITALIC_ON: "_",
    _ITALIC_OFF: "_",
    _CODE_ON: "`",
    _CODE_OFF: "`",
    _PRE_ON: "```\n",
    _PRE_OFF: "\n```",
}
_MARKERS = re.compile("[\x0e-\x15]")
_MRKDWN_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def escape(text: str) -> str:
    """Escape the three characters Slack treats as markup (`&`, `<`, `>`)."""
    return text.translate(_MRKDWN_ESCAPES)


def clean(text: str | None) -> str:
    """User-derived text made safe to embed: control characters (and so any marker) removed."""
    if not text:
        return ""
    return _CONTROL.sub("", text)


def _wrap(on: str, off: str, text: str) -> str:
    inner = clean(text).strip()
    return f"{on}{inner}{off}" if inner else ""


def bold(text: str) -> str:
    return _wrap(_BOLD_ON, _BOLD_OFF, text)


def italic(text: str) -> str:
    return _wrap(_ITALIC_ON, _ITALIC_OFF, text)


def code(text: str) -> str:
    # Backticks inside inline code would end it early in Slack.
    return _wrap(_CODE_ON, _CODE_OFF, clean(text).replace("`", "'"))


def highlight(snippet: str) -> str:
    """A search snippet with its FTS5 match markers turned into bold (every other control character dropped)."""
    out: list[str] = []
    bold_open = False
    for part in _SNIPPET_MARK.split(snippet):
        if part in (SNIPPET_START, SNIPPET_END):
            if (part == SNIPPET_START) != bold_open:  # unbalanced markers are dropped
                out.append(_BOLD_ON if part == SNIPPET_START else _BOLD_OFF)
                bold_open = not bold_open
        else:
            out.append(clean(part))
    if bold_open:
        out.append(_BOLD_OFF)
    return "".join(out)


def and_list(items: Sequence[str]) -> str:
    """ "a, b and c" (as given for one item, "" for none)."""
    return _joined(items, "and")


def or_list(items: Sequence[str]) -> str:
    """ "a, b or c" (as given for one item, "" for none)."""
    return _joined(items, "or")


def _joined(items: Sequence[str], last: str) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {last} " + items[-1]


def table(header: list[str], rows: list[list[str]]) -> str:
    """A small aligned table in a preformatted block (Slack renders no Markdown tables)."""
    cells = [[clean(c).replace("`", "'") for c in header]] + [[clean(c).replace("`", "'") for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return _PRE_ON + "\n".join(lines) + _PRE_OFF


def render_mrkdwn(marked: str) -> str:
    """Marked-up reply text as Slack mrkdwn: everything escaped, markers turned into Slack syntax."""
    escaped = escape(marked)
    return _MARKERS.sub(lambda m: _MRKDWN_MARKERS[m.group()], escaped)


_MARKDOWN_MARKERS = {**_MRKDWN_MARKERS, _BOLD_ON: "**", _BOLD_OFF: "**"}


def render_markdown(marked: str) -> str:
    """Marked-up reply text as Markdown (for Slack's streamed `markdown_text`)."""
    return _MARKERS.sub(lambda m: _MARKDOWN_MARKERS[m.group()], marked)


def render_plain(marked: str) -> str:
    """Marked-up reply text for a terminal: markers dropped, table blocks kept as they are."""
    return _MARKERS.sub("", marked)


# --- LLM Markdown -> Slack mrkdwn -------------------------------------------------------------

# Every pattern here runs in time linear in the line: what a backtracking regex would do in
# quadratic time or worse ("# a" then thousands of spaces took seconds) is done by hand below.
_FENCE = re.compile(r"^\s*```")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+)$")  # the title is the rest less its closing #s (`_heading_title`)
_BULLET = re.compile(r"^(\s*)[-*+]\s+(.*)$")
_LINK_TARGET = re.compile(r"\((https?://[^)\s]+)\)")  # after `[text]` (`_convert_links`)
_ITALIC_STAR = re.compile(r"(?<![*\w])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![*\w])")
_TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$")
_TABLE_RULE = re.compile(r"^\s*+\|?\s*+:?-{2,}+:?\s*+(?:\|\s*+:?-{2,}+:?\s*+)*+\|?\s*+$")
_INLINE_CODE = re.compile(r"(`[^`\n]+`)")


def _heading_title(rest: str) -> str:
    """What `(.+?)\\s*#*\\s*$` captures of a heading's rest: it without closing spaces and #s, never empty."""
    return rest.rstrip().rstrip("#").rstrip() or rest[:1]


def _convert_links(text: str) -> str:
    """`[text](https://...)` -> `<https://...|text>`, as `\\[([^\\]\\n]+)\\]\\((https?://[^)\\s]+)\\)` would
    substitute. Every `[` before a `]` ends its text there, so a `]` not followed by a link target
    rules them all out at once."""
    out: list[str] = []
    last = 0
    opening = text.find("[")
    while opening != -1:
        closing = text.find("]", opening + 1)
        if closing == -1:
            break
        target = _LINK_TARGET.match(text, closing + 1) if closing > opening + 1 else None
        if target is not None:
            out += (text[last:opening], f"<{target.group(1)}|{text[opening + 1 : closing]}>")
            last = target.end()
            opening = text.find("[", last)
        else:
            opening = text.find("[", closing + 1)
    out.append(text[last:])
    return "".join(out)


def _convert_pairs(text: str, marks: tuple[str, ...], render: Callable[[str], str]) -> str:
    """Spans between two-character `marks` rendered, as `(m1|m2)(?=\\S)(.+?)(?<=\\S)\\1` would substitute.

    That regex reads to the end of the line from every opening mark that is never closed: quadratic
    on "**a **a **a ...". Here each opening looks up its first possible closing among the marks' places.
    """
    if not any(mark in text for mark in marks):
        return text
    openings: list[tuple[int, str]] = []
    closings: dict[str, list[int]] = {}
    for mark in marks:
        places = closings.setdefault(mark, [])
        place = text.find(mark)
        while place != -1:
            if place + 2 < len(text) and not text[place + 2].isspace():
                openings.append((place, mark))
            if place > 0 and not text[place - 1].isspace():
                places.append(place)
            place = text.find(mark, place + 1)
    out: list[str] = []
    last = 0
    for opening, mark in sorted(openings):
        if opening < last:
            continue
        places = closings[mark]
        index = bisect_left(places, opening + 3)  # at least one character between the marks
        if index == len(places):
            continue
        closing = places[index]
        out += (text[last:opening], render(text[opening + 2 : closing]))
        last = closing + 2
    out.append(text[last:])
    return "".join(out)


def _bold(text: str, render: Callable[[str], str] = lambda inner: f"*{inner}*") -> str:
    return _convert_pairs(text, ("**", "__"), render)


def _convert_inline(line: str) -> str:
    """Inline Markdown of one line (outside code spans) to mrkdwn; the line is already escaped."""
    parts = _INLINE_CODE.split(line)
    for i in range(0, len(parts), 2):  # even indexes are outside code spans
        part = parts[i]
        part = _convert_links(part)
        # Italic first (single stars), so that bold's output `*x*` is not read as italic afterwards.
        part = _ITALIC_STAR.sub(lambda m: f"_{m.group(1)}_", part)
        part = _bold(part)
        part = _convert_pairs(part, ("~~",), lambda inner: f"~{inner}~")
        parts[i] = part
    return "".join(parts)


def markdown_to_mrkdwn(markdown: str) -> str:
    """Markdown as an LLM writes it, converted to what Slack renders; `&`, `<`, `>` escaped."""
    out: list[str] = []
    in_fence = False
    table_rows: list[str] = []

    def flush_table() -> None:
        if table_rows:
            out.append("```\n" + "\n".join(table_rows) + "\n```")
            table_rows.clear()

    for raw in clean(markdown.replace("\r\n", "\n").replace("\t", "    ")).split("\n"):
        line = escape(raw)
        if _FENCE.match(raw):
            flush_table()
            in_fence = not in_fence
            out.append("```")
            continue
        if in_fence:
            out.append(line)
            continue
        if _TABLE_ROW.match(raw):
            if not _TABLE_RULE.match(raw):
                cells = [c.strip() for c in line.strip().strip("|").split("|")]
                table_rows.append("  ".join(cells))
            continue
        if _TABLE_RULE.match(raw) and table_rows:
            continue
        flush_table()
        heading = _HEADING.match(line)
        if heading:
            out.append(f"*{_bold(_heading_title(heading.group(1)), lambda inner: inner)}*")
            continue
        bullet = _BULLET.match(line)
        if bullet:
            indent = "    " * (len(bullet.group(1)) // 2)
            out.append(f"{indent}• {_convert_inline(bullet.group(2))}")
            continue
        out.append(_convert_inline(line))
    flush_table()
    if in_fence:
        out.append("```")
    return "\n".join(out).strip()


# --- Slack limits -----------------------------------------------------------------------------


def split_sections(mrkdwn: str, limit: int = SECTION_LIMIT, max_sections: int = MAX_SECTIONS) -> list[str]:
    """Split mrkdwn into sections of at most `limit` characters, at line breaks where possible.

    A code block cut in two is closed and reopened so both halves render; past `max_sections`
    the reply is trimmed with a note.
    """
    if limit < 64:
        raise ValueError("section limit too small")
    budget = limit - len("\n```")  # always leave room to close a code block we cut
    sections: list[str] = []
    current: list[str] = []
    size = -1  # joined length of `current` ("\n" between lines)
    in_fence = False

    def flush() -> None:
        nonlocal current, size
        if current:
            sections.append("\n".join(current) + ("\n```" if in_fence else ""))
        current, size = (["```"], 3) if in_fence else ([], -1)

    def add(line: str) -> None:
        nonlocal size
        if size + 1 + len(line) > budget:
            flush()
        current.append(line)
        size += 1 + len(line)

    for line in mrkdwn.split("\n"):
        while len(line) > budget - 4:  # longer than a section on its own: cut it
            head, line = _cut(line, budget - 4)
            add(head)
        add(line)
        if line.count("```") % 2:
            in_fence = not in_fence
    if current:
        sections.append("\n".join(current) + ("\n```" if in_fence else ""))
    sections = [s for s in sections if s.strip() and s.strip() != "```"] or [""]
    if len(sections) > max_sections:
        sections = sections[:max_sections]
        last = sections[-1]
        closing = "\n```" if last.count("```") % 2 else ""
        room = limit - len(TRIM_NOTE) - 1 - len(closing) - len("\n```")
        if len(last) > room:
            last = last[:room]
        if last.count("```") % 2:
            last += "\n```"
        sections[-1] = last + "\n" + TRIM_NOTE
    return sections


def _cut(line: str, room: int) -> tuple[str, str]:
    """Cut `line` to at most `room` characters at a space if one is near, never inside an escape."""
    head = line[:room]
    space = head.rfind(" ")
    if space > room * 0.6:
        head = head[:space]
    amp = head.rfind("&")
    if amp != -1 and ";" not in head[amp:]:  # don't split "&amp;" in two
        head = head[:amp]
    return head, line[len(head) :].lstrip(" ")


def trim(mrkdwn: str, limit: int = SECTION_LIMIT, max_sections: int = MAX_SECTIONS) -> str:
    """The reply as it will be sent: within Slack's limits once split into sections."""
    return "\n".join(split_sections(mrkdwn, limit, max_sections))
