"""`ThrottledWarnings`: at most one warning per key (e.g. a client address) per interval, counting the rest.

Anyone on the internet can send requests that deserve a warning; logging each one would let a
single client fill the disk. The line that does get logged says how many were held back since.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any


class ThrottledWarnings:
    def __init__(self, logger: logging.Logger, *, interval_s: float = 60.0, max_keys: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._logger = logger
        self._interval_s = interval_s
        self._max_keys = max_keys
        self._clock = clock
        # key -> (when its last warning was logged, how many were held back since); oldest first
        self._keys: dict[str, tuple[float, int]] = {}

    def warning(self, key: str, message: str, **extra: Any) -> bool:
        """Log `message` with `extra`, `client=key` and `suppressed` (how many warnings for `key` were
        held back since its last line), unless `key` had a line less than the interval ago. True if logged."""
        now = self._clock()
        last = self._keys.get(key)
        if last is not None and now - last[0] < self._interval_s:
            self._keys[key] = (last[0], last[1] + 1)
            return False
        suppressed = last[1] if last is not None else 0
        self._keys.pop(key, None)  # re-inserted last: the dict stays ordered by the last line logged
        if len(self._keys) >= self._max_keys:
            del self._keys[next(iter(self._keys))]  # the key logged longest ago; memory stays bounded
        self._keys[key] = (now, 0)
        self._logger.warning(message, extra={**extra, "client": key, "suppressed": suppressed})
        return True
