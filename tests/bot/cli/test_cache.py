"""`pitcrew cache stats` and `pitcrew cache clear` on a real response cache."""

from __future__ import annotations

import json

from sqlalchemy import text
from typer.testing import CliRunner

from bot.cli.main import app
from bot.llm.cache import ResponseCache
from knowledge.db import Database


def test_cache_stats_and_clear_commands(database: Database) -> None:
    cache = ResponseCache(database, ttl_s=3600, max_entries=10)
    cache.put("live", "answer", "gpt")
    cache.get("live")
    with database.engine.begin() as connection:
        connection.execute(text("INSERT INTO responsecacheentry (key, value, model, created_at, expires_at, last_access_at, hits) "
                                "VALUES ('old', 'x', 'gpt', '2020-01-01 00:00:00.000000', '2020-01-01 01:00:00.000000', "
                                "'2020-01-01 00:00:00.000000', 0)"))
    runner = CliRunner()

    result = runner.invoke(app, ["cache", "stats", "--json"])
    assert result.exit_code == 0, result.output
    stats = json.loads(result.output)
    assert (stats["entries"], stats["live"], stats["expired"], stats["total_hits"]) == (2, 1, 1, 1)
    assert stats["oldest"].startswith("2020-01-01")

    table = runner.invoke(app, ["cache", "stats"])
    assert table.exit_code == 0 and "Response cache" in table.output and "expired" in table.output

    cleared = runner.invoke(app, ["cache", "clear", "--expired"])
    assert cleared.exit_code == 0 and "removed 1 expired cache entry" in cleared.output
    assert cache.get("live") == "answer"
    cleared = runner.invoke(app, ["cache", "clear"])
    assert cleared.exit_code == 0 and "removed 1 cache entry" in cleared.output
    assert cache.stats().entries == 0
