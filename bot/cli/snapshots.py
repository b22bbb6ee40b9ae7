"""`pitcrew snapshots rebuild` and `pitcrew snapshots show`."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bot.cli.common import database_or_exit, fail, settings_or_exit

if TYPE_CHECKING:  # each command imports what it uses when it runs: `pitcrew --help` loads none of it
    from bot.settings import Settings
    from knowledge.db import Database
    from knowledge.snapshots import RebuildReport

snapshots_app = typer.Typer(
    name="snapshots",
    help="Prebuilt product snapshots: one row per product that product answers are read from.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(snapshots_app, name="snapshots")


@snapshots_app.command("rebuild")
def rebuild(
    product: Annotated[
        list[str] | None, typer.Option("--product", metavar="SLUG", help="Only this product (repeatable).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Rebuild even when the source data is unchanged.")] = False,
    changed: Annotated[
        bool,
        typer.Option(
            "--changed",
            help="Check only the products in the change log, as serve's schedule does, instead of every product.",
        ),
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help='Print only {"built", "unchanged", "failed", "seconds"} as JSON.')
    ] = False,
) -> None:
    """Rebuild the snapshots of products whose catalog data changed (every product's is checked by default)."""
    from rich.console import Console

    if changed and product:
        fail("--changed and --product cannot be combined: --changed checks the products the change log names", 2)
    settings = settings_or_exit()
    db, demo_loaded = _open_database(settings)
    try:
        # Loading the demo just built its snapshots; rebuilding them again here makes this run report
        # what it stands for (every product built) instead of "all unchanged".
        report = _run_rebuild(db, product, force or demo_loaded, changed and not demo_loaded,
                              show_progress=not as_json and sys.stdout.isatty())
    finally:
        db.close()
    if as_json:
        print(json.dumps(report.as_json()))
    else:
        Console(highlight=False).print(
            f"Snapshots: [bold]{report.built}[/] built, {report.unchanged} unchanged, {report.failed} failed"
            + (f", {report.removed} removed" if report.removed else "")
            + f" in {report.seconds:.3f} s"
        )
    for error in report.errors:
        print(f"pitcrew: error: {error}", file=sys.stderr)
    if report.failed:
        if not as_json:
            print("pitcrew: every previous snapshot was kept", file=sys.stderr)
        raise typer.Exit(1)


def _run_rebuild(db: Database, slugs: list[str] | None, force: bool, changed: bool,
                 show_progress: bool) -> RebuildReport:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from knowledge.reader import suggest_products
    from knowledge.snapshots import UnknownProductError, rebuild_snapshots

    try:
        if not show_progress:
            return rebuild_snapshots(db, product_slugs=slugs or None, force=force, changed_only=changed)
        with Progress(
            TextColumn("Rebuilding snapshots"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=True
        ) as bar:
            task = bar.add_task("rebuild", total=None)
            return rebuild_snapshots(
                db,
                product_slugs=slugs or None,
                force=force,
                changed_only=changed,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
    except UnknownProductError as exc:
        hints = [name for slug in exc.slugs for name in suggest_products(db, slug, limit=2)]
        fail(str(exc) + (f" (did you mean {', '.join(dict.fromkeys(hints))}?)" if hints else ""))


@snapshots_app.command("show")
def show(
    slug: Annotated[str, typer.Argument(help="Product slug, name or plan name (any case).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the snapshot as one JSON object.")] = False,
) -> None:
    """Print one product's snapshot: its metadata and the fact sheet given to the LLM."""
    from rich.console import Console

    from knowledge.reader import read_product, suggest_products

    db = database_or_exit(settings_or_exit())
    try:
        view = read_product(db, slug)
        if view is None:
            hints = suggest_products(db, slug)
            fail(f"no product named {slug!r}" + (f" (did you mean {', '.join(hints)}?)" if hints else ""))
        meta = _snapshot_meta(db, view.slug)
    finally:
        db.close()
    if as_json:
        print(
            json.dumps(
                {
                    "slug": view.slug,
                    "name": view.name,
                    "version": view.version,
                    "built_at": meta.get("built_at"),
                    "source_hash": meta.get("source_hash"),
                    "path": view.path,
                    "matched_by": view.matched_by,
                    "payload": view.payload,
                    "prompt": view.prompt,
                },
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    console = Console(highlight=False)
    if meta:
        status = f"version {view.version}, built {meta['built_at']} UTC"
    else:
        status = "no snapshot yet (assembled from the catalog; run `pitcrew snapshots rebuild`)"
    console.print(f"[bold]{view.name}[/] ([cyan]{view.slug}[/]) · {status}")
    payload = view.payload
    counts = (
        f"{len(payload['plans'])} plans, {len(payload['features'])} features, "
        f"{len(payload['integrations'])} integrations, {len(payload['addons'])} add-ons, {len(payload['faqs'])} FAQs"
    )
    console.print(f"[dim]{counts}[/]\n")
    console.print(view.prompt, markup=False, soft_wrap=True)


def _snapshot_meta(db: Database, slug: str) -> dict[str, Any]:
    from sqlalchemy import text

    with db.engine.connect() as connection:
        row = connection.execute(
            text("SELECT built_at, source_hash FROM productsnapshot WHERE slug = :slug"), {"slug": slug}
        ).first()
    if row is None:
        return {}
    return {"built_at": str(row[0])[:19], "source_hash": row[1]}


def _open_database(settings: Settings) -> tuple[Database, bool]:
    """The database, with the demo knowledge base loaded into it if it was empty; and whether it was."""
    from knowledge.db import redact_url
    from knowledge.demo import ensure_demo_data

    db = database_or_exit(settings, load_demo=False)
    try:
        return db, ensure_demo_data(db)
    except Exception as exc:  # a broken demo load is a message, not a traceback
        db.close()
        fail(f"cannot load the demo knowledge base into {redact_url(settings.database_url)}: {_first_line(exc)}")


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
