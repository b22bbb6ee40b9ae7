"""The demo knowledge base shipped with pitcrew: a fictional catalog and call history in the import format."""

from knowledge.demo.loader import DEMO_DATA, demo_files, ensure_demo_data, is_empty, resolve_when

__all__ = ["DEMO_DATA", "demo_files", "ensure_demo_data", "is_empty", "resolve_when"]
