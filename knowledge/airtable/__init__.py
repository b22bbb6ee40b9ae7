"""Airtable as the source of truth of the knowledge base: the mapping file, the sync and its stored state."""
