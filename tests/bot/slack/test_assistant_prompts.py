"""The assistant panel's suggested prompts: drawn from the knowledge base, read again when its revision moves."""

from __future__ import annotations

from sqlalchemy import text

from bot.slack.assistant import AssistantPanel
from knowledge.db import Database


async def test_prompts_follow_the_knowledge_revision(demo_db: Database) -> None:
    revision = [1]
    panel = AssistantPanel(responder=None, db=demo_db, revision=lambda: revision[0])  # type: ignore[arg-type]
    first = [p.message for p in await panel.prompts()]
    assert any("Globex" in message for message in first) and len(first) == 4
    with demo_db.engine.begin() as conn:
        conn.execute(text("UPDATE account SET name = 'Globex Prime' WHERE name = 'Globex'"))
    assert [p.message for p in await panel.prompts()] == first  # same revision: from memory, no query
    revision[0] = 2  # an import moved the revision (the knowledge watcher reloads the pipeline's names)
    assert any("Globex Prime" in p.message for p in await panel.prompts())


async def test_an_empty_knowledge_base_still_gets_a_prompt(database: Database) -> None:
    panel = AssistantPanel(responder=None, db=database, revision=lambda: 0)  # type: ignore[arg-type]
    assert [p.message for p in await panel.prompts()] == ["Find calls about pricing"]
