"""Where the tests' data lives: the repository root, the labelled files in tests/data and the shared golden set."""

from __future__ import annotations

import shutil
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
TEST_DATA = REPO_ROOT / "tests" / "data"
LABELLED = TEST_DATA / "intents.jsonl"
CONVERSATIONS = TEST_DATA / "conversations.jsonl"


def shared_golden() -> Path | None:
    """The shared golden set (`/work/shared` or `../shared` next to the repository), when it exists."""
    for root in (Path("/work/shared"), REPO_ROOT.parent / "shared"):
        candidate = root / "golden" / "intents.jsonl"
        if candidate.is_file():
            return candidate
    return None


PACKAGES = ("bot", "control_plane", "handlers", "knowledge")


def copy_packages(destination: Path) -> Path:
    """A copy of the project's four packages under `destination`, to change without touching the real ones."""
    for package in PACKAGES:
        shutil.copytree(REPO_ROOT / package, destination / package, ignore=shutil.ignore_patterns("__pycache__"))
    return destination
