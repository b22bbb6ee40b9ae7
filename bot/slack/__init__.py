"""The Slack side of pitcrew: the Bolt app, its listeners, the event inbox, progress, streaming and the server."""
