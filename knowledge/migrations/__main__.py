"""Alembic's command line on pitcrew's migrations, for developers: `python -m knowledge.migrations --help`.

Runs on the database at DATABASE_URL (required: point it at a scratch database), inside the same locked
transaction as an upgrade. `revision` numbers the new migration after the newest one unless `--rev-id` is given.
Operators use `pitcrew db upgrade` / `pitcrew db status` instead.
"""

from __future__ import annotations

import os
import sys

from alembic.config import CommandLine

from knowledge.db import create_db_engine
from knowledge.dialects.upgrade_lock import upgrade_transaction
from knowledge.migrations import next_revision_id
from knowledge.migrations.config import alembic_config


def main(argv: list[str] | None = None) -> None:
    line = CommandLine(prog="python -m knowledge.migrations")
    options = line.parser.parse_args(argv)
    if not hasattr(options, "cmd"):
        line.parser.error("too few arguments")
    if hasattr(options, "rev_id") and options.rev_id is None:
        options.rev_id = next_revision_id()
    url = os.environ.get("DATABASE_URL")
    if not url:
        sys.exit("set DATABASE_URL to the (scratch) database to run on")
    engine = create_db_engine(url)
    try:
        with engine.connect() as connection, upgrade_transaction(connection):
            line.run_cmd(alembic_config(connection), options)
    finally:
        engine.dispose()


if __name__ == "__main__":
    main()
