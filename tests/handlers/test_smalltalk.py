"""smalltalk called directly: a short reply in kind, pointing to what pitcrew can do."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from control_plane.intents import Intent
from handlers import smalltalk

if TYPE_CHECKING:
    from tests.handlers.conftest import HandlerKit


@pytest.mark.parametrize(("text", "reply"), [
    ("thanks a lot!", "You're welcome! Anything else I can look up?"),
    ("ok bye", "Bye for now, and good luck with your deals!"),
    ("good morning team", f"Good morning! {smalltalk.PROMPT}"),
    ("hey, how are you?", f"All good here, ready to help. {smalltalk.PROMPT}"),
    ("hello", f"Hi! {smalltalk.PROMPT}"),
])
async def test_smalltalk_answers_in_kind(kit: HandlerKit, text: str, reply: str) -> None:
    result = await smalltalk.handle(kit.context(kit.frame(Intent.SMALLTALK), text))
    assert result.plain == reply
    assert not result.llm_used
