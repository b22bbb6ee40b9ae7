"""How pitcrew connects to PostgreSQL: the pooled engine (sized from settings, with a statement timeout, every
session in UTC) and the dedicated connections kept outside the pool (the schedule's leadership lock, the
knowledge-change listener), which carry TCP keepalives so that a dead instance's session ends on the server.

SQLite needs none of it: its engine (knowledge.db) is a file opened per connection, with a busy timeout.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import URL, make_url

if TYPE_CHECKING:
    import psycopg

# A dedicated connection's peer is declared dead after ~idle + interval * count seconds of silence, on both
# sides: libpq's keepalives (this process notices a lost server) and the server's tcp_keepalives_* (the
# server ends the session of a vanished host, freeing its advisory lock). A killed process needs neither:
# its kernel closes the socket and the server ends the session at once.
KEEPALIVE_IDLE_S = 10
KEEPALIVE_INTERVAL_S = 5
KEEPALIVE_COUNT = 3
# Unacknowledged data (a check sent to a server that vanished) gives up after this long.
TCP_USER_TIMEOUT_MS = 20_000
CONNECT_TIMEOUT_S = 5
APPLICATION_NAME = "pitcrew"


@dataclass(frozen=True)
class PoolSettings:
    """One process's PostgreSQL connections (DB_POOL_SIZE, DB_MAX_OVERFLOW, DB_POOL_TIMEOUT_S) and how long one
    statement may run (DB_STATEMENT_TIMEOUT_MS, 0 = no limit). SQLite ignores them (see docs/configuration.md).

    The defaults are the settings' except the statement timeout: an engine made without settings (`pitcrew db
    upgrade`, `db copy`: long bulk statements, run by an operator) has none."""

    size: int = 5
    max_overflow: int = 10
    timeout_s: float = 5.0
    statement_timeout_ms: int = 0

    def sized(self, size: int, max_overflow: int) -> PoolSettings:
        """The same timeouts for a smaller pool of its own (e.g. the event inbox's writer)."""
        return PoolSettings(size, max_overflow, self.timeout_s, self.statement_timeout_ms)


def postgresql_engine(url: str, pool: PoolSettings, *, lock_timeout_ms: int | None = None) -> Engine:
    """A pooled engine (QueuePool, pinged before use). `lock_timeout_ms` bounds a statement's wait for another
    transaction's lock (SQLite's busy timeout); unset, only the statement timeout does."""
    parsed = make_url(url)
    settings = {"timezone": "UTC"}  # naive datetimes are UTC by convention; a timestamptz column must read them so
    if pool.statement_timeout_ms > 0:
        settings["statement_timeout"] = str(pool.statement_timeout_ms)
    if lock_timeout_ms is not None:
        settings["lock_timeout"] = str(lock_timeout_ms)
    return create_engine(
        url,
        pool_size=pool.size,
        max_overflow=pool.max_overflow,
        pool_timeout=pool.timeout_s,
        pool_pre_ping=True,  # a connection the server dropped (restart, idle timeout) is replaced, not handed out
        hide_parameters=True,  # an error's message would quote them: search words, message text
        connect_args=_connect_args(parsed, settings),
    )


def conninfo(url: str) -> str:
    """The libpq connection string (URI) of a SQLAlchemy PostgreSQL URL, for psycopg itself."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def dedicated_connection(url: str, purpose: str, instance: str) -> psycopg.Connection[Any]:
    """A connection of its own (autocommit, keepalives), outside every pool, named `pitcrew-<purpose> <instance>`
    in pg_stat_activity (e.g. `pitcrew-schedule host:4242`)."""
    import psycopg

    return psycopg.connect(conninfo(url), autocommit=True, **_dedicated_kwargs(url, purpose, instance))


async def dedicated_async_connection(url: str, purpose: str, instance: str) -> psycopg.AsyncConnection[Any]:
    """`dedicated_connection` on the running event loop (for LISTEN)."""
    import psycopg

    return await psycopg.AsyncConnection.connect(conninfo(url), autocommit=True,
                                                 **_dedicated_kwargs(url, purpose, instance))


def _dedicated_kwargs(url: str, purpose: str, instance: str) -> dict[str, Any]:
    server_keepalives = {
        "tcp_keepalives_idle": str(KEEPALIVE_IDLE_S),
        "tcp_keepalives_interval": str(KEEPALIVE_INTERVAL_S),
        "tcp_keepalives_count": str(KEEPALIVE_COUNT),
        "timezone": "UTC",
    }
    kwargs = _connect_args(make_url(url), server_keepalives)
    kwargs["application_name"] = f"{APPLICATION_NAME}-{purpose} {instance}"[:63]  # the server keeps 63 bytes
    return kwargs | {
        "keepalives": 1,
        "keepalives_idle": KEEPALIVE_IDLE_S,
        "keepalives_interval": KEEPALIVE_INTERVAL_S,
        "keepalives_count": KEEPALIVE_COUNT,
        "tcp_user_timeout": TCP_USER_TIMEOUT_MS,
        "connect_timeout": CONNECT_TIMEOUT_S,
    }


def _connect_args(url: URL, settings: dict[str, str]) -> dict[str, Any]:
    """libpq `options` setting `settings` for the session, after any `options` the URL carries (ours win);
    an application name unless the URL names one."""
    ours = " ".join(f"-c {name}={value}" for name, value in settings.items())
    given = url.query.get("options")
    given = given if isinstance(given, str) else " ".join(given or ())
    args: dict[str, Any] = {"options": f"{given} {ours}".strip()}
    if "application_name" not in url.query:
        args["application_name"] = APPLICATION_NAME
    return args
