"""Reply text: escaping, markers, LLM Markdown to Slack mrkdwn, and Slack's section limits."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from handlers.formatting import (
    SECTION_LIMIT,
    TRIM_NOTE,
    bold,
    clean,
    code,
    escape,
    highlight,
    markdown_to_mrkdwn,
    render_markdown,
    render_mrkdwn,
    render_plain,
    split_sections,
    table,
)


def test_escape_turns_the_three_slack_control_characters_into_entities() -> None:
    assert escape("a & b <c> d") == "a &amp; b &lt;c&gt; d"


def test_user_text_cannot_forge_formatting_or_links() -> None:
    hostile = "<!channel> <https://evil.example|click> \x0eforged\x0f"
    marked = "You asked: " + clean(hostile)
    mrkdwn = render_mrkdwn(marked)
    assert "<!channel>" not in mrkdwn and "<https://" not in mrkdwn
    assert "&lt;!channel&gt;" in mrkdwn
    assert "*forged*" not in mrkdwn  # control-character markers were stripped from user text


def test_markers_render_as_slack_syntax_and_vanish_in_plain_text() -> None:
    marked = f"{bold('Pro & Team')} costs {code('$49')}"
    assert render_mrkdwn(marked) == "*Pro &amp; Team* costs `$49`"
    assert render_plain(marked) == "Pro & Team costs $49"
    assert render_markdown(marked) == "**Pro & Team** costs `$49`"


def test_literal_stars_typed_by_a_user_stay_literal_in_plain_text() -> None:
    assert render_plain(clean("search *pricing*")) == "search *pricing*"


def test_highlight_turns_fts_markers_into_bold_after_escaping() -> None:
    snippet = "we need <b>\x02pricing\x03</b> & \x02SOC\x03 2"
    assert render_mrkdwn(highlight(snippet)) == "we need &lt;b&gt;*pricing*&lt;/b&gt; &amp; *SOC* 2"
    assert render_plain(highlight(snippet)) == "we need <b>pricing</b> & SOC 2"


def test_highlight_survives_unbalanced_markers() -> None:
    rendered = render_mrkdwn(highlight("a \x03b\x02 c \x02d"))
    assert rendered.count("*") % 2 == 0


def test_table_is_an_aligned_preformatted_block() -> None:
    marked = table(["", "Team", "Enterprise"], [["Price", "$20/seat/month", "contact sales"], ["SSO", "-", "yes"]])
    mrkdwn = render_mrkdwn(marked)
    lines = mrkdwn.splitlines()
    assert lines[0] == "```" and lines[-1] == "```"
    assert lines[1].index("Team") == lines[3].index("$20")
    assert "```" not in render_plain(marked)


def test_markdown_from_an_llm_becomes_slack_mrkdwn() -> None:
    markdown = "## Pricing\n**Pro** is *great* & cheap, see [docs](https://example.com/p).\n- one\n- two ~~old~~"
    assert markdown_to_mrkdwn(markdown).splitlines() == [
        "*Pricing*",
        "*Pro* is _great_ &amp; cheap, see <https://example.com/p|docs>.",
        "• one",
        "• two ~old~",
    ]


def test_markdown_tables_and_code_keep_their_content() -> None:
    markdown = "| Plan | Price |\n|---|---|\n| Pro | $49 |\n\n```\nx < y\n```"
    mrkdwn = markdown_to_mrkdwn(markdown)
    assert "Plan  Price" in mrkdwn and "Pro  $49" in mrkdwn
    assert "x &lt; y" in mrkdwn
    assert mrkdwn.count("```") == 4


def test_short_text_is_one_section() -> None:
    assert split_sections("hello") == ["hello"]


def test_long_text_splits_at_line_breaks_within_the_limit() -> None:
    lines = [f"line {i} " + "x" * 90 for i in range(100)]
    sections = split_sections("\n".join(lines))
    assert len(sections) > 1
    assert all(len(s) <= SECTION_LIMIT for s in sections)
    assert "\n".join(sections).splitlines() == lines  # nothing lost, nothing cut mid-line


def test_a_code_block_split_in_two_is_closed_and_reopened() -> None:
    block = "```\n" + "\n".join("row %d %s" % (i, "y" * 80) for i in range(80)) + "\n```"
    sections = split_sections(block)
    assert len(sections) > 1
    for section in sections:
        assert section.startswith("```") and section.endswith("```")
        assert len(section) <= SECTION_LIMIT


def test_an_enormous_reply_is_trimmed_with_a_note() -> None:
    sections = split_sections("word " * 50_000)
    assert sections[-1].endswith(TRIM_NOTE)
    assert all(len(s) <= SECTION_LIMIT for s in sections)


def test_a_split_never_breaks_an_html_entity() -> None:
    sections = split_sections(escape("&" * 10_000))
    for section in sections[:-1]:
        assert section.endswith("&amp;")


@given(st.text(max_size=12_000))
def test_any_text_splits_into_sections_within_the_limit(text: str) -> None:
    sections = split_sections(escape(text))
    assert sections and all(len(s) <= SECTION_LIMIT for s in sections)


@given(st.text(max_size=2_000))
def test_any_markdown_converts_without_unescaped_brackets(text: str) -> None:
    mrkdwn = markdown_to_mrkdwn(text)
    # The only "<" left opens a link the converter itself wrote.
    assert all(part.startswith(("http://", "https://")) for part in mrkdwn.split("<")[1:])
