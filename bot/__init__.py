"""pitcrew's wiring: settings, logging, LLM gateway, pipeline, Slack app and CLI."""
