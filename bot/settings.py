"""The one settings object: environment variables and an optional `.env` file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///./data/pitcrew.db"
DEFAULT_SNAPSHOT_CRON = "0 * * * *"  # hourly, on the hour
DEFAULT_DIGEST_CRON = "0 8 * * *"  # daily at 08:00 UTC


class SettingsError(Exception):
    """A configuration value is invalid; the message is one line and names the variable."""


class ProviderSetting(BaseModel):
    """One entry of `LLM_PROVIDERS`: an OpenAI-compatible endpoint, its key, its model names, its weight."""

    model_config = {"extra": "forbid", "hide_input_in_errors": True}

    name: str = Field(default="", max_length=40)  # in logs (`provider`); default: its position, "p1", "p2"...
    base_url: str
    api_key: SecretStr
    model: str | None = None  # the answers' model here; default OPENAI_MODEL
    fast_model: str | None = None  # validations and short texts; default OPENAI_FAST_MODEL
    weight: float = Field(default=0.0, ge=0)  # share of first attempts; all 0: the list's order

    @field_validator("base_url")
    @classmethod
    def _base_url_is_a_url(cls, value: str) -> str:
        return http_url(value, example="https://api.openai.com/v1")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        hide_input_in_errors=True,
    )

    # Storage and logs
    database_url: str = DEFAULT_DATABASE_URL
    # PostgreSQL connections of one process (SQLite ignores these: see docs/configuration.md)
    db_pool_size: int = Field(default=5, ge=1, le=1000)  # kept open
    db_max_overflow: int = Field(default=10, ge=0, le=1000)  # opened beyond those under load, closed after
    db_pool_timeout_s: float = Field(default=5.0, gt=0)  # waiting for a free connection, then an error
    db_statement_timeout_ms: int = Field(default=30_000, ge=0)  # one statement, then cancelled; 0 = no limit
    # Bring the schema to this release's revision on open: on/off; unset: on for SQLite, off for PostgreSQL
    # (where `pitcrew db upgrade` is a deployment step). Read through `auto_upgrade`.
    db_auto_upgrade: bool | None = None
    log_dir: Path = Path("./logs")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    log_format: Literal["text", "json"] = "text"
    log_retention_days: int = Field(default=14, ge=1)
    sla_ms: float = Field(default=5000.0, gt=0)
    log_message_text: bool = False  # message text and reply bodies in the logs (LOG_MESSAGE_TEXT=on)
    # Quality: keep each exchange's question and answer in the database for `pitcrew export exchanges` (off:
    # only signals without text are stored), and for how long.
    quality_keep_exchanges: bool = False
    quality_exchange_retention_days: int = Field(default=30, ge=1)

    # Slack
    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    port: int = Field(default=3000, ge=1, le=65535)
    streaming: bool = True
    slack_feedback_buttons: bool = True  # 👍/👎 under every answer (a `context_actions` block)
    event_dedupe_ttl_s: int = Field(default=86_400, ge=60)  # how long answered events are remembered
    slack_api_timeout_s: float = Field(default=10.0, gt=0)  # one Web API call
    slack_delivery_deadline_s: float = Field(default=30.0, gt=0)  # one reply, retries included
    inbox_recovery_s: int = Field(default=600, ge=0)  # events left unanswered by a crash: answered if younger
    # How long an instance that stopped renewing keeps its unanswered events before another takes them over.
    inbox_lease_s: float = Field(default=30.0, ge=1.0)
    shutdown_grace_s: float = Field(default=20.0, ge=0)

    # LLM
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    openai_model: str = "gpt-4.1-mini"
    openai_fast_model: str = "gpt-4.1-nano"
    llm_connect_timeout_s: float = Field(default=2.0, gt=0)  # opening a connection to the provider
    llm_first_byte_timeout_s: float = Field(default=3.0, gt=0)  # silence before a stream's first chunk, or between
    llm_validate_timeout_s: float = Field(default=3.0, gt=0)
    llm_validate_deadline_s: float = Field(default=5.0, gt=0)  # a validation, retries included
    llm_answer_timeout_s: float = Field(default=20.0, gt=0)
    llm_deadline_s: float = Field(default=28.0, gt=0)  # all LLM work of one request, retries included
    llm_max_attempts: int = Field(default=3, ge=1, le=10)
    llm_backoff_initial_s: float = Field(default=0.25, gt=0, le=10)
    llm_backoff_max_s: float = Field(default=4.0, gt=0, le=60)
    llm_retry_budget_ratio: float = Field(default=0.2, ge=0, le=1)
    llm_retry_budget_min: int = Field(default=3, ge=0, le=100)  # retries always allowed per window
    llm_retry_budget_window_s: float = Field(default=60.0, gt=0, le=3600)
    llm_max_concurrency: int = Field(default=100, ge=1)  # written answers in flight (main and fast model)
    llm_validate_max_concurrency: int = Field(default=100, ge=1)  # intent validations in flight, slots of their own
    llm_breaker_failure_threshold: int = Field(default=5, ge=1)
    llm_breaker_timeout_threshold: int = Field(default=2, ge=1)  # consecutive timeouts: the provider is silent
    llm_breaker_failure_rate: float = Field(default=0.5, gt=0, le=1)
    llm_breaker_min_calls: int = Field(default=10, ge=1)  # before the failure rate counts
    llm_breaker_window_s: float = Field(default=60.0, gt=0, le=3600)
    llm_breaker_recovery_s: float = Field(default=30.0, gt=0)
    # Providers, hedging and speculation (docs/configuration.md, "LLM providers and hedging")
    # A JSON list (parsed below, so a bad one gets a one-line error); empty: the OPENAI_* provider is the one
    llm_providers: Annotated[list[ProviderSetting], NoDecode] = Field(default_factory=list)
    llm_hedge_after_ms: float | None = Field(default=None, gt=0)  # unset: the recent p95 of the call's kind
    llm_hedge_max_ratio: float = Field(default=0.05, ge=0, le=1)  # hedges per call at most; 0: no hedging
    llm_speculate: bool = True  # answer the pattern's intent while its validation runs
    response_cache_ttl_s: int = Field(default=3600, ge=0)
    response_cache_max_entries: int = Field(default=10_000, ge=1)

    # Control plane
    control_plane_skip_threshold: float = Field(default=0.9, ge=0)
    control_plane_ambiguity_margin: float = Field(default=0.1, ge=0, le=1)
    control_plane_shadow_rate: float = Field(default=0.0, ge=0, le=1)

    # Rollout of the LLM-skip optimisation (a mode stored by `pitcrew rollout set` wins over this one)
    latency_optimization_mode: Literal["disabled", "shadow", "canary", "enabled"] = "enabled"
    canary_percent: float = Field(default=10.0, ge=0, le=100)
    rollback_disagreement: float = Field(default=0.05, ge=0, le=1)  # disagreement share that rolls back...
    rollback_window: int = Field(default=200, ge=1)  # ...over the last this many checked skip decisions...
    rollback_min_checks: int = Field(default=50, ge=1)  # ...once at least this many were checked
    rollback_slow_ms: float = Field(default=3000.0, gt=0)  # or total time over this...
    rollback_slow_consecutive: int = Field(default=10, ge=1)  # ...for this many requests in a row
    rollout_refresh_s: float = Field(default=5.0, gt=0)  # how often an instance reads the stored mode

    # Operations: metrics, alerts, dashboard
    metrics_port: int | None = Field(default=None, ge=0, le=65535)  # Socket Mode: /metrics here (unset: PORT)
    alert_channel: str | None = None  # Slack channel id for alerts; unset: no alerts
    alert_slow_consecutive: int = Field(default=5, ge=1)
    alert_window_s: float = Field(default=300.0, gt=0)
    alert_min_requests: int = Field(default=20, ge=1)  # in the window, before p95 and error rate are judged
    alert_error_rate: float = Field(default=0.05, ge=0, le=1)
    alert_breaker_open_s: float = Field(default=60.0, ge=0)
    alert_shadow_agreement: float = Field(default=0.95, ge=0, le=1)
    alert_min_shadow_checks: int = Field(default=20, ge=1)
    alert_eval_s: float = Field(default=10.0, gt=0)  # how often the rules are evaluated (and after requests)
    alert_update_s: float = Field(default=60.0, ge=0)  # an open incident's message is refreshed at most this often
    alert_reopen_s: float = Field(default=1800.0, ge=0)  # an incident back within this reuses its message
    alert_digest_cron: str = DEFAULT_DIGEST_CRON
    quality_baseline_score: float = Field(default=75.0, ge=0, le=100)
    quality_alert_threshold: float = Field(default=5.0, ge=0, le=100)
    quality_alert_answers: int = Field(default=50, ge=1)
    dashboard_token: SecretStr | None = None  # GET /dashboard needs it; unset: no dashboard

    # Knowledge
    snapshot_rebuild_cron: str = DEFAULT_SNAPSHOT_CRON
    knowledge_check_s: float = Field(default=30.0, gt=0)  # how often serve looks for an import to pick up
    thread_memory_ttl_s: int = Field(default=86_400, ge=60)
    thread_memory_max_turns: int = Field(default=20, ge=1)

    # Airtable sync (docs/airtable.md)
    airtable_token: SecretStr | None = None  # a personal access token: data.records:read, webhook:manage
    airtable_api_url: str = "https://api.airtable.com"
    airtable_mapping: Path = Path("airtable.toml")
    airtable_sync_cron: str = DEFAULT_SNAPSHOT_CRON  # serve's periodic full sync (hourly), a 5-field crontab
    airtable_webhook_url: str | None = None  # the public URL of serve's POST /airtable/webhook

    @field_validator("database_url")
    @classmethod
    def _database_url_parses(cls, value: str) -> str:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            make_url(value)
        except (ArgumentError, ValueError):
            raise ValueError("not a database URL, e.g. sqlite:///./data/pitcrew.db or "
                             "postgresql://user@host/dbname") from None
        return value

    @field_validator("llm_providers", mode="before")
    @classmethod
    def _providers_from_json(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            return []
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                raise ValueError('not JSON: expected a list like [{"base_url": "https://…/v1", "api_key": "…"}]') from None
            if not isinstance(value, list):
                raise ValueError('expected a JSON list like [{"base_url": "https://…/v1", "api_key": "…"}]')
        return value

    @field_validator("db_auto_upgrade", "airtable_webhook_url", "llm_hedge_after_ms", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("slack_bot_token", "slack_signing_secret", "slack_app_token", "openai_api_key", "airtable_token",
                     "dashboard_token",
                     mode="before")
    @classmethod
    def _blank_secret_is_unset(cls, value: object) -> object:
        # `SLACK_APP_TOKEN=` (as .env.example has it) means unset: kept as an empty secret, it chose Socket Mode.
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        return None if isinstance(text, str) and not text.strip() else value

    @field_validator("alert_channel", "metrics_port", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("snapshot_rebuild_cron", "airtable_sync_cron", "alert_digest_cron")
    @classmethod
    def _cron_parses(cls, value: str) -> str:
        if value in (DEFAULT_SNAPSHOT_CRON, DEFAULT_DIGEST_CRON):  # known good: spares every command loading APScheduler to check it
            return value
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(value)
        except ValueError as exc:
            raise ValueError(f"not a 5-field crontab expression ({exc})") from None
        return value

    @field_validator("slack_api_url")
    @classmethod
    def _api_url_ends_with_slash(cls, value: str) -> str:
        value = http_url(value, example="https://slack.com/api/")
        return value if value.endswith("/") else value + "/"

    @field_validator("openai_base_url")
    @classmethod
    def _base_url_is_a_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        return http_url(value, example="https://api.openai.com/v1")

    @property
    def auto_upgrade(self) -> bool:
        """DB_AUTO_UPGRADE, or its default for the backend: on for SQLite, off for PostgreSQL."""
        if self.db_auto_upgrade is not None:
            return self.db_auto_upgrade
        from sqlalchemy.engine import make_url

        return make_url(self.database_url).get_backend_name() == "sqlite"

    @property
    def llm_configured(self) -> bool:
        return bool(self.llm_providers) or (
            self.openai_api_key is not None and bool(self.openai_api_key.get_secret_value()))

    def secret_values(self) -> list[str]:
        """Every configured secret, for redaction."""
        secrets = (self.slack_bot_token, self.slack_signing_secret, self.slack_app_token, self.openai_api_key,
                   self.airtable_token, self.dashboard_token)
        keys = tuple(provider.api_key for provider in self.llm_providers)
        return [s.get_secret_value() for s in (*secrets, *keys) if s is not None and s.get_secret_value()]


def http_url(value: str, *, example: str) -> str:
    """`value`, stripped, if it is an http(s) URL with a host; else ValueError saying what is wrong
    (never quoting the value: a URL may carry credentials)."""
    value = value.strip()
    if not value.isprintable() or any(character.isspace() for character in value):
        raise ValueError("must not contain spaces or control characters")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  (raises on a port that is not a number from 0 to 65535)
    except ValueError:  # an unclosed [ of an IPv6 address, a port out of range...
        raise ValueError(f"not a valid URL, e.g. {example}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"must be an http:// or https:// URL with a host, e.g. {example}")
    return value


def load_settings(**overrides: object) -> Settings:
    """Build the settings, turning a validation failure into one line that names the variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise SettingsError(describe_validation_error(exc)) from None
    except OSError as exc:  # the .env file (or the directory it would be in) cannot be read
        raise SettingsError(f"cannot read the settings file .env in the current directory "
                            f"({exc.strerror or exc}); run pitcrew from a directory it can read") from None


def describe_validation_error(exc: ValidationError) -> str:
    """One line per bad variable, never echoing the value (it may be a secret)."""
    parts = []
    for error in exc.errors(include_input=False, include_url=False):
        name = "_".join(str(part) for part in error["loc"]).upper() or "configuration"
        message = error["msg"].removeprefix("Value error, ")  # pydantic's prefix for a validator's ValueError
        parts.append(f"invalid {name}: {message}")
    return "; ".join(parts)
