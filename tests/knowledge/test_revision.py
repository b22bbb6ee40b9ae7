"""The knowledge revision: bumped by an import that changes something, and only then."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.db import Database
from knowledge.import_files import ImportRejected
from knowledge.importer import import_folder
from knowledge.revision import read_revision
from tests.support.import_folders import import_new_accounts, write_folder


def test_an_import_that_changes_something_bumps_the_revision(database: Database, tmp_path: Path) -> None:
    assert read_revision(database) == 0
    import_new_accounts(database, tmp_path)
    assert read_revision(database) == 1
    import_new_accounts(database, tmp_path)  # the same rows again: nothing changed
    assert read_revision(database) == 1
    broken = write_folder(tmp_path / "broken", {"contacts": [{"account": "nobody", "name": "X"}]}, "json")
    with pytest.raises(ImportRejected):
        import_folder(database, broken)
    assert read_revision(database) == 1  # rolled back with the import
    write_folder(tmp_path / "more", {"accounts": [{"slug": "vega", "name": "Vega Ltd", "segment": "SMB",
                                                    "owner": "Maya"}]}, "json")
    import_folder(database, tmp_path / "more")
    assert read_revision(database) == 2
