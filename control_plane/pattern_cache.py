"""The patterns file's checked and analysed form, kept on disk so a process starts without redoing it.

Loading `patterns.toml` checks every regex (it compiles, does not match empty text, cannot backtrack
catastrophically) and reads from its parse tree what the classifier needs: the literals a match must
contain (`prefilter.required_literals`) and whether it can be searched without its leading `\\b`
(`prefilter.boundary_stripped`). That is ~800 runs of the stdlib's pure-Python regex parser, ~0.25 s
of every start. The outcome depends only on the regex as written, the Python version (its parser)
and this package's code, so it is stored per template in a JSON file in the user's cache folder
(see `user_cache`; one file per patterns file), under a key made of the Python version, the regex
engine's MAGIC and a hash of the modules that produce it. A template missing from the file (a new or
edited pattern) is checked and analysed as before and the file rewritten; a file that cannot be
read, is corrupt or has another key is ignored, and where the folder cannot be written every start
simply checks the patterns. The regexes themselves are
compiled when first searched (see `classifier`): pickling a compiled `re.Pattern` would buy nothing,
as pickle stores only its source and compiles it again on loading.

Nothing here depends on the catalog: what does (the names a placeholder stands for, the literal
scanner over them) is rebuilt with each vocabulary, and costs a few milliseconds.
"""

from __future__ import annotations

import hashlib
import logging
import re
import sys
from pathlib import Path
from typing import Any, NamedTuple

from control_plane import user_cache

logger = logging.getLogger(__name__)

# The modules whose code decides what is stored: a change to any of them makes every entry stale.
_PRODUCERS = ("control_plane.pattern_cache", "control_plane.patterns", "control_plane.prefilter",
              "control_plane.mentions", "control_plane.user_cache")


class Analysis(NamedTuple):
    """What the classifier needs to know of one rule's regex (see `patterns.Pattern`)."""

    needs: tuple[frozenset[str], ...]  # literal sets a match must contain one literal of each of
    boundary: bool  # opens with `\b` then a word character: searched without the `\b` (prefilter.fast_search)


def cache_path(patterns_path: Path) -> Path | None:
    """Where the analysis of `patterns_path` is kept: one file per patterns file, named by its full path."""
    folder = user_cache.cache_folder()
    if folder is None:
        return None
    name = hashlib.sha256(str(patterns_path.resolve()).encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return folder / f"patterns-{name}.json"


def _cache_key() -> dict[str, Any] | None:
    sources = hashlib.sha256()
    for name in _PRODUCERS:
        module = sys.modules.get(name)
        origin = getattr(module, "__file__", None)
        if not origin:
            return None
        try:
            sources.update(Path(origin).read_bytes())
        except OSError:
            return None
    magic = getattr(getattr(re, "_constants", None), "MAGIC", None)
    return {"python": sys.version, "sre_magic": magic, "code": sources.hexdigest()}


class AnalysisCache:
    """The cached analyses of one patterns file: `get` before checking a template, `put` after, `save` at the end."""

    def __init__(self, patterns_path: Path) -> None:
        self.path = cache_path(patterns_path)
        self._key = _cache_key()
        self._stored = self._read() if self.path is not None and self._key is not None else {}
        self._used: dict[str, Analysis] = {}
        self._added = False

    def get(self, template: str) -> Analysis | None:
        found = self._stored.get(template)
        if found is not None:
            self._used[template] = found
        return found

    def put(self, template: str, analysis: Analysis) -> None:
        self._used[template] = analysis
        self._added = True

    def save(self) -> None:
        """Write the analyses this load used, if any was new or the file held others (never raises)."""
        if self.path is None or self._key is None:
            return
        if not self._added and self._used.keys() == self._stored.keys():
            return
        entries = {template: [[sorted(group) for group in analysis.needs], analysis.boundary]
                   for template, analysis in self._used.items()}
        user_cache.write(self.path, self._key, entries)

    def _read(self) -> dict[str, Analysis]:
        assert self.path is not None
        stored = user_cache.read(self.path, self._key)
        if stored is None:
            return {}
        try:
            return {template: _analysis(entry) for template, entry in stored.items() if isinstance(template, str)}
        except (TypeError, ValueError, AttributeError):
            logger.debug("ignoring a malformed pattern analysis cache", extra={"cache": str(self.path)})
            return {}


def _analysis(entry: Any) -> Analysis:
    needs, boundary = entry
    if not isinstance(boundary, bool) or not isinstance(needs, list):
        raise ValueError("malformed entry")
    groups = []
    for group in needs:
        if not isinstance(group, list) or not group or not all(isinstance(literal, str) and literal for literal in group):
            raise ValueError("malformed entry")
        groups.append(frozenset(group))
    return Analysis(tuple(groups), boundary)
