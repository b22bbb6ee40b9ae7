"""Text is cleaned where it comes in: lone surrogates and control characters never go further."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from bot.pipeline.clean_text import clean_text


def test_lone_surrogates_become_the_replacement_character() -> None:
    assert clean_text("pri\ud800cing") == "pri\ufffdcing"
    assert clean_text("\udcff") == "\ufffd"  # an undecodable byte from a terminal argument
    assert clean_text("a\ud83d\ude00b") == "a\U0001f600b"  # a well-formed pair is the character it encodes


def test_control_characters_become_spaces_but_layout_stays() -> None:
    assert clean_text("x\x00y\x1bz\x7f\x85") == "x y z  "
    assert clean_text("line one\n\tline two\r\n") == "line one\n\tline two\r\n"


@given(st.text())
def test_cleaned_text_always_encodes_and_clean_text_is_idempotent(text: str) -> None:
    cleaned = clean_text(text)
    cleaned.encode("utf-8")  # would raise on a surrogate
    assert not any(ord(ch) < 32 and ch not in "\t\n\r" for ch in cleaned)
    assert clean_text(cleaned) == cleaned
    if text.isprintable() and not any("\ud800" <= ch <= "\udfff" for ch in text):
        assert cleaned == text  # ordinary text is never touched


def test_pitcrew_ask_with_undecodable_bytes_answers_normally(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("OPENAI_", "SLACK_"))}
    env.update({"DATABASE_URL": f"sqlite:///{tmp_path / 'pitcrew.db'}", "LOG_DIR": str(tmp_path / "logs")})
    result = subprocess.run([sys.executable, "-m", "bot.cli", "ask", b"find calls about pri\xffcing"],
                            env=env, capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr
    output = result.stdout.decode("utf-8")  # valid UTF-8: nothing undecodable came back out
    assert "pri\ufffdcing" in output
    assert b"Traceback" not in result.stderr


def test_shell_and_classify_survive_undecodable_stdin_under_a_strict_locale(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("OPENAI_", "SLACK_"))}
    env.update({"DATABASE_URL": f"sqlite:///{tmp_path / 'pitcrew.db'}", "LOG_DIR": str(tmp_path / "logs"),
                "PYTHONIOENCODING": "utf-8:strict"})  # as a desktop's en_US.UTF-8 locale decodes stdin
    for command in ("shell", "classify"):
        result = subprocess.run([sys.executable, "-m", "bot.cli", command], input=b"find calls about pri\xffcing\n",
                                env=env, capture_output=True, timeout=60)
        assert result.returncode == 0, result.stderr
        assert b"Traceback" not in result.stderr
        assert "pri\ufffdcing" in result.stdout.decode("utf-8")
