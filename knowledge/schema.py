"""Which schema revision a database is at, and bringing it to the one this pitcrew needs (knowledge/migrations).

Opening an up-to-date database costs two small reads and no Alembic import; Alembic is loaded only to upgrade.
A database made by a pitcrew release from before migrations (its tables, no `alembic_version`) is adopted by the
same upgrade: the baseline migration creates only what is missing, then the later ones run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, inspect, text

from knowledge.dialects.upgrade_lock import upgrade_transaction
from knowledge.migrations import head_revision, revision_ids

log = logging.getLogger(__name__)

VERSION_TABLE = "alembic_version"
# Tables every pitcrew release has had: finding one without a version table means an earlier pitcrew made it.
_PITCREW_TABLES = frozenset({"product", "plan", "account", "meeting", "transcriptsegment"})


class SchemaError(Exception):
    """The database's schema is not the one this pitcrew needs; the message is for a person (no URL in it)."""


@dataclass(frozen=True)
class SchemaState:
    current: str | None  # the stored revision; None: no alembic_version (empty, or from before migrations)
    head: str  # the revision this pitcrew needs
    pitcrew_tables: bool  # pitcrew's tables are there (always true with a revision)

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head

    @property
    def newer(self) -> bool:
        """At a revision this pitcrew does not know: upgraded by a newer release."""
        return self.current is not None and self.current not in revision_ids()

    @property
    def behind(self) -> int:
        """How many migrations an upgrade would run (0 when up to date or newer)."""
        if self.newer:
            return 0
        return sum(1 for revision in revision_ids() if self.current is None or revision > self.current)

    def describe(self) -> str:
        """e.g. `up to date`, `1 behind`, `not a pitcrew database`."""
        if self.up_to_date:
            return "up to date"
        if self.newer:
            return f"newer than this pitcrew (revision {self.current}; this pitcrew knows up to {self.head})"
        if self.current is None and not self.pitcrew_tables:
            return f"not a pitcrew database (no pitcrew tables; `pitcrew db upgrade` creates them: {self.behind} behind)"
        if self.current is None:
            return f"made by a pitcrew release from before migrations (no revision): {self.behind} behind"
        return f"{self.behind} behind"

    def refusal(self) -> str:
        """Why this pitcrew will not use the database as it is, and what to do."""
        if self.newer:
            return (f"is at revision {self.current}, newer than this pitcrew knows (up to {self.head}): "
                    "run the pitcrew release that upgraded it, or a newer one")
        if self.current is None and not self.pitcrew_tables:
            where = "has no pitcrew schema yet"
        elif self.current is None:
            where = "was made by a pitcrew release from before migrations (no revision)"
        else:
            where = f"is at revision {self.current}"
        return f"{where}, this pitcrew needs {self.head}: run `pitcrew db upgrade`"


def read_schema_state(connection: Connection) -> SchemaState:
    """The database's revision: one catalog lookup and one read when it has one."""
    head = head_revision()
    if connection.dialect.has_table(connection, VERSION_TABLE):
        current = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
        if current is not None:
            return SchemaState(current=str(current), head=head, pitcrew_tables=True)
    tables = set(inspect(connection).get_table_names())
    return SchemaState(current=None, head=head, pitcrew_tables=bool(tables & _PITCREW_TABLES))


def schema_state(engine: Engine) -> SchemaState:
    with engine.connect() as connection:
        return read_schema_state(connection)


def upgrade_schema(engine: Engine) -> tuple[SchemaState, SchemaState]:
    """Run the migrations the database lacks, all in one locked transaction; returns the states before and after.

    Safe to call from several processes at once: the second waits for the first, then finds nothing to do.
    """
    from alembic import command  # ~0.1 s of imports: only when there is something to upgrade

    from knowledge.migrations.config import alembic_config

    with engine.connect() as connection:
        with upgrade_transaction(connection):
            before = read_schema_state(connection)
            if before.newer:
                raise SchemaError(before.refusal())
            if not before.up_to_date:
                if before.current is None and before.pitcrew_tables:
                    log.warning("adopting a database made by a pitcrew release from before migrations: "
                                "creating what it lacks, then upgrading it to revision %s", before.head)
                command.upgrade(alembic_config(connection), "head")
            after = read_schema_state(connection)
    if not before.up_to_date:
        log.info("database schema upgraded from %s to %s", before.current or "nothing", after.current)
    return before, after


def ensure_schema(engine: Engine, *, auto_upgrade: bool) -> None:
    """Make sure the database is at this pitcrew's revision: upgrade it (`auto_upgrade`) or raise SchemaError."""
    state = schema_state(engine)
    if state.up_to_date:
        return
    if state.newer or not auto_upgrade:
        raise SchemaError(state.refusal())
    upgrade_schema(engine)
