"""Load and compile the intent patterns (a TOML file) once, failing loudly on any mistake in it.

File layout (see patterns.toml for the real thing):

    [limits]
    match_chars = 1000        # only this many normalized characters are matched
    confident_chars = 300     # a longer message is capped at `long_message_cap` (left to the LLM)
    long_message_cap = 0.85

    [intents.product_question]
    description = "..."       # also shown to the LLM validator
    patterns = [ { id = "plan-price", confidence = 0.95, regex = '''...''' }, ... ]
    negatives = [ { id = "stock", veto = true, regex = '''...''' },
                  { id = "calls", penalty = 0.2, regex = '''...''' } ]

Regexes are matched against the lower-cased normalized text with `re.search`. A regex may name the
catalog with `{product}` (product names and slugs) or `{plan}` (plan names): the classifier finds the
names a message mentions and matches the placeholder against them (see `mentions`), so a pattern with
a placeholder matches only where a name is, and is dropped when the vocabulary has no names for it.

Checking and analysing the regexes is done once per template and kept on disk (see `pattern_cache`);
a regex is compiled when it is first searched.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cached_property, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from control_plane.intents import Intent
from control_plane.mentions import PLACEHOLDER_PATTERNS
from control_plane.pattern_cache import Analysis, AnalysisCache
from control_plane.prefilter import boundary_stripped, required_literals

try:  # the stdlib's own regex parser, used only to reject patterns that can backtrack catastrophically
    from re import _constants as _sre_constants
    from re import _parser as _sre_parser
except ImportError:  # pragma: no cover - other Python versions
    _sre_parser = None  # type: ignore[assignment]
    _sre_constants = None  # type: ignore[assignment]

DEFAULT_PATTERNS_PATH = Path(str(resources.files("control_plane").joinpath("patterns.toml")))

_PATTERN_KEYS = {"id", "regex", "confidence"}
_NEGATIVE_KEYS = {"id", "regex", "veto", "penalty"}
_LIMIT_DEFAULTS = {"match_chars": 1000, "confident_chars": 300, "long_message_cap": 0.85}


# Placeholder -> a stand-in used to check the regex when the file is loaded.
PLACEHOLDERS = {"product": "(?:orbit|orbit analytics)", "plan": "(?:pro|enterprise plus)"}
_PLACEHOLDER = re.compile(r"\{([A-Za-z_]+)\}")


class PatternError(ValueError):
    """The patterns file is unusable; the message names the file, the intent and the pattern."""


class _Regex:
    """The regex of a pattern or negative, from its template (the fields of the dataclasses below)."""

    template: str  # as written in the file
    placeholders: tuple[str, ...]
    needs: tuple[frozenset[str], ...]  # literal sets a match of `search_source` needs (prefilter.required_literals)
    boundary: bool  # `search_source` opens with `\b` then a word character (prefilter.fast_search)

    @cached_property
    def regex(self) -> re.Pattern[str]:
        """The regex, placeholders filled with stand-ins; compiled on first use."""
        return re.compile(expand(self.template, PLACEHOLDERS) if self.placeholders else self.template)

    @property
    def search_source(self) -> str:
        """What the classifier searches: each placeholder matching the marks of masked names (see `mentions`)."""
        return expand(self.template, PLACEHOLDER_PATTERNS) if self.placeholders else self.template


@dataclass(frozen=True)
class Pattern(_Regex):
    id: str
    confidence: float
    template: str
    placeholders: tuple[str, ...] = ()
    needs: tuple[frozenset[str], ...] = ()
    boundary: bool = False


@dataclass(frozen=True)
class Negative(_Regex):
    id: str
    penalty: float  # subtracted from the intent's score; ignored when `veto`
    veto: bool
    template: str
    placeholders: tuple[str, ...] = ()
    needs: tuple[frozenset[str], ...] = ()
    boundary: bool = False


def expand(template: str, terms: dict[str, str]) -> str:
    """`template` with each {placeholder} replaced by its alternation from `terms`."""
    return _PLACEHOLDER.sub(lambda m: terms[m.group(1)], template)


@dataclass(frozen=True)
class IntentPatterns:
    intent: Intent
    description: str
    patterns: tuple[Pattern, ...]  # highest confidence first
    negatives: tuple[Negative, ...]


@dataclass(frozen=True)
class Limits:
    match_chars: int
    confident_chars: int
    long_message_cap: float


@dataclass(frozen=True)
class PatternSet:
    source: str
    limits: Limits
    intents: tuple[IntentPatterns, ...]

    @property
    def pattern_count(self) -> int:
        return sum(len(group.patterns) + len(group.negatives) for group in self.intents)

    @property
    def intent_names(self) -> tuple[Intent, ...]:
        """The intents this file defines, in its order."""
        return tuple(group.intent for group in self.intents)

    def descriptions(self) -> dict[Intent, str]:
        return {group.intent: group.description for group in self.intents}


def load_patterns(path: Path | str | None = None) -> PatternSet:
    """Read and compile a patterns file (the packaged one by default; that one is compiled once)."""
    if path is None:
        return _default_patterns()
    return _load(Path(path))


@lru_cache(maxsize=1)
def _default_patterns() -> PatternSet:
    return _load(DEFAULT_PATTERNS_PATH)


def _load(path: Path) -> PatternSet:
    source = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PatternError(f"{source}: cannot read patterns file: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise PatternError(f"{source}: not valid TOML: {exc}") from None
    unexpected = set(data) - {"limits", "intents"}
    if unexpected:
        raise PatternError(f"{source}: unknown top-level table(s) {sorted(unexpected)}; expected [limits] and [intents.*]")
    limits = _limits(source, data.get("limits", {}))
    intents_table = data.get("intents")
    if not isinstance(intents_table, dict) or not intents_table:
        raise PatternError(f"{source}: no [intents.<name>] tables")
    cache = AnalysisCache(path)
    groups = [_intent_group(source, name, table, cache) for name, table in intents_table.items()]
    cache.save()  # only a file that loaded without a mistake is cached
    return PatternSet(source=source, limits=limits, intents=tuple(groups))


def _limits(source: str, table: Any) -> Limits:
    if not isinstance(table, dict):
        raise PatternError(f"{source}: [limits] must be a table")
    unknown = set(table) - set(_LIMIT_DEFAULTS)
    if unknown:
        raise PatternError(f"{source}: [limits] has unknown key(s) {sorted(unknown)}")
    values = {**_LIMIT_DEFAULTS, **table}
    for key in ("match_chars", "confident_chars"):
        if not isinstance(values[key], int) or isinstance(values[key], bool) or values[key] < 1:
            raise PatternError(f"{source}: [limits] {key} must be a positive integer")
    cap = values["long_message_cap"]
    if not _is_unit_number(cap):
        raise PatternError(f"{source}: [limits] long_message_cap must be a number between 0 and 1")
    return Limits(match_chars=values["match_chars"], confident_chars=values["confident_chars"], long_message_cap=float(cap))


def _intent_group(source: str, name: str, table: Any, cache: AnalysisCache) -> IntentPatterns:
    try:
        intent = Intent(name)
    except ValueError as exc:
        raise PatternError(f"{source}: [intents.{name}]: {exc}") from None
    where = f"{source}: intent {name!r}"
    if not isinstance(table, dict):
        raise PatternError(f"{where}: must be a table")
    unknown = set(table) - {"description", "patterns", "negatives"}
    if unknown:
        raise PatternError(f"{where}: unknown key(s) {sorted(unknown)}")
    patterns = [_pattern(where, index, entry, cache) for index, entry in enumerate(_entries(where, table, "patterns"), 1)]
    negatives = [_negative(where, index, entry, cache)
                 for index, entry in enumerate(_entries(where, table, "negatives"), 1)]
    ids = [p.id for p in patterns] + [n.id for n in negatives]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise PatternError(f"{where}: duplicate pattern id(s) {duplicates}")
    patterns.sort(key=lambda p: -p.confidence)
    return IntentPatterns(
        intent=intent,
        description=str(table.get("description", "")).strip(),
        patterns=tuple(patterns),
        negatives=tuple(negatives),
    )


def _entries(where: str, table: dict[str, Any], key: str) -> list[dict[str, Any]]:
    entries = table.get(key, [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise PatternError(f"{where}: {key} must be a list of tables")
    return entries


def _pattern(where: str, index: int, entry: dict[str, Any], cache: AnalysisCache) -> Pattern:
    label = _label("pattern", entry, index)
    unknown = set(entry) - _PATTERN_KEYS
    if unknown:
        raise PatternError(f"{where}, {label}: unknown key(s) {sorted(unknown)}")
    confidence = entry.get("confidence")
    if not _is_unit_number(confidence):
        raise PatternError(f"{where}, {label}: confidence must be a number between 0 and 1, got {confidence!r}")
    placeholders, analysis = _compile(where, label, entry, cache)
    return Pattern(id=_id(entry, index), confidence=float(confidence), template=entry["regex"],
                   placeholders=placeholders, needs=analysis.needs, boundary=analysis.boundary)


def _negative(where: str, index: int, entry: dict[str, Any], cache: AnalysisCache) -> Negative:
    label = _label("negative", entry, index)
    unknown = set(entry) - _NEGATIVE_KEYS
    if unknown:
        raise PatternError(f"{where}, {label}: unknown key(s) {sorted(unknown)}")
    veto = entry.get("veto", False)
    penalty = entry.get("penalty")
    if not isinstance(veto, bool) or (veto and penalty is not None) or (not veto and penalty is None):
        raise PatternError(f"{where}, {label}: give either veto = true or a penalty")
    if penalty is not None and not _is_unit_number(penalty):
        raise PatternError(f"{where}, {label}: penalty must be a number between 0 and 1, got {penalty!r}")
    placeholders, analysis = _compile(where, label, entry, cache)
    return Negative(id=_id(entry, index), penalty=float(penalty or 0.0), veto=veto, template=entry["regex"],
                    placeholders=placeholders, needs=analysis.needs, boundary=analysis.boundary)


def _label(kind: str, entry: dict[str, Any], index: int) -> str:
    ident = entry.get("id")
    return f"{kind} #{index} {ident!r}" if ident else f"{kind} #{index}"


def _id(entry: dict[str, Any], index: int) -> str:
    return str(entry.get("id") or f"#{index}")


def _is_unit_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0.0 <= value <= 1.0


def _compile(where: str, label: str, entry: dict[str, Any], cache: AnalysisCache) -> tuple[tuple[str, ...], Analysis]:
    """The template's placeholders and analysis; a template the cache does not hold is checked first."""
    template = entry.get("regex")
    if not isinstance(template, str) or not template:
        raise PatternError(f"{where}, {label}: regex must be a non-empty string")
    placeholders = tuple(dict.fromkeys(_PLACEHOLDER.findall(template)))
    unknown = [name for name in placeholders if name not in PLACEHOLDERS]
    if unknown:
        known = ", ".join("{" + name + "}" for name in PLACEHOLDERS)
        raise PatternError(f"{where}, {label}: unknown placeholder {{{unknown[0]}}} (known: {known})")
    analysis = cache.get(template)
    if analysis is None:
        analysis = _check_and_analyse(where, label, template, placeholders)
        cache.put(template, analysis)
    return placeholders, analysis


