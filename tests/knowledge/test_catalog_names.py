"""The catalog's names held in memory: current after an import, never reloaded on an event loop's time, and
suggestions at least as good as difflib's over every name."""

from __future__ import annotations

import asyncio
import difflib
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import Connection

import knowledge.catalog_names as catalog_names_module

from knowledge.catalog_names import catalog_names, load_in_background, refresh_catalog_names
from knowledge.db import Database
from knowledge.importer import import_folder
from knowledge.reader import list_products, read_product, suggest_products
from knowledge.snapshots import normalize_alias, rebuild_snapshots
from tests.support.catalog_factory import add_product, sample_catalog
from tests.support.import_folders import write_folder

NEW_PRODUCT = {
    "products": [{"slug": "stellar", "name": "Stellarium"}],
    "plans": [{"product": "stellar", "slug": "galaxy", "name": "Galaxy", "price_cents": 500}],
}


def test_an_import_that_adds_a_product_is_suggested_and_read_before_its_rebuild(
    database: Database, tmp_path: Path
) -> None:
    sample_catalog(database)
    rebuild_snapshots(database)
    assert suggest_products(database, "stellarium") == []
    assert read_product(database, "Galaxy") is None
    import_folder(database, write_folder(tmp_path / "new", NEW_PRODUCT, "json"), rebuild=False)

    assert suggest_products(database, "stelarium") == ["Stellarium"]
    assert suggest_products(database, "galaxi") == ["Galaxy"]
    by_name, by_slug, by_plan = (read_product(database, key) for key in ("STELLARIUM", "stellar", "galaxy"))
    assert by_name is not None and (by_name.slug, by_name.path, by_name.matched_by) == ("stellar", "slow", "product")
    assert by_slug is not None and by_slug.slug == "stellar"
    assert by_plan is not None and (by_plan.slug, by_plan.matched_by) == ("stellar", "plan")
    assert list_products(database, 10)[1] == 4


def test_a_name_several_unbuilt_products_answer_to_goes_as_it_would_with_snapshots(database: Database) -> None:
    """No snapshots at all: a plan name goes to the primary product, then the oldest; a product name first."""
    add_product(database, "one", "One", plans=[{"slug": "solo", "name": "Solo"}])
    add_product(database, "two", "Two", is_primary=True, plans=[{"slug": "solo", "name": "SOLO"}])
    add_product(database, "three", "Three", plans=[{"slug": "solo", "name": "solo"}])

    def found(key: str) -> tuple[str, str, str] | None:
        view = read_product(database, key)
        return (view.slug, view.matched_by, view.path) if view else None

    assert found("solo") == ("two", "plan", "slow")
    add_product(database, "four", "Solo")
    assert found("solo") == ("four", "product", "slow")
    rebuild_snapshots(database)
    assert found("solo") == ("four", "product", "fast")


async def test_on_an_event_loop_stale_names_are_served_while_they_reload_in_the_background(
    database: Database, tmp_path: Path
) -> None:
    sample_catalog(database)
    before = catalog_names(database)
    import_folder(database, write_folder(tmp_path / "new", NEW_PRODUCT, "json"), rebuild=False)

    assert catalog_names(database) is before  # the loop is not kept waiting for the reload
    assert before.suggest("stelarium") == []
    deadline = time.monotonic() + 10
    while catalog_names(database) is before and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert suggest_products(database, "stelarium") == ["Stellarium"]


async def test_while_a_servers_first_load_runs_a_request_on_the_loop_does_not_wait_for_it(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    sample_catalog(database)
    release = threading.Event()
    real_load = catalog_names_module.load_catalog_names

    def slow(connection: Connection) -> catalog_names_module.CatalogNames:
        release.wait(10)
        return real_load(connection)

    monkeypatch.setattr(catalog_names_module, "load_catalog_names", slow)
    load_in_background(database)
    try:
        assert suggest_products(database, "orbt") == []  # no names yet, and no waiting
        assert read_product(database, "platinum") is None
    finally:
        release.set()
    deadline = time.monotonic() + 10
    while suggest_products(database, "orbt") == [] and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert suggest_products(database, "orbt") == ["Orbit"]


def test_a_worker_thread_reloads_at_once(database: Database, tmp_path: Path) -> None:
    sample_catalog(database)
    before = catalog_names(database)
    assert refresh_catalog_names(database) is before  # nothing changed: nothing reloaded
    add_product(database, "zephyr", "Zephyr")  # written without an import: the new id is noticed all the same
    assert "zephyr" in refresh_catalog_names(database).display


def test_threads_that_need_the_names_at_once_share_one_load(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    sample_catalog(database)
    loads: list[int] = []
    real_load = catalog_names_module.load_catalog_names

    def counted(connection: Connection) -> catalog_names_module.CatalogNames:
        loads.append(1)
        time.sleep(0.05)  # a large catalog: the other threads arrive while this load runs
        return real_load(connection)

    monkeypatch.setattr(catalog_names_module, "load_catalog_names", counted)
    with ThreadPoolExecutor(max_workers=4) as pool:
        found = list(pool.map(lambda _: suggest_products(database, "orbt"), range(8)))
    assert found == [["Orbit"]] * 8
    assert len(loads) == 1


def _difflib_suggestions(names: list[str], key: str, limit: int = 3) -> list[str]:
    """What suggest_products did before the names were held in memory: difflib over every name."""
    wanted = normalize_alias(key)
    display = {normalize_alias(name): name for name in reversed(names)}
    prefixed = [c for c in display if len(c) >= 3 and len(wanted) >= 3 and (c.startswith(wanted) or wanted.startswith(c))]
    close = difflib.get_close_matches(wanted, list(display), n=limit * 3, cutoff=0.75)
    suggestions: list[str] = []
    for candidate in [*close, *prefixed]:
        if display[candidate] not in suggestions:
            suggestions.append(display[candidate])
    return suggestions[:limit]


def _typos(word: str) -> set[str]:
    """A word with one letter dropped, doubled, swapped with the next, or replaced."""
    typos = set()
    for index in range(len(word)):
        typos |= {word[:index] + word[index + 1 :], word[:index] + word[index] + word[index:],
                  word[:index] + "x" + word[index + 1 :]}
        if index + 1 < len(word):
            typos.add(word[:index] + word[index + 1] + word[index] + word[index + 2 :])
    return typos - {word}


def test_every_typo_difflib_found_the_name_for_is_still_found(demo_db: Database) -> None:
    names = catalog_names(demo_db)
    every_name = list(dict.fromkeys(names.display.values()))
    assert len(every_name) > 20
    compared = 0
    for name in every_name:
        for typo in _typos(name.lower()):
            if name in _difflib_suggestions(every_name, typo):
                compared += 1
                assert name in names.suggest(typo), (typo, name)
    assert compared > 200
