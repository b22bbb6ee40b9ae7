"""The Slack side of pitcrew: the Bolt app, its listeners, retry dedupe, progress, streaming and the server."""
