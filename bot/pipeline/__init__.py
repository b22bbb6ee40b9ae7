"""The request pipeline: meeting resolution, control plane, handler; one entry point for Slack and the shell."""

from bot.pipeline.message import Deliver, IncomingMessage, Reply, StreamSink, failure_reply
from bot.pipeline.pipeline import Pipeline

__all__ = ["Deliver", "IncomingMessage", "Pipeline", "Reply", "StreamSink", "failure_reply"]
