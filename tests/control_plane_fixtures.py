"""Shared pieces for the control-plane tests: the demo vocabulary and labelled-data paths.

Import the fixtures into a test module: `from tests.control_plane_fixtures import demo_vocabulary  # noqa: F401`.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from control_plane import ControlPlane, ControlPlaneConfig
from handlers.registry import default_registry
from knowledge.db import Database
from knowledge.demo import ensure_demo_data
from knowledge.vocabulary import Vocabulary, load_vocabulary

REPO_ROOT = Path(__file__).resolve().parent.parent
LABELLED = REPO_ROOT / "tests" / "data" / "intents.jsonl"
# A Wednesday afternoon: every relative time expression resolves against it.
NOW = datetime(2025, 3, 5, 15, 0)


def shared_golden() -> Path | None:
    """The shared golden set (`/work/shared` or `../shared` next to the repository), when it exists."""
    for root in (Path("/work/shared"), REPO_ROOT.parent / "shared"):
        candidate = root / "golden" / "intents.jsonl"
        if candidate.is_file():
            return candidate
    return None


@pytest.fixture(scope="session")
def demo_vocabulary(tmp_path_factory: pytest.TempPathFactory) -> Vocabulary:
    """The vocabulary of the demo knowledge base, loaded into a real SQLite file once per session."""
    db = Database(f"sqlite:///{tmp_path_factory.mktemp('vocabulary') / 'demo.db'}")
    try:
        assert ensure_demo_data(db, NOW)
        return load_vocabulary(db)
    finally:
        db.close()


def offline_plane(vocabulary: Vocabulary, **config: float) -> ControlPlane:
    """A control plane with no LLM, knowing the slots the handlers read (as the pipeline builds it)."""
    return ControlPlane(ControlPlaneConfig(**config), vocabulary, None, intent_slots=default_registry().slots())
