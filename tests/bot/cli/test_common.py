"""What every command shares: the database it opens (with the demo knowledge base unless told not to)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import text

from bot.settings import Settings
from bot.cli.common import database_or_exit
from knowledge.db import Database


def query(db: Database, sql: str, **params: Any) -> list[Any]:
    with db.engine.connect() as connection:
        return connection.execute(text(sql), params).all()


def test_database_or_exit_loads_the_demo_unless_told_not_to(settings: Settings, tmp_path: Path) -> None:
    bare = database_or_exit(settings.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'bare.db'}"}),
                            load_demo=False)
    assert query(bare, "SELECT count(*) FROM product")[0][0] == 0
    bare.close()
    db = database_or_exit(settings)
    assert query(db, "SELECT count(*) FROM product")[0][0] >= 6
    db.close()
