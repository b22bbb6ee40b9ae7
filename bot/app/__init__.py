"""The process: its settings, the services it runs (database, LLM gateway, pipeline) and its background jobs."""
