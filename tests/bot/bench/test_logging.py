"""The logging benchmark runs, measures real logging and leaves the process's logging as it found it."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from bot.bench import logging as logging_bench


def test_quick_run_measures_real_day_file_writes(tmp_path: Path) -> None:
    logging.disable(logging.CRITICAL)  # as a caller may have left it
    handlers_before = list(logging.getLogger().handlers)
    try:
        results = logging_bench.run(True, tmp_path)
        assert logging.root.manager.disable == logging.CRITICAL
    finally:
        logging.disable(logging.NOTSET)
    assert logging.getLogger().handlers == handlers_before
    assert [r.name for r in results] == ["logging.request.day_file", "logging.request.day_file_and_stderr"]
    for result in results:
        assert result.unit == "ms" and 0 < result.p50 <= result.p95 <= result.p99
        assert result.passed == (result.p50 < logging_bench.TARGET_MS)  # no timing asserted, only the verdict
    # It measured logging, not a disabled logger: the day file holds the requests' summaries.
    (day_file,) = (tmp_path / "file" / "logs").iterdir()
    summaries = [json.loads(line) for line in day_file.read_text().splitlines()
                 if '"Request completed successfully"' in line]
    assert len(summaries) >= 300 and all(set(s["stages"]) == {"meeting_resolution", "control_plane", "handler", "llm"}
                                         for s in summaries)
