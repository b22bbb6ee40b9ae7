"""This process's name among the instances sharing one database, for logs and for who owns what."""

from __future__ import annotations

import os
import socket


def instance_id() -> str:
    """`host:pid`: which `pitcrew serve` (or command) did something, e.g. ran a scheduled rebuild."""
    return f"{socket.gethostname()}:{os.getpid()}"
