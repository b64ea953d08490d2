"""A TCP proxy in front of PostgreSQL that counts round trips and can fail over silently.

A round trip is counted for each ReadyForQuery the server sends: one ends every simple query,
every extended-protocol Sync (a prepared statement's execution, a Parse/Describe) and every
connection's start-up, which is when a client may send again. Trips are counted by the
`application_name` the client gave at start-up, so that one pool's trips are told from another's.

`fail_over()` ends every backend behind the proxy while the clients' sockets stay open: a client
hears of it only when it next sends, as a reset, as it would from a standby that took over the
primary's address. (A restart or pg_terminate_backend closes the clients' sockets instead, which a
client can see without sending anything.)
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

# Requests a client may send before its StartupMessage, each answered by one unframed byte.
_SSL_REQUEST, _GSSENC_REQUEST = 80877103, 80877104


def application_name(start: bytes) -> str | None:
    """The application_name of a client's StartupMessage at the start of its stream (after any
    SSL or GSS encryption request), "" when it gives none, None while the message is incomplete."""
    while len(start) >= 8:
        length, code = int.from_bytes(start[:4]), int.from_bytes(start[4:8])
        if len(start) < length:
            return None
        if code not in (_SSL_REQUEST, _GSSENC_REQUEST):
            fields = start[8:length].split(b"\0")
            parameters = dict(zip(fields[0::2], fields[1::2], strict=False))
            return parameters.get(b"application_name", b"").decode()
        start = start[length:]
    return None


class _Messages:
    """Counts ReadyForQuery messages in a server's stream, however the stream is split."""

    def __init__(self) -> None:
        self._framed = False
        self._head = b""
        self._skip = 0

    def ready_for_query(self, data: bytes) -> int:
        ready, at = 0, 0
        while not self._framed and at < len(data):
            if data[at : at + 1] not in (b"N", b"S", b"G"):
                self._framed = True  # start-up's first message is R, E or v: these were answers
            else:
                at += 1  # the answer to an encryption request: one byte, no frame
        while at < len(data):
            if self._skip:
                step = min(self._skip, len(data) - at)
                self._skip -= step
                at += step
                continue
            taken = data[at : at + 5 - len(self._head)]
            self._head += taken
            at += len(taken)
            if len(self._head) == 5:
                ready += self._head[:1] == b"Z"
                self._skip = int.from_bytes(self._head[1:5]) - 4
                self._head = b""
        return ready


@dataclass(eq=False)
class _Link:
    client: asyncio.StreamWriter
    server: asyncio.StreamWriter
    name: str | None = None
    cut: bool = False
    client_gone: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


class PostgresProxy:
    def __init__(self, host: str, port: int) -> None:
        self._upstream = (host, port)
        self._links: set[_Link] = set()
        self.round_trips: Counter[str] = Counter()
        self.port = 0

    def fail_over(self) -> None:
        """Ends every backend now behind the proxy; their clients find out when they next send."""
        for link in self._links:
            link.cut = True
            link.server.close()

    @asynccontextmanager
    async def running(self) -> AsyncIterator[PostgresProxy]:
        server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        try:
            async with server:
                yield self
        finally:
            for link in list(self._links):
                for task in link.tasks:
                    task.cancel()
                link.client.close()
                link.server.close()

    async def _serve(self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter) -> None:
        server_in, server_out = await asyncio.open_connection(*self._upstream)
        link = _Link(client_out, server_out)
        self._links.add(link)
        link.tasks = [
            asyncio.create_task(self._to_server(link, client_in)),
            asyncio.create_task(self._to_client(link, server_in)),
        ]
        try:
            await asyncio.gather(*link.tasks, return_exceptions=True)
        finally:
            self._links.discard(link)
            client_out.close()
            server_out.close()

    async def _to_server(self, link: _Link, client_in: asyncio.StreamReader) -> None:
        start = b""
        try:
            while data := await client_in.read(65536):
                if link.name is None:
                    start += data
                    link.name = application_name(start)
                if link.cut:
                    # The address answers, but nothing behind it knows this connection: a reset.
                    sock = link.client.get_extra_info("socket")
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    link.client.transport.abort()
                    return
                link.server.write(data)
                await link.server.drain()
        finally:
            link.client_gone.set()
            link.server.close()

    async def _to_client(self, link: _Link, server_in: asyncio.StreamReader) -> None:
        messages = _Messages()
        with contextlib.suppress(ConnectionError):
            while data := await server_in.read(65536):
                self.round_trips[link.name or ""] += messages.ready_for_query(data)
                link.client.write(data)
                await link.client.drain()
        if link.cut:
            await link.client_gone.wait()  # the client's side stays open until it sends
        link.client.close()
