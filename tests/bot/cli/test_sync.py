"""`pitcrew sync airtable` and `pitcrew sync status` against the fake Airtable API: reports, one-line errors,
and no secret (token, MAC secret) ever printed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from bot.cli.main import app as cli
from knowledge.airtable.state import read_state
from knowledge.db import Database
from tests.support.fake_airtable import BASE_ID, EXAMPLE_MAPPING, TOKEN, CatalogBase, LoopbackAirtable, fill_catalog


@pytest.fixture
async def airtable(monkeypatch: pytest.MonkeyPatch, isolated_environment: Path) -> AsyncIterator[LoopbackAirtable]:
    async with LoopbackAirtable() as fake:
        mapping = isolated_environment / "airtable.toml"
        mapping.write_text(EXAMPLE_MAPPING.read_text())
        monkeypatch.setenv("AIRTABLE_TOKEN", TOKEN)
        monkeypatch.setenv("AIRTABLE_API_URL", fake.url)
        monkeypatch.setenv("AIRTABLE_MAPPING", str(mapping))
        yield fake


@pytest.fixture
def catalog(airtable: LoopbackAirtable) -> CatalogBase:
    return fill_catalog(airtable)


async def run(*args: str) -> Result:
    """The command in a worker thread: the fake API answers on this test's event loop."""
    return await asyncio.to_thread(CliRunner().invoke, cli, list(args))


def no_secrets(result: Result, *secrets: str) -> None:
    text = result.output + result.stderr
    assert "Traceback" not in text
    for secret in (TOKEN, *secrets):
        assert secret not in text


@pytest.mark.database
async def test_sync_reports_per_table_and_status_shows_the_state(airtable: LoopbackAirtable, catalog: CatalogBase,
                                                                 settings, monkeypatch: pytest.MonkeyPatch) -> None:
    synced = await run("sync", "airtable")
    assert synced.exit_code == 0, synced.stderr
    assert "Plans" in synced.stdout and "created" in synced.stdout and "Snapshots:" in synced.stdout
    no_secrets(synced)

    monkeypatch.setenv("AIRTABLE_WEBHOOK_URL", "https://pitcrew.example.com/airtable/webhook")
    created = await run("sync", "airtable", "--webhook", "create")
    assert created.exit_code == 0, created.stderr
    db = Database(settings.database_url)
    try:
        secret = read_state(db, BASE_ID)["mac_secret"]
    finally:
        db.close()
    assert secret and "MAC secret is stored" in created.stdout

    status = await run("sync", "status")
    assert status.exit_code == 0, status.stderr
    assert "cursor:     1" in status.stdout and "last error: none" in status.stdout
    assert f"webhook:    {next(iter(airtable.webhooks))}" in status.stdout
    assert "plans:" in status.stdout
    no_secrets(status, secret)
    no_secrets(created, secret)


@pytest.mark.database
async def test_an_invalid_record_is_named_and_nothing_is_written(airtable: LoopbackAirtable,
                                                                  catalog: CatalogBase) -> None:
    pro = catalog.record_id("plans", product="orbit", slug="pro")
    airtable.update("Plans", pro, {"Billing period": "fortnight"})

    result = await run("sync", "airtable")

    assert result.exit_code == 1
    assert result.stderr.startswith("pitcrew: error: sync refused, the database is unchanged (1 problem;")
    assert f"Plans, record {pro}, field 'Billing period':" in result.stderr
    no_secrets(result)
    status = await run("sync", "status")
    assert "never synced" not in status.stdout and "field 'Billing period'" in status.stdout


@pytest.mark.parametrize(("env", "expected"), [
    ({"AIRTABLE_TOKEN": ""}, "AIRTABLE_TOKEN is not set"),
    ({"AIRTABLE_MAPPING": "nowhere.toml"}, "no mapping file at nowhere.toml"),
], ids=["no-token", "no-mapping"])
async def test_missing_configuration_is_one_line(airtable: LoopbackAirtable, monkeypatch: pytest.MonkeyPatch,
                                                 env: dict[str, str], expected: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = await run("sync", "airtable")
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1 and expected in result.stderr
    no_secrets(result)


async def test_a_wrong_mapping_names_the_field(airtable: LoopbackAirtable, isolated_environment: Path) -> None:
    (isolated_environment / "airtable.toml").write_text(
        'base = "app1"\n[tables.plans]\ntable = "Plans"\n[tables.plans.fields]\nprice = "Price"\n')
    result = await run("sync", "airtable")
    assert result.exit_code == 2
    assert "[tables.plans]: `price` is not a field of plans; its fields are: product, slug" in result.stderr


@pytest.mark.database
async def test_webhook_create_needs_the_public_url(airtable: LoopbackAirtable) -> None:
    result = await run("sync", "airtable", "--webhook", "create")
    assert result.exit_code == 2 and "AIRTABLE_WEBHOOK_URL is not set" in result.stderr
    assert not airtable.webhooks


@pytest.mark.database
async def test_a_refused_token_is_one_line_and_stored_as_the_last_error(airtable: LoopbackAirtable,
                                                                         catalog: CatalogBase,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRTABLE_TOKEN", "patWRONG.not-the-token-0000")
    result = await run("sync", "airtable")
    assert result.exit_code == 1
    assert result.stderr.strip() == f"pitcrew: error: cannot read the Airtable base {BASE_ID}: HTTP 401"
    no_secrets(result, "patWRONG.not-the-token-0000")
    status = await run("sync", "status")
    assert "last error: cannot read the Airtable base" in status.stdout
