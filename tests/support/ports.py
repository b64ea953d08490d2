"""Ports on 127.0.0.1 for the tests' servers."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A port that was free a moment ago: nothing answers on it until a server binds it, and
    another process may take it first (a server started on it then fails to bind, clearly)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
