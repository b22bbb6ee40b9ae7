"""call_search called directly on a frame: the frame's account, time range and topic filter the demo calls."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from control_plane.intents import Intent, TimeRange
from handlers import call_search
from handlers.context import HandlerResult
from tests.support.pipeline import NOW

if TYPE_CHECKING:
    from tests.handlers.conftest import HandlerKit

SEARCH = Intent.CALL_SEARCH
# "1. Acme Corp: Acme proposal review (negotiation), Tue 3 Mar"
LISTED = re.compile(r"^\d+\. (?P<account>[^:]+): (?P<title>.+) \((?P<kind>[^()]+)\), (?P<day>.+)$", re.MULTILINE)

THIS_MONTH = NOW.replace(day=1, hour=0, minute=0)
LAST_MONTH = TimeRange((THIS_MONTH - timedelta(days=1)).replace(day=1), THIS_MONTH, "last month")
THIS_MONTH_SO_FAR = TimeRange(THIS_MONTH, (THIS_MONTH + timedelta(days=31)).replace(day=1), "this month")


def listed(result: HandlerResult) -> list[tuple[str, str]]:
    """(account, title) of each call the reply lists, in its order."""
    return [(m["account"], m["title"]) for m in LISTED.finditer(result.plain)]


def meetings_in(kit: HandlerKit, start: datetime, end: datetime, account: str | None = None) -> list[dict[str, Any]]:
    """The demo meetings in [start, end) (of one account, by slug), most recent first."""
    rows = [m for m in kit.rows["meetings"] if start <= datetime.fromisoformat(m["started_at"]) < end
            and (account is None or m["account"] == account)]
    return sorted(rows, key=lambda m: m["started_at"], reverse=True)


@pytest.mark.parametrize(("slug", "time_range"), [("acme", LAST_MONTH), ("globex", THIS_MONTH_SO_FAR)],
                         ids=["acme-last-month", "globex-this-month"])
async def test_an_account_and_a_time_range_list_only_that_accounts_calls_most_recent_first(
    kit: HandlerKit, slug: str, time_range: TimeRange
) -> None:
    account = kit.account_name(slug)
    expected = meetings_in(kit, time_range.start, time_range.end, slug)
    assert len(expected) > 1, "the demo has several of the account's calls in the range"
    others = {m["account"] for m in meetings_in(kit, time_range.start, time_range.end)} - {slug}
    assert others, "and other accounts' calls in it too, which must not be listed"
    outside = [m for m in kit.rows["meetings"] if m["account"] == slug and m not in expected]
    assert outside, "and calls of the account outside it, which must not be listed either"
    frame = kit.frame(SEARCH, account=account, time_range=time_range)

    result = await call_search.handle(kit.context(frame, f"find calls with {account} {time_range.label}"))

    top = expected[:call_search.TOP]
    assert listed(result) == [(account, m["title"]) for m in top]
    assert result.plain.startswith(f"Calls with {account} ({time_range.label}): {len(top)} best match")
    # "recap it" next recaps the first call listed
    assert result.context.account == account and result.context.meeting_id == kit.meeting(top[0]["external_id"]).id
    assert result.exact == {"account", "meeting_id", "topic"} and result.context.topic is None  # no topic: none kept


async def test_how_many_calls_counts_the_accounts_calls_and_lists_the_latest(kit: HandlerKit) -> None:
    acme = kit.account_name("acme")
    calls = sorted((m for m in kit.rows["meetings"] if m["account"] == "acme"), key=lambda m: m["started_at"],
                   reverse=True)
    frame = kit.frame(SEARCH, account=acme)

    result = await call_search.handle(kit.context(frame, "how many calls did we have with Acme?"))

    assert result.plain.startswith(f"{len(calls)} calls with {acme}. The latest:")
    assert listed(result) == [(acme, m["title"]) for m in calls[:call_search.TOP]]


async def test_a_topic_the_account_never_discussed_is_searched_with_other_accounts(kit: HandlerKit) -> None:
    acme = kit.account_name("acme")
    acme_meetings = {m["external_id"] for m in kit.rows["meetings"] if m["account"] == "acme"}
    said = [m for m in kit.rows["meetings"] if "hipaa" in (m["title"] + m["summary"]).lower()]
    said += [t for t in kit.rows["transcripts"] if "hipaa" in t["text"].lower()]
    assert said and not any(row.get("external_id", row.get("meeting")) in acme_meetings for row in said)
    frame = kit.frame(SEARCH, account=acme, topic="hipaa")

    result = await call_search.handle(kit.context(frame, "find calls about hipaa with Acme"))

    assert result.plain.startswith(f"No calls found about “hipaa” with {acme}.")
    assert "The same topic with other accounts" in result.plain
    accounts = {account for account, _ in listed(result)}
    assert accounts and acme not in accounts
    # The search stays the account's: a follow-up searches Acme again.
    assert result.context.account == acme and result.context.meeting_id is None
