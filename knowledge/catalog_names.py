"""The catalog's product and plan names, held in memory and reloaded when the catalog changes.

Two jobs that would otherwise read every product on a request: close matches for a "did you mean"
(rapidfuzz over the names, plus names the asked one starts or is the start of), and which products
answer to a name that has no snapshot yet (the reader's slow path). The names are loaded in a few
bulk queries (about a second at 100,000 products) once per catalog change: the knowledge
revision an import bumps, and the newest product and plan ids (rows written without an import, by
the generator or a test, count too). Checking costs one query of three indexed reads.

Loading never blocks an event loop once the names exist: a stale read made in a thread running a
loop keeps the names it has and reloads them in a background thread (the serving pipeline also
reloads them with its own names after an import, in its worker thread); anywhere else a stale read
reloads first.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import logging
import math
import threading
import time
import weakref
from array import array
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, text

from knowledge.db import Database
from knowledge.dialects import aggregates
from knowledge.dialects.transactions import begin_consistent_read
from knowledge.snapshots import normalize_alias

logger = logging.getLogger(__name__)

# Similarity (rapidfuzz's ratio, 0-100: difflib's ratio x 100) below which a name is not worth suggesting.
SUGGESTION_CUTOFF = 75.0
MIN_PREFIX_CHARS = 3  # shorter names are never suggested for starting (or being the start of) the asked one
MAX_ASKED_CHARS = 200  # a name is never longer; the rest of a pasted text is not compared
# Names compared per rapidfuzz call (~1 ms): it holds the GIL while it runs, so an event loop sharing the
# process waits at most about that long (plus the interpreter's switch interval) for a suggestion's work.
COMPARE_SLICE = 10_000

Signature = tuple[int, int, int]  # knowledge revision, newest product id, newest plan id

_SIGNATURE = text(
    "SELECT (SELECT revision FROM knowledgerevision WHERE id = 1), (SELECT max(id) FROM product),"
    " (SELECT max(id) FROM plan)"
)
# Primary first, then the oldest: the order the reader resolves a shared name in.
_PRODUCTS = "SELECT id, name, slug FROM product ORDER BY is_primary DESC, id"
_PRIMARY_IDS = "SELECT id FROM product WHERE is_primary"
# One row per distinct plan name: the database does the grouping, Python parses a few long strings (measured on
# SQLite at 400,000 plans: ~230 ms, against ~280-420 ms for a row per plan grouped in Python).
_PLANS = "SELECT name, {product_ids} FROM plan GROUP BY name"


@dataclass(frozen=True)
class CatalogNames:
    """Every product name (and slug, where it says more) and every plan name, normalized, at one catalog
    `signature`."""

    signature: Signature
    display: dict[str, str]  # normalized name -> the name to show (a product's name for its slug)
    by_length: list[str]  # the normalized names, shortest first, for rapidfuzz over the lengths that can be close...
    lengths: list[int]  # ...their lengths...
    ranks: array  # ...and their ranks for ties: products first (primary, then oldest), then plans
    ordered: list[str]  # the names sorted, for names starting with the asked one
    products: dict[str, int]  # normalized product name -> the product's id, or the first of several...
    shared: dict[str, tuple[int, ...]]  # ...whose names fold together: all of them, primary then oldest
    plans: dict[str, array]  # normalized plan name -> ids of the products with a plan so named, primary then oldest
    product_count: int

    def products_named(self, alias: str) -> Sequence[int]:
        """Ids of the products called `alias` (normalized), in the order they win it (slugs are not here: they
        are stored normalized, so the product table's slug index finds them)."""
        shared = self.shared.get(alias)
        if shared is not None:
            return shared
        product_id = self.products.get(alias)
        return () if product_id is None else (product_id,)

    def products_with_plan(self, alias: str) -> Sequence[int]:
        """Ids of the products with a plan called `alias` (normalized), in the order they win it."""
        return self.plans.get(alias, ())

    def suggest(self, key: str, limit: int = 3) -> list[str]:
        """Product and plan names close to `key`, best first: similar ones, then ones it starts or is the start of.

        Costs up to ~0.1 µs per name of a length that can be close, in slices that let other threads run
        between them; call it from a worker thread on a large catalog.
        """
        wanted = normalize_alias(key[:MAX_ASKED_CHARS])
        if not wanted or limit <= 0:
            return []
        suggestions: list[str] = []
        for candidate in [*self._close(wanted, limit * 3), *self._prefixed(wanted, limit * 3)]:
            name = self.display[candidate]
            if name not in suggestions:
                suggestions.append(name)
        return suggestions[:limit]

    def _close(self, wanted: str, limit: int) -> list[str]:
        """Up to `limit` names at least SUGGESTION_CUTOFF similar to `wanted`, most similar (then first) first.

        Similarity is 2 x common characters / both lengths, so only names between 0.6 and 1.67 times as long
        as `wanted` can reach the cutoff: the others are never compared.
        """
        from rapidfuzz import fuzz, process  # here: a process that never suggests a name never loads it

        shortest = math.ceil(len(wanted) * SUGGESTION_CUTOFF / (200 - SUGGESTION_CUTOFF))
        longest = math.floor(len(wanted) * (200 - SUGGESTION_CUTOFF) / SUGGESTION_CUTOFF)
        start = bisect.bisect_left(self.lengths, shortest)
        end = bisect.bisect_right(self.lengths, longest)
        scored: list[tuple[float, int, int]] = []  # (-similarity, rank, position)
        for offset in range(start, end, COMPARE_SLICE):
            stop = min(offset + COMPARE_SLICE, end)
            for _choice, score, index in process.extract(wanted, self.by_length[offset:stop], scorer=fuzz.ratio,
                                                         limit=limit, score_cutoff=SUGGESTION_CUTOFF):
                scored.append((-score, self.ranks[offset + index], offset + index))
        return [self.by_length[position] for _score, _rank, position in sorted(scored)[:limit]]

    def _prefixed(self, wanted: str, limit: int) -> list[str]:
        """Names that are the start of `wanted`, and a few (in name order) that `wanted` is the start of."""
        if len(wanted) < MIN_PREFIX_CHARS:
            return []
        found = [wanted[:end] for end in range(MIN_PREFIX_CHARS, len(wanted) + 1) if wanted[:end] in self.display]
        start = bisect.bisect_left(self.ordered, wanted)
        for candidate in self.ordered[start : start + limit]:
            if not candidate.startswith(wanted):
                break
            found.append(candidate)
        return found


NO_NAMES = CatalogNames(signature=(-1, -1, -1), display={}, by_length=[], lengths=[], ranks=array("q"), ordered=[],
                        products={}, shared={}, plans={}, product_count=0)


def load_catalog_names(connection: Connection) -> CatalogNames:
    """Read every product and plan name (call inside one consistent read of `connection`: `begin_consistent_read`)."""
    signature = _read_signature(connection)
    driver = connection.connection.driver_connection
    products: dict[str, int] = {}
    shared: dict[str, list[int]] = {}
    display: dict[str, str] = {}
    count = 0
    for product_id, name, slug in driver.execute(_PRODUCTS):  # type: ignore[union-attr]
        count += 1
        alias = normalize_alias(name)
        if alias in products:
            shared.setdefault(alias, [products[alias]]).append(product_id)
        elif alias:
            products[alias] = product_id
        display.setdefault(alias, name)
        slug_alias = normalize_alias(slug)
        if slug_alias.replace("-", " ") != alias:  # "swift-ledger-17" adds nothing to "swift ledger 17"
            display.setdefault(slug_alias, name)
    display.pop("", None)
    primaries = [row[0] for row in driver.execute(_PRIMARY_IDS)]  # type: ignore[union-attr]
    plans: dict[str, array] = {}
    plans_sql = _PLANS.format(product_ids=aggregates.for_engine(connection).join("product_id", ","))
    for name, ids in driver.execute(plans_sql).fetchall():  # type: ignore[union-attr]
        alias = normalize_alias(name)
        if alias:
            display.setdefault(alias, name)
            plans[alias] = array("q", [*plans.get(alias, ()), *map(int, ids.split(","))])
    for alias, ids in plans.items():
        plans[alias] = _winning_order(ids, primaries)
    names = list(display)
    ranks = sorted(range(len(names)), key=lambda rank: len(names[rank]))
    # Fresh copies, laid out in memory in the order rapidfuzz reads them: over the originals, scattered in
    # load order, the same comparisons measured 4-6x slower.
    by_length = [(names[rank] + " ")[:-1] for rank in ranks]
    return CatalogNames(signature=signature, display=display, by_length=by_length,
                        lengths=[len(name) for name in by_length], ranks=array("q", ranks), ordered=sorted(names),
                        products=products, shared={alias: tuple(ids) for alias, ids in shared.items()}, plans=plans,
                        product_count=count)


def _winning_order(ids: array, primaries: list[int]) -> array:
    """Distinct ids, the primary product's first, then the oldest first."""
    unique = sorted(set(ids))
    present = set(unique)
    first = [product_id for product_id in primaries if product_id in present]
    return array("q", first + [product_id for product_id in unique if product_id not in first])


def _read_signature(connection: Connection) -> Signature:
    revision, product_id, plan_id = connection.execute(_SIGNATURE).one()
    return int(revision or 0), int(product_id or 0), int(plan_id or 0)


def read_catalog_signature(db: Database) -> Signature:
    """What the names are loaded at: the knowledge revision and the newest product and plan ids."""
    with db.engine.connect() as connection:
        return _read_signature(connection)


class _Holder:
    """One database's names: the latest loaded, and whether a background reload is under way."""

    def __init__(self) -> None:
        self.names: CatalogNames | None = None
        self.lock = threading.Lock()
        self.loading = threading.Lock()  # one load at a time: a thread needing names waits for the load under way
        self.reloading = False
        self._tickets = itertools.count(1)
        self._stored_ticket = 0

    def ticket(self) -> int:
        """Taken before a load reads anything: of two loads, the one that read last is kept."""
        with self.lock:
            return next(self._tickets)

    def store(self, names: CatalogNames, ticket: int) -> CatalogNames:
        with self.lock:
            if self.names is None or ticket > self._stored_ticket:
                self.names, self._stored_ticket = names, ticket
            return self.names


_holders: weakref.WeakKeyDictionary[Database, _Holder] = weakref.WeakKeyDictionary()
_holders_lock = threading.Lock()


def _holder(db: Database) -> _Holder:
    with _holders_lock:
        holder = _holders.get(db)
        if holder is None:
            holder = _holders[db] = _Holder()
        return holder


def catalog_names(db: Database) -> CatalogNames:
    """The names as of now; but read in a thread running an event loop, the names already loaded (when the
    catalog changed since, a background thread reloads them), or none at all while a server's first load
    runs in the background (`load_in_background`). Otherwise the first load happens here."""
    holder = _holder(db)
    names = holder.names
    if names is not None:
        if names.signature == read_catalog_signature(db):
            return names
        if _in_event_loop():
            _reload_in_background(db, holder)
            return names
    elif holder.reloading and _in_event_loop():
        return NO_NAMES  # a server's first load is under way: no request waits for it
    return _load(db, holder)


def refresh_catalog_names(db: Database) -> CatalogNames:
    """Reload the names now if the catalog changed since they were loaded (in a worker thread: this can
    take half a second on a large catalog)."""
    holder = _holder(db)
    names = holder.names
    if names is not None and names.signature == read_catalog_signature(db):
        return names
    return _load(db, holder)


def _load(db: Database, holder: _Holder) -> CatalogNames:
    with holder.loading:
        names = holder.names
        if names is not None and names.signature == read_catalog_signature(db):
            return names  # loaded by the thread this one waited for
        return _load_now(db, holder)


def _load_now(db: Database, holder: _Holder) -> CatalogNames:
    started = time.perf_counter()
    ticket = holder.ticket()
    with db.engine.connect() as connection:
        begin_consistent_read(connection)  # the signature and the names from one view of the catalog
        try:
            names = load_catalog_names(connection)
        finally:
            connection.rollback()
    logger.debug("catalog names loaded", extra={"names": len(names.display), "products": names.product_count,
                                                 "load_ms": round((time.perf_counter() - started) * 1000, 1)})
    return holder.store(names, ticket)


def _in_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def load_in_background(db: Database) -> None:
    """Start loading the names in a daemon thread (a server does at start, so no request waits for them)."""
    _reload_in_background(db, _holder(db))


def _reload_in_background(db: Database, holder: _Holder) -> None:
    with holder.lock:
        if holder.reloading:
            return
        holder.reloading = True

    def reload() -> None:
        try:
            refresh_catalog_names(db)
        except Exception:  # the database closed or failed meanwhile: the next stale read tries again
            logger.warning("catalog names could not be reloaded", exc_info=True)
        finally:
            holder.reloading = False

    threading.Thread(target=reload, name="catalog-names", daemon=True).start()
