"""Fixtures of the handler tests: the pipeline with the fake OpenAI server as its LLM, and `kit`, which builds
frames and handler contexts by hand on the demo knowledge base, so a handler can be called directly (no LLM),
with the demo's rows as written in knowledge/demo/data to derive what a reply must say."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, fields
from typing import Any

import pytest
from sqlalchemy import text as sql

from bot.settings import load_settings
from bot.llm import LLMGateway
from bot.pipeline import Pipeline
from control_plane.frame import SLOT_NAMES, Frame, SlotSource
from control_plane.intents import Candidate, Decision, Entities, Intent
from control_plane.normalize import normalize
from handlers.context import HandlerContext
from handlers.registry import default_registry
from knowledge.db import Database
from knowledge.demo import demo_files
from knowledge.meetings import MeetingRef, MeetingResolution, account_contacts, get_meeting
from knowledge.vocabulary import KnownContact
from tests.support.fake_openai import FakeOpenAI
from tests.support.pipeline import LLM_ANSWER, NOW, answers_with, make_pipeline

_ENTITY_SLOTS = tuple(field.name for field in fields(Entities))

Rows = dict[str, list[dict[str, Any]]]


@pytest.fixture
async def llm_server() -> AsyncIterator[FakeOpenAI]:
    """The fake OpenAI server answering every written answer with `LLM_ANSWER`."""
    async with FakeOpenAI(responder=answers_with(LLM_ANSWER)) as server:
        yield server


@pytest.fixture
async def online(llm_server: FakeOpenAI, demo_db: Database) -> AsyncIterator[Pipeline]:
    """The pipeline with the fake OpenAI server as its LLM."""
    settings = load_settings(**llm_server.settings_overrides())
    llm = LLMGateway.from_settings(settings, demo_db)
    yield make_pipeline(settings, demo_db, llm)
    await llm.aclose()


@dataclass(frozen=True)
class HandlerKit:
    """Frames and handler contexts on the demo database (loaded relative to `NOW`), and the demo's rows."""

    db: Database
    rows: Rows  # the demo files by kind, each meeting's `started_at` resolved against NOW

    def frame(self, intent: Intent, *, sources: Mapping[str, SlotSource] | None = None, **slots: Any) -> Frame:
        """A frame with `slots` filled, each typed in the message unless `sources` says where it came from."""
        typed: dict[str, SlotSource] = {name: "typed" for name, value in slots.items()
                                        if name in SLOT_NAMES and value not in (None, (), "")}
        return Frame(intent, sources=typed | dict(sources or {}), **slots)

    def context(self, frame: Frame, text: str, *, resolution: MeetingResolution | None = None,
                candidates: tuple[Candidate, ...] = ()) -> HandlerContext:
        """What the pipeline hands a handler for `text` read as `frame`: the decision's entities are the frame's
        typed slots; the resolution, unless given, names the frame's account and the thread's meeting; the help
        examples are every handler's."""
        normalized = normalize(text)
        entities = Entities(**{name: getattr(frame, name) for name in _ENTITY_SLOTS if frame.typed(name)})
        decision = Decision(intent=frame.intent, confidence=0.9, llm_validation="skipped", entities=entities,
                            normalized_text=normalized.lowered, runner_up=None, margin=0.5, candidates=candidates,
                            readings=frame.readings, language=frame.language, text=normalized)
        if resolution is None:
            resolution = MeetingResolution(account=frame.account)
            if frame.meeting_id is not None:  # as the pipeline's resolver keeps a thread's meeting
                detail = get_meeting(self.db, frame.meeting_id)
                assert detail is not None
                resolution = MeetingResolution(account=detail.meeting.account, meeting=detail.meeting)
        return HandlerContext(text=text, decision=decision, frame=frame, resolution=resolution, db=self.db, llm=None,
                              prompt_version="test", now=NOW, examples=default_registry().examples())

    def meeting(self, external_id: str) -> MeetingRef:
        """The demo meeting with this external id, as the database holds it."""
        with self.db.engine.connect() as connection:
            meeting_id = connection.execute(sql("SELECT id FROM meeting WHERE external_id = :e"),
                                            {"e": external_id}).scalar_one()
        detail = get_meeting(self.db, meeting_id)
        assert detail is not None
        return detail.meeting

    def contact(self, name: str) -> KnownContact:
        """A demo contact by full name, as the name index would give it."""
        row = self.row("contacts", name=name)
        return next(c for c in account_contacts(self.db, self.account_name(row["account"]), limit=50) if c.name == name)

    def row(self, kind: str, **match: Any) -> dict[str, Any]:
        [found] = [row for row in self.rows[kind] if all(row.get(key) == value for key, value in match.items())]
        return found

    def account_name(self, slug: str) -> str:
        return self.row("accounts", slug=slug)["name"]


@pytest.fixture(scope="session")
def demo_rows() -> Rows:
    """The demo files as written (meeting times resolved against the NOW the demo database is loaded at)."""
    return {source.kind: [dict(row.data) for row in source.rows] for source in demo_files(NOW)}


@pytest.fixture
def kit(demo_db: Database, demo_rows: Rows) -> HandlerKit:
    return HandlerKit(demo_db, demo_rows)