def _check_and_analyse(where: str, label: str, template: str, placeholders: tuple[str, ...]) -> Analysis:
    """Refuse a regex that is broken, matches empty text or can backtrack catastrophically; then read from it
    what the classifier needs (all of it a function of the template alone)."""
    regex = expand(template, PLACEHOLDERS) if placeholders else template
    try:
        compiled = re.compile(regex)
    except re.error as exc:
        raise PatternError(f"{where}, {label}: broken regex {regex!r}: {exc}") from None
    if compiled.search("") is not None:
        raise PatternError(f"{where}, {label}: regex {regex!r} matches empty text, so it matches everything")
    if compiled.groupindex or compiled.flags & ~re.UNICODE:
        raise PatternError(
            f"{where}, {label}: regex {regex!r} uses a named group or a global inline flag; "
            "patterns are joined into one alternation and matched against lower-case text, so use (?:...)"
        )
    problem = _backtracking_risk(regex)
    if problem:
        raise PatternError(f"{where}, {label}: regex {regex!r} {problem}")
    searched = re.compile(expand(template, PLACEHOLDER_PATTERNS)) if placeholders else compiled
    return Analysis(required_literals(searched.pattern), boundary_stripped(searched.pattern, searched.flags) is not None)


def _backtracking_risk(regex: str) -> str | None:
    """Why `regex` could take exponential time on a near-miss ((a+)+, (\\w+ )*, backreferences), or None."""
    if _sre_parser is None:
        return None
    c = _sre_constants
    repeats = {c.MAX_REPEAT, c.MIN_REPEAT, getattr(c, "POSSESSIVE_REPEAT", c.MAX_REPEAT)}
    nested = "nests an unbounded repeat inside another (catastrophic backtracking); bound one, e.g. {0,3}"

    def walk(items: Any, inside_unbounded: bool) -> str | None:
        for op, arg in items:
            children: list[Any] = []
            if op in repeats:
                unbounded = arg[1] == c.MAXREPEAT
                if unbounded and inside_unbounded:
                    return nested
                if (found := walk(arg[2], inside_unbounded or unbounded)) is not None:
                    return found
            elif op in (c.GROUPREF, c.GROUPREF_EXISTS):
                return "uses a backreference; patterns must not"
            elif op == c.SUBPATTERN:
                children = [arg[-1]]
            elif op == c.BRANCH:
                children = list(arg[1])
            elif op in (c.ASSERT, c.ASSERT_NOT):
                children = [arg[1]]
            elif op == getattr(c, "ATOMIC_GROUP", None):
                children = [arg]
            for child in children:
                if (found := walk(child, inside_unbounded)) is not None:
                    return found
        return None

    return walk(_sre_parser.parse(regex), False)
