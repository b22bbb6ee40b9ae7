"""The checked patterns kept on disk: the same pattern set as a fresh check, re-checked when a pattern changes,
ignored when broken, and regexes compiled only when a message needs them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from control_plane import PatternError, load_patterns
from control_plane import classifier as classifier_module
from control_plane import patterns as patterns_module
from control_plane.classifier import PatternClassifier
from control_plane.evaluation import read_labelled
from control_plane.normalize import normalize
from control_plane.pattern_cache import cache_path
from control_plane.patterns import DEFAULT_PATTERNS_PATH, PatternSet
from tests.support.paths import LABELLED

CATALOG = {"product": ["Orbit", "Beacon", "Orbit Analytics"], "plan": ["Starter", "Pro", "Enterprise"]}
OTHER_CATALOG = {"product": ["Nimbus", "Stratus Cloud"], "plan": ["Gold", "Platinum"]}
TEXTS = [normalize(message.text).lowered for message in read_labelled(LABELLED)] + [
    "does nimbus gold include sso", "how much is stratus cloud platinum per seat", "orbit pro price", "hi",
]


@pytest.fixture
def patterns_file(tmp_path: Path) -> Path:
    """A copy of the packaged patterns, free to edit."""
    path = tmp_path / "patterns.toml"
    shutil.copyfile(DEFAULT_PATTERNS_PATH, path)
    return path


def _checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The templates checked and analysed from now on (the cache held none of the others)."""
    checked: list[str] = []
    real = patterns_module._check_and_analyse

    def counting(where: str, label: str, template: str, placeholders: tuple[str, ...]):  # type: ignore[no-untyped-def]
        checked.append(template)
        return real(where, label, template, placeholders)

    monkeypatch.setattr(patterns_module, "_check_and_analyse", counting)
    return checked


def _same_candidates(first: PatternSet, second: PatternSet, catalog: dict[str, list[str]]) -> None:
    one, two = PatternClassifier(first, catalog), PatternClassifier(second, catalog)
    for text in TEXTS:
        assert one.candidates(text) == two.candidates(text), text


def test_the_cache_is_written_once_and_loads_the_same_pattern_set(patterns_file: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    checked = _checks(monkeypatch)
    fresh = load_patterns(patterns_file)
    assert len(checked) == fresh.pattern_count  # nothing cached yet: every regex checked
    stored = cache_path(patterns_file)
    assert stored is not None and stored.is_file()

    checked.clear()
    cached = load_patterns(patterns_file)
    assert checked == []  # every regex's check and analysis came from the cache
    assert cached == fresh and cached is not fresh
    _same_candidates(cached, fresh, CATALOG)


def test_the_cache_holds_nothing_of_the_catalog(patterns_file: Path) -> None:
    fresh = load_patterns(patterns_file)
    cached = load_patterns(patterns_file)
    # Another vocabulary: the names, the placeholders' gate and the literal scanner are built for it anew.
    _same_candidates(cached, fresh, OTHER_CATALOG)
    assert PatternClassifier(cached, OTHER_CATALOG).candidates("how much is nimbus gold")
    assert "nimbus" not in cache_path(patterns_file).read_text(encoding="utf-8")


def test_an_edited_pattern_is_checked_again_and_a_broken_one_still_refused(patterns_file: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    load_patterns(patterns_file)
    checked = _checks(monkeypatch)
    text = patterns_file.read_text(encoding="utf-8")
    opening = "regex = '''"
    position = text.index(opening, text.index("[intents.help]")) + len(opening)  # the first help pattern's regex
    patterns_file.write_text(text[:position] + r"\bwhat can pitcrew do\b|" + text[position:], encoding="utf-8")
    updated = load_patterns(patterns_file)
    assert len(checked) == 1 and checked[0].startswith(r"\bwhat can pitcrew do\b|")
    help_patterns = next(group for group in updated.intents if group.intent.value == "help").patterns
    assert any(p.template == checked[0] for p in help_patterns)
    assert checked[0] in json.loads(cache_path(patterns_file).read_text(encoding="utf-8"))["data"]

    patterns_file.write_text(text[:position] + "(unclosed|" + text[position:], encoding="utf-8")
    with pytest.raises(PatternError, match=r"broken regex"):
        load_patterns(patterns_file)


@pytest.mark.parametrize("content", [b"", b"{not json", b"\xff\xfe\x00garbage", b"[]", b'{"key": 1}',
                                     b'{"key": null, "templates": {"x": [[["a"]], true]}}'])
def test_a_corrupt_cache_is_ignored_and_replaced(patterns_file: Path, content: bytes,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    fresh = load_patterns(patterns_file)
    stored = cache_path(patterns_file)
    stored.write_bytes(content)
    checked = _checks(monkeypatch)
    assert load_patterns(patterns_file) == fresh
    assert len(checked) == fresh.pattern_count  # checked afresh, as without a cache
    assert json.loads(stored.read_text(encoding="utf-8"))["data"]  # and written anew


def test_a_cache_entry_of_the_wrong_shape_is_ignored(patterns_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fresh = load_patterns(patterns_file)
    stored = cache_path(patterns_file)
    data = json.loads(stored.read_text(encoding="utf-8"))
    template = next(iter(data["data"]))
    data["data"][template] = [["not a list of lists"], "yes"]
    stored.write_text(json.dumps(data), encoding="utf-8")
    checked = _checks(monkeypatch)
    assert load_patterns(patterns_file) == fresh
    assert len(checked) == fresh.pattern_count


def test_another_python_or_other_code_makes_the_cache_stale(patterns_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fresh = load_patterns(patterns_file)
    stored = cache_path(patterns_file)
    data = json.loads(stored.read_text(encoding="utf-8"))
    data["key"]["python"] = "2.7.18"
    stored.write_text(json.dumps(data), encoding="utf-8")
    checked = _checks(monkeypatch)
    assert load_patterns(patterns_file) == fresh
    assert len(checked) == fresh.pattern_count


def test_without_a_writable_cache_folder_every_load_checks_the_patterns(patterns_file: Path, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder would be", encoding="utf-8")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    checked = _checks(monkeypatch)
    first = load_patterns(patterns_file)
    second = load_patterns(patterns_file)
    assert first == second and len(checked) == 2 * first.pattern_count


def test_a_regex_is_compiled_only_when_a_message_needs_it(monkeypatch: pytest.MonkeyPatch) -> None:
    compiled: list[str] = []
    real = classifier_module.compiled_search

    def counting(source: str, boundary: bool):  # type: ignore[no-untyped-def]
        compiled.append(source)
        return real(source, boundary)

    monkeypatch.setattr(classifier_module, "compiled_search", counting)
    patterns = load_patterns()
    classifier = PatternClassifier(patterns, CATALOG)
    assert compiled == []
    first = classifier.candidates("what does orbit pro cost?")
    assert 0 < len(compiled) < patterns.pattern_count // 4
    assert classifier.candidates("what does orbit pro cost?") == first
    assert len(compiled) == len(set(compiled))  # each once
    classifier.compile_all()
    assert classifier.candidates("what does orbit pro cost?") == first
