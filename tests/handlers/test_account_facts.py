"""What the records say of an account (industry, segment, owner) and which accounts are in an industry or segment;
full names typed with one part misspelt. Expectations come from the demo rows."""

from __future__ import annotations

from bot.pipeline import Pipeline
from control_plane.names import NameIndex
from control_plane.normalize import normalize
from knowledge.db import Database
from knowledge.vocabulary import load_vocabulary
from tests.handlers.conftest import Rows
from tests.support.pipeline import ask


async def test_an_accounts_industry_segment_and_owner(offline: Pipeline, demo_rows: Rows) -> None:
    [tidewater] = [row for row in demo_rows["accounts"] if row["slug"] == "tidewater"]
    reply = await ask(offline, "what industry is tidewater in? i thought they were logistics")
    for fact in (tidewater["industry"], tidewater["segment"], tidewater["owner"]):
        assert fact in reply.plain
    assert "meetings say" not in reply.plain


async def test_accounts_in_an_industry_and_in_a_segment(offline: Pipeline, demo_rows: Rows) -> None:
    healthcare = {row["name"] for row in demo_rows["accounts"] if "health" in row["industry"].lower()}
    reply = await ask(offline, "who do we sell to in healthcare?")
    assert healthcare and all(name in reply.plain for name in healthcare)
    enterprise = {row["name"] for row in demo_rows["accounts"] if row["segment"] == "Enterprise"}
    others = {row["name"] for row in demo_rows["accounts"]} - enterprise
    listed = await ask(offline, "list our enterprise customers")
    assert all(name in listed.plain for name in enterprise)
    assert not any(f"• {name}:" in listed.plain for name in others)


async def test_an_industry_nobody_is_in_is_said_so_with_the_ones_we_have(offline: Pipeline, demo_rows: Rows) -> None:
    reply = await ask(offline, "any customers in aerospace")
    assert "don't see any account" in reply.plain
    assert all(row["industry"] in reply.plain for row in demo_rows["accounts"])


def test_a_full_name_with_one_part_misspelt_is_that_person(demo_db: Database) -> None:
    names = NameIndex(load_vocabulary(demo_db))
    text, readings = names.read(normalize("who is sophia romano"))
    assert "Sofia Romano" in text.clean and [r.read_as for r in readings] == ["Sofia Romano"]
    text, readings = names.read(normalize("ask danial ortiz"))
    assert "Daniel Ortiz" in text.clean
    untouched, none = names.read(normalize("tom and jane said yes"))
    assert untouched.clean == "tom and jane said yes" and not none


async def test_who_a_colleague_is_then_a_pronoun_asks_about_them(offline: Pipeline, demo_rows: Rows) -> None:
    owned = [row["name"] for row in demo_rows["accounts"] if row.get("owner") == "Maya Chen"]
    await ask(offline, "who is maya chan?", thread="shell:maya")
    reply = await ask(offline, "what accounts does she own", thread="shell:maya")
    assert all(name in reply.plain for name in owned)
    tasks = await ask(offline, "whats on her plate rn", thread="shell:maya")
    assert tasks.plain.startswith("Maya Chen's action items")
