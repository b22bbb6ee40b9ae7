"""Secrets never reach a log line: configured ones and token-shaped ones, wherever they were put."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.observability import configure_logging, record, request_scope, reset_logging
from bot.observability.filters import REDACTED, RedactionFilter
from bot.settings import Settings, load_settings

BOT_TOKEN = "xoxb-20481234567-7712345678901-QwErTyUiOpAsDfGhJkLzXcVb"
APP_TOKEN = "xapp-1-A0123456789-9876543210987-0f1e2d3c4b5a69788796a5b4c3d2e1f0"
SIGNING_SECRET = "8f14e45fceea167a5a36dedd4bea2543"  # 32 hex: nothing token-shaped about it
OPENAI_KEY = "sk-proj-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Jh1Gf0EdCbA-_aBcDeFgHiJkLmNoP"
SECRETS = (BOT_TOKEN, APP_TOKEN, SIGNING_SECRET, OPENAI_KEY)
UNCONFIGURED_TOKENS = ("xoxp-99887766554-ABCDEFabcdef123456", "sk-UnconfiguredButObviouslyAKey12345678")


@pytest.fixture(autouse=True)
def clean_logging() -> Iterator[None]:
    yield
    reset_logging()


@pytest.fixture
def secret_settings(isolated_environment: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("SLACK_APP_TOKEN", APP_TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    settings = load_settings()
    assert sorted(settings.secret_values()) == sorted(SECRETS)
    return settings


class AccountObject:
    """Something without a JSON form: it is written with str()."""

    def __str__(self) -> str:
        return f"Account(api_key={OPENAI_KEY})"


def log_secrets_everywhere() -> None:
    log = logging.getLogger("bot.slack.app")
    log.info(f"connecting with {BOT_TOKEN} and {APP_TOKEN}")
    log.info("signing secret is %s, key %s", SIGNING_SECRET, OPENAI_KEY)
    log.warning("header: %(auth)s", {"auth": f"Authorization: Bearer {OPENAI_KEY}"})
    log.info("extras", extra={"token": BOT_TOKEN, "nested": {"headers": {"authorization": f"Bearer {BOT_TOKEN}"},
                                                             "list": [SIGNING_SECRET, 1, None]},
                               "account": AccountObject(), "pair": (APP_TOKEN, "fine")})
    log.info("pasted by a user: %s / %s", *UNCONFIGURED_TOKENS)
    try:
        raise RuntimeError(f"provider rejected key {OPENAI_KEY}")
    except RuntimeError:
        log.exception("LLM call failed")
    log.info("bad format %s %s", BOT_TOKEN)  # args that don't fit the format must not leak either
    with pytest.raises(ValueError):
        with request_scope():
            record(topic=f"user pasted {BOT_TOKEN}")
            raise ValueError(f"boom {APP_TOKEN}")


def test_no_secret_reaches_the_day_file_or_stderr(secret_settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(secret_settings)
    log_secrets_everywhere()
    logged = "".join(path.read_text(encoding="utf-8") for path in secret_settings.log_dir.iterdir())
    terminal = capsys.readouterr()
    # Compared by index so a failure never prints a secret.
    everywhere = logged + terminal.err + terminal.out
    assert [n for n, secret in enumerate(SECRETS + UNCONFIGURED_TOKENS) if secret in everywhere] == []
    assert [n for n, secret in enumerate(SECRETS + UNCONFIGURED_TOKENS) if secret[:12] in everywhere] == []
    records = [json.loads(line) for line in logged.splitlines()]
    assert len(records) == 8
    by_message = {r["message"]: r for r in records}
    assert "signing secret is [REDACTED], key [REDACTED]" in by_message
    assert "header: Authorization: [REDACTED]" in by_message
    extras = by_message["extras"]
    assert extras["token"] == REDACTED
    assert extras["nested"] == {"headers": {"authorization": REDACTED}, "list": [REDACTED, 1, None]}
    assert extras["account"] == f"Account(api_key={REDACTED})" and extras["pair"] == [REDACTED, "fine"]
    failed = by_message["LLM call failed"]
    assert "RuntimeError: provider rejected key [REDACTED]" in failed["exc_info"]
    summary = by_message["Request failed"]
    assert summary["error"] == f"ValueError: boom {REDACTED}" and summary["topic"] == f"user pasted {REDACTED}"
    assert f"bad format %s %s ('{REDACTED}',)" in by_message


def test_other_handlers_only_see_redacted_records(secret_settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    configure_logging(secret_settings, stderr=False)
    logging.getLogger("bot.llm").info("key %s", OPENAI_KEY)
    assert [r.getMessage() for r in caplog.records] == [f"key {REDACTED}"]


def test_redaction_leaves_ordinary_text_alone() -> None:
    redaction = RedactionFilter([BOT_TOKEN])
    for text in ("task-force sk-learn notes", "ask-me-anything-please-now-ok", "the bearer of good news",
                 "xoxo hugs", "Orbit Pro costs $49/seat"):
        assert redaction.redact(text) == text
    assert redaction.redact(f"x {BOT_TOKEN} y") == f"x {REDACTED} y"


def test_tiny_configured_secrets_are_not_scrubbed_from_every_word() -> None:
    redaction = RedactionFilter(["abc"])  # not a credential; would shred every line containing "abc"
    assert redaction.redact("abcdef") == "abcdef"
