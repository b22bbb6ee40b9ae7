"""`pitcrew sync airtable` (a full sync, the webhook's changes, or registering the webhook) and `pitcrew sync status`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli.common import (EXIT_USAGE, database_or_exit, fail, fail_if_rebuild_incomplete, print_snapshot_outcome,
                            settings_or_exit)

if TYPE_CHECKING:
    from bot.app.airtable import AirtableConnection
    from knowledge.airtable.sync import SyncReport
    from knowledge.db import Database


sync_app = typer.Typer(help="Keep the knowledge base in step with Airtable (docs/airtable.md).", no_args_is_help=True)


@sync_app.command("airtable")
def airtable_command(
    keep_deleted: Annotated[bool, typer.Option("--keep-deleted",
                                               help="Keep the rows of records deleted in Airtable.")] = False,
    skip_invalid: Annotated[bool, typer.Option("--skip-invalid",
                                               help="Skip (and report) records that fail validation instead of "
                                                    "rolling the whole run back.")] = False,
    changes: Annotated[bool, typer.Option("--changes",
                                          help="Apply only what the webhook recorded since the stored cursor.")] = False,
    webhook: Annotated[str | None, typer.Option("--webhook", metavar="create",
                                                help="`create`: register a webhook notifying AIRTABLE_WEBHOOK_URL "
                                                     "(serve's POST /airtable/webhook).")] = None,
) -> None:
    """Sync the mapped Airtable base into the knowledge base, all or nothing, then rebuild changed snapshots."""
    from bot.app.airtable import AirtableNotConfigured, airtable_from_settings
    from knowledge.airtable.sync import SyncError, SyncRejected, full_sync, sync_changes

    settings = settings_or_exit()
    if webhook not in (None, "create"):
        fail(f"--webhook takes `create`, not {webhook!r}", EXIT_USAGE)
    try:
        connection = airtable_from_settings(settings)
    except AirtableNotConfigured as exc:
        fail(str(exc), EXIT_USAGE)
    db = database_or_exit(settings, load_demo=False)
    try:
        if webhook == "create":
            _create_webhook(db, connection, settings.airtable_webhook_url)
            return
        run = sync_changes if changes else full_sync
        report = run(db, connection.api, connection.mapping, keep_deleted=keep_deleted, skip_invalid=skip_invalid)
    except SyncRejected as exc:
        count = len(exc.problems)
        fail(f"sync refused, the database is unchanged ({count} problem{'s' * (count != 1)}; "
             "--skip-invalid leaves such records out):\n" + "\n".join(f"  {line}" for line in exc.describe().splitlines()))
    except SyncError as exc:
        fail(str(exc))
    finally:
        db.close()
    _print_report(report)
    fail_if_rebuild_incomplete(report.rebuild_error, report.rebuild, "the records were synced")


def _create_webhook(db: Database, connection: AirtableConnection, url: str | None) -> None:
    from knowledge.airtable.webhooks import create_webhook

    if not url:
        fail("AIRTABLE_WEBHOOK_URL is not set: the public https URL of serve's /airtable/webhook, "
             "e.g. https://pitcrew.example.com/airtable/webhook", EXIT_USAGE)
    try:
        created = create_webhook(db, connection.api, connection.mapping, url)
    except Exception as exc:  # Airtable refused or is unreachable: one line, never the token
        status = getattr(getattr(exc, "response", None), "status_code", None)
        fail(f"Airtable refused to create the webhook ({f'HTTP {status}' if status else type(exc).__name__}); "
             "the token needs the webhook:manage scope on the base")
    expires = created.expires_at.isoformat() if created.expires_at else "never"
    print(f"Webhook {created.webhook_id} registered for {url} (expires {expires}; serve refreshes it). "
          "Its MAC secret is stored in the database.")


def _print_report(report: SyncReport) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    title = f"Airtable base {report.base}: {'full sync' if report.kind == 'full' else 'changes'}"
    table = Table(title=title, title_justify="left")
    for column in ("table", "created", "updated", "deleted", "unchanged", "skipped"):
        table.add_column(column, justify="left" if column == "table" else "right")
    for counts in report.tables.values():
        table.add_row(counts.table, *(str(value) for value in (counts.created, counts.updated, counts.deleted,
                                                                counts.unchanged, counts.skipped)))
    console.print(table)
    for problem in report.skipped:
        console.print(f"skipped: {problem}", markup=False, highlight=False)
    if report.kind == "changes":
        console.print(f"{report.payloads} change payload(s) read; cursor now {report.cursor}.")
    print_snapshot_outcome(console, report.changed, report.rebuild, report.changed_products)
    console.print(f"Sync took {report.seconds:.2f} s.")


@sync_app.command("status")
def status_command() -> None:
    """The last sync's time, kind, counts and error, and the webhook's cursor and expiry (never its secret)."""
    import json

    from bot.app.airtable import AirtableNotConfigured, airtable_from_settings
    from knowledge.airtable.state import read_state

    settings = settings_or_exit()
    try:
        mapping = airtable_from_settings(settings).mapping
    except AirtableNotConfigured as exc:
        fail(str(exc), EXIT_USAGE)
    db = database_or_exit(settings, load_demo=False)
    try:
        state = read_state(db, mapping.base)
    finally:
        db.close()
    if state is None:
        print(f"Airtable base {mapping.base}: never synced. Run `pitcrew sync airtable`.")
        return
    when = state["last_sync_at"].isoformat() if state["last_sync_at"] else "never"
    print(f"Airtable base {mapping.base}")
    print(f"  last sync:  {when} ({state['last_sync_kind'] or '-'})")
    print(f"  cursor:     {state['cursor']}")
    if state["webhook_id"]:
        expires = state["webhook_expires_at"].isoformat() if state["webhook_expires_at"] else "never"
        print(f"  webhook:    {state['webhook_id']} (expires {expires})")
    else:
        print("  webhook:    none (`pitcrew sync airtable --webhook create`)")
    counts = json.loads(state["last_counts"] or "{}")
    for kind, values in counts.items():
        numbers = ", ".join(f"{value} {name}" for name, value in values.items() if value)
        print(f"  {kind + ':':<15} {numbers or 'nothing'}")
    print(f"  last error: {state['last_error'] or 'none'}")


def register(app: typer.Typer) -> None:
    app.add_typer(sync_app, name="sync")
