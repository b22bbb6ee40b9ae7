"""Our own people (account owners, reps on several accounts' calls): their action items, who they are, and how
naming one behaves in a thread. Expectations come from the demo rows, not from the replies."""

from __future__ import annotations

from bot.pipeline import Pipeline
from control_plane.names import NameIndex
from control_plane.normalize import normalize
from knowledge.db import Database
from knowledge.vocabulary import load_vocabulary
from tests.handlers.conftest import Rows
from tests.support.pipeline import ask


def _colleagues(demo_rows: Rows) -> set[str]:
    contacts = {row["name"] for row in demo_rows["contacts"]}
    accounts_by_person: dict[str, set[str]] = {}
    for meeting in demo_rows["meetings"]:
        for person in meeting["participants"]:
            accounts_by_person.setdefault(person, set()).add(meeting["account"])
    on_several = {p for p, accounts in accounts_by_person.items() if len(accounts) > 1 and p not in contacts}
    return on_several | {row["owner"] for row in demo_rows["accounts"] if row.get("owner")}


def test_the_vocabulary_knows_owners_and_reps_on_several_accounts_and_no_customer(demo_db: Database, demo_rows: Rows) -> None:
    vocabulary = load_vocabulary(demo_db)
    assert set(vocabulary.colleagues) == _colleagues(demo_rows)
    assert not set(vocabulary.colleagues) & {row["name"] for row in demo_rows["contacts"]}


def test_a_colleague_is_found_by_first_name_and_possessive_without_apostrophe(demo_db: Database) -> None:
    names = NameIndex(load_vocabulary(demo_db))
    assert any(n.kind == "colleague" and n.canonical == "Maya Chen" for n in names.get("maya"))
    text, readings = names.read(normalize("whats on leos plate"))
    assert "leo's" in text.lowered.split() and not readings  # a possessive is no typo: nothing to note


async def test_what_a_colleague_is_on_the_hook_for_lists_their_own_action_items(offline: Pipeline, demo_rows: Rows) -> None:
    reply = await ask(offline, "what is maya on the hook for")
    assert reply.handler == "meeting_summary"
    own = [item for m in demo_rows["meetings"] if "Maya Chen" in m["participants"] for item in m["action_items"]
           if item.startswith("Maya ")]
    others = [item for m in demo_rows["meetings"] for item in m["action_items"] if not item.startswith("Maya ")]
    shown = [line for line in reply.plain.splitlines() if line.startswith("• ")]
    assert shown and all(any(item in line for item in own) for line in shown)
    assert not any(item in reply.plain for item in others)


async def test_what_a_colleague_owes_one_account_keeps_to_that_account(offline: Pipeline, demo_rows: Rows) -> None:
    reply = await ask(offline, "what does rachel owe bluefin")
    bluefin = [item for m in demo_rows["meetings"] if m["account"] == "bluefin" for item in m["action_items"]
               if item.startswith("Rachel ")]
    elsewhere = [item for m in demo_rows["meetings"] if m["account"] != "bluefin" for item in m["action_items"]
                 if item.startswith("Rachel ")]
    assert bluefin and all(item in reply.plain for item in bluefin)
    assert not any(item in reply.plain for item in elsewhere)


async def test_and_for_another_account_follows_up_the_same_colleague(offline: Pipeline, demo_rows: Rows) -> None:
    await ask(offline, "whats on sams plate", thread="shell:sam")
    reply = await ask(offline, "and for kestrel?", thread="shell:sam")
    kestrel = [item for m in demo_rows["meetings"] if m["account"] == "kestrel" for item in m["action_items"]
               if item.startswith("Sam ")]
    assert kestrel and all(item in reply.plain for item in kestrel)
    assert "Henrik" not in reply.plain.splitlines()[0]  # not a recap of a Kestrel call


async def test_who_a_colleague_is_names_the_accounts_they_own(offline: Pipeline, demo_rows: Rows) -> None:
    owned = sorted(row["name"] for row in demo_rows["accounts"] if row.get("owner") == "Daniel Ortiz")
    reply = await ask(offline, "which accounts does daniel own")
    assert owned and all(name in reply.plain for name in owned)
    assert "on our side" in reply.plain


async def test_naming_a_colleague_in_an_account_thread_keeps_the_account(offline: Pipeline) -> None:
    await ask(offline, "any competitor noise at tidewater?", thread="shell:tide")
    reply = await ask(offline, "what did daniel propose instead", thread="shell:tide")
    assert reply.handler == "meeting_summary"
    assert "Tidewater" in reply.plain and "Globex" not in reply.plain


async def test_the_owner_follow_up_names_the_next_accounts_owner(offline: Pipeline, demo_rows: Rows) -> None:
    owner = {row["name"]: row["owner"] for row in demo_rows["accounts"]}
    await ask(offline, "who owns the kestrel account", thread="shell:owners")
    reply = await ask(offline, "and tidewater?", thread="shell:owners")
    assert f"{owner['Tidewater Logistics']} owns the Tidewater Logistics account" in reply.plain


async def test_a_role_at_the_threads_account_names_the_contact_with_that_title(offline: Pipeline, demo_rows: Rows) -> None:
    await ask(offline, "where are we with umbrella", thread="shell:roles")
    reply = await ask(offline, "whos the security guy there again", thread="shell:roles")
    [security] = [row for row in demo_rows["contacts"] if row["account"] == "umbrella" and "Security" in row["title"]]
    assert reply.plain.startswith(security["name"]) or f"for that: {security['name']}" in reply.plain


async def test_one_of_our_people_is_given_the_role_the_calls_introduce_them_with(offline: Pipeline, demo_rows: Rows) -> None:
    said = " ".join(turn["text"] for row in demo_rows["transcripts"] for turn in row.get("turns", [row]) if "text" in turn)
    assert "sam is our solutions engineer" in said.lower()  # (how a call introduces him)
    reply = await ask(offline, "who's sam patel again")
    assert reply.plain.startswith("Sam Patel is on our side, our solutions engineer")
