"""One instance's snapshot schedule in a process of its own, firing every second, for the tests of several
instances on one database: `python -m tests.support.schedule_instance DATABASE_URL`.

Prints one JSON line when started ({"event": "started", "instance", "role"}) and one per scheduled run, from
the run's own log record ({"event": "run", "instance", "started_at"}); runs until killed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from datetime import UTC

from apscheduler.triggers.cron import CronTrigger

from knowledge.db import Database
from knowledge.schedule import default_lock_path, start_snapshot_schedule

RUN_MESSAGES = ("scheduled snapshot rebuild finished", "scheduled snapshot rebuild crashed")


class PrintRuns(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage() in RUN_MESSAGES:
            line = {"event": "run", "instance": record.instance, "started_at": record.started_at}  # type: ignore[attr-defined]
            print(json.dumps(line), flush=True)


async def main(url: str) -> None:
    db = Database(url)
    logger = logging.getLogger("knowledge.schedule")
    logger.setLevel(logging.INFO)
    logger.addHandler(PrintRuns())
    schedule = start_snapshot_schedule(db, "* * * * *", default_lock_path(url), leadership_retry_s=None,
                                       trigger=CronTrigger(second="*", timezone=UTC))
    print(json.dumps({"event": "started", "instance": schedule.instance, "role": schedule.role}), flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
