"""PostgreSQL connections: the pool and statement timeout sized from settings, sessions in UTC, and the dedicated
connections (keepalives, a name in pg_stat_activity) of the schedule's lock and the knowledge listener."""

from __future__ import annotations

import time
from datetime import datetime
from urllib.parse import quote

import pytest
from sqlalchemy import DateTime, bindparam, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from bot.app.database import open_database
from bot.settings import Settings, SettingsError, load_settings
from knowledge.db import Database, PoolSettings
from knowledge.dialects.connections import KEEPALIVE_IDLE_S, dedicated_connection

def show(db: Database, name: str) -> str:
    with db.engine.connect() as connection:
        return str(connection.execute(text(f"SHOW {name}")).scalar_one())


@pytest.mark.postgres_only
def test_a_statement_slower_than_the_timeout_is_cancelled_with_a_clear_error(settings: Settings) -> None:
    db, _ = open_database(load_settings(db_statement_timeout_ms=200), load_demo=False)
    try:
        started = time.monotonic()
        with pytest.raises(OperationalError) as raised, db.engine.connect() as connection:
            connection.execute(text("SELECT pg_sleep(5)"))
        assert time.monotonic() - started < 3
        assert "canceling statement due to statement timeout" in str(raised.value)
        with db.engine.connect() as connection:  # the connection it ran on is usable again
            assert connection.execute(text("SELECT 1")).scalar_one() == 1
    finally:
        db.close()


@pytest.mark.postgres_only
def test_no_statement_timeout_when_set_to_zero_or_opened_without_settings(settings: Settings) -> None:
    db, _ = open_database(load_settings(db_statement_timeout_ms=0), load_demo=False)
    try:
        assert show(db, "statement_timeout") == "0"
    finally:
        db.close()
    db, _ = open_database(settings, load_demo=False)
    try:
        assert show(db, "statement_timeout") == "30s"  # the default, DB_STATEMENT_TIMEOUT_MS=30000
    finally:
        db.close()
    db = Database(settings.database_url)  # no settings (`pitcrew db upgrade`, `db copy`): long bulk statements
    try:
        assert show(db, "statement_timeout") == "0"
    finally:
        db.close()


@pytest.mark.postgres_only
def test_the_pool_is_sized_from_settings_and_a_caller_waits_only_the_pool_timeout(settings: Settings) -> None:
    db, _ = open_database(load_settings(db_pool_size=1, db_max_overflow=0, db_pool_timeout_s=0.3), load_demo=False)
    try:
        assert db.engine.pool.size() == 1  # type: ignore[attr-defined]
        with db.engine.connect():
            started = time.monotonic()
            with pytest.raises(PoolTimeout), db.engine.connect():
                pass
            assert 0.25 <= time.monotonic() - started < 3
    finally:
        db.close()


def test_pool_settings_out_of_range_name_the_variable() -> None:
    with pytest.raises(SettingsError, match="DB_POOL_SIZE"):
        load_settings(db_pool_size=0)
    with pytest.raises(SettingsError, match="DB_STATEMENT_TIMEOUT_MS"):
        load_settings(db_statement_timeout_ms=-1)


@pytest.mark.postgres_only
def test_sessions_are_in_utc_whatever_the_database_default(settings: Settings) -> None:
    name = make_url(settings.database_url).database
    admin = Database(settings.database_url)
    with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f'ALTER DATABASE "{name}" SET timezone = \'America/New_York\''))
    admin.close()
    db = Database(settings.database_url)
    try:
        assert show(db, "timezone") == "UTC"
        # A naive datetime (UTC by convention) written to a timestamptz column reads back as the same instant.
        noon = datetime(2026, 3, 1, 12, 0)
        with db.engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO inboxevent (event_id, envelope, state, attempts, owner, lease_until, received_at,"
                " updated_at) VALUES ('Ev1', '', 'received', 0, 'o', :t, :t, :t)"
            ).bindparams(bindparam("t", type_=DateTime())), {"t": noon})
            stored = connection.execute(text("SELECT lease_until FROM inboxevent")).scalar_one()
        assert stored.utcoffset().total_seconds() == 0 and stored.replace(tzinfo=None) == noon
    finally:
        db.close()


@pytest.mark.postgres_only
def test_options_in_the_url_are_kept_beside_pitcrews(settings: Settings) -> None:
    url = make_url(settings.database_url).update_query_dict({"options": "-c work_mem=8MB"})
    db = Database(url.render_as_string(hide_password=False), pool=PoolSettings(statement_timeout_ms=1234))
    try:
        assert (show(db, "work_mem"), show(db, "statement_timeout"), show(db, "application_name")) == (
            "8MB", "1234ms", "pitcrew")
    finally:
        db.close()


@pytest.mark.postgres_only
def test_a_dedicated_connection_has_keepalives_on_both_sides_and_a_name(settings: Settings) -> None:
    with dedicated_connection(settings.database_url, "schedule", "host:1") as connection:
        assert connection.execute("SHOW tcp_keepalives_idle").fetchone() == (str(KEEPALIVE_IDLE_S),)
        assert connection.execute("SHOW application_name").fetchone() == ("pitcrew-schedule host:1",)
        assert connection.info.get_parameters()["keepalives_idle"] == str(KEEPALIVE_IDLE_S)
        assert connection.autocommit


@pytest.mark.postgres_only
def test_a_password_in_the_url_never_reaches_the_error(settings: Settings) -> None:
    url = make_url(settings.database_url).set(password="s3cret-pw", port=1)
    with pytest.raises(Exception) as raised:
        Database(url.render_as_string(hide_password=False))
    assert "s3cret-pw" not in str(raised.value) and quote("s3cret-pw") not in str(raised.value)
