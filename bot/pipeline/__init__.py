"""The request pipeline: meeting resolution, control plane, handler; one entry point for Slack and the shell."""

from bot.pipeline.message import IncomingMessage, Reply, StreamSink
from bot.pipeline.pipeline import Pipeline

__all__ = ["IncomingMessage", "Pipeline", "Reply", "StreamSink"]
