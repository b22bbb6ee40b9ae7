"""Fixtures of the control-plane tests: the demo vocabulary, loaded once per session."""

from __future__ import annotations

import pytest

from knowledge.db import Database
from knowledge.demo import ensure_demo_data
from knowledge.vocabulary import Vocabulary, load_vocabulary
from tests.support.control_plane import NOW


@pytest.fixture(scope="session")
def demo_vocabulary(tmp_path_factory: pytest.TempPathFactory) -> Vocabulary:
    """The vocabulary of the demo knowledge base, loaded into a real SQLite file once per session."""
    db = Database(f"sqlite:///{tmp_path_factory.mktemp('vocabulary') / 'demo.db'}")
    try:
        assert ensure_demo_data(db, NOW)
        return load_vocabulary(db)
    finally:
        db.close()
