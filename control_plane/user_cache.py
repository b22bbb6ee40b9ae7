"""Small JSON files in the user's cache folder: what a start would otherwise work out again from files that
rarely change (see `pattern_cache`, `spelling.common_words`).

The folder follows the XDG convention: `$XDG_CACHE_HOME/pitcrew`, else `~/.cache/pitcrew`. Each file
carries the key it was made for; a file that is missing, unreadable, corrupt or made for another key
reads as nothing, and one that cannot be written is not (the caller works it out at every start).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


def cache_folder() -> Path | None:
    """The user's cache folder for pitcrew, or None when there is no home to put it in."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not base or not os.path.isabs(base):  # the convention: a relative value is ignored
        try:
            base = str(Path.home() / ".cache")
        except (RuntimeError, KeyError):  # HOME unset and no passwd entry for this uid
            return None
    return Path(base) / "pitcrew"


def read(path: Path, key: Any) -> Any:
    """The data stored in `path` for `key`, or None."""
    try:
        stored = json.loads(path.read_bytes())
    except (OSError, ValueError):  # missing, unreadable or not JSON
        return None
    if not isinstance(stored, dict) or stored.get("key") != key:
        return None
    return stored.get("data")


def write(path: Path, key: Any, data: Any) -> None:
    """Store `data` for `key` in `path`, whole or not at all (never raises)."""
    temporary = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written under another name, then renamed: a reader never sees half a file.
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, prefix=f".{path.stem}-",
                                         suffix=".tmp", delete=False) as out:
            temporary = out.name
            json.dump({"key": key, "data": data}, out, ensure_ascii=False, separators=(",", ":"))
        os.replace(temporary, path)
    except OSError as exc:  # read-only or full: the caller works it out at the next start again
        logger.debug("not cached", extra={"cache": str(path), "error": str(exc)})
        if temporary is not None:
            try:
                os.unlink(temporary)
            except OSError:
                pass
