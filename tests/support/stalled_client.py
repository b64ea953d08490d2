"""A raw HTTP/2 client (the h2 library) that opens gRPC calls and never reads their answers: it
grants the server a window of zero bytes per stream, as a client that stopped reading does.
Blocking; tests call it from a thread (asyncio.to_thread) while the server runs on the loop."""

from __future__ import annotations

import socket
import struct

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.settings
from google.protobuf.message import Message

GRPC_HEADERS = [("content-type", "application/grpc"), ("te", "trailers")]


class StalledClient:
    """One connection; `settings` holds the server's SETTINGS."""

    def __init__(self, port: int) -> None:
        self._authority = f"127.0.0.1:{port}"
        self._socket = socket.create_connection(("127.0.0.1", port))
        self._h2 = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        self._h2.initiate_connection()
        self._h2.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 0})
        self._flush()
        self.settings: dict[int, int] = {}
        while not self.settings:
            self._receive()

    def call(self, method: str, request: Message) -> int:
        """Starts a unary-request call (e.g. "/casting.v1.CastingService/ReadImage"); its stream id."""
        stream = self._h2.get_next_available_stream_id()
        headers = [
            (":method", "POST"),
            (":scheme", "http"),
            (":path", method),
            (":authority", self._authority),
        ]
        self._h2.send_headers(stream, headers + GRPC_HEADERS)
        body = request.SerializeToString()
        self._h2.send_data(stream, struct.pack(">BI", 0, len(body)) + body, end_stream=True)
        self._flush()
        return stream

    def cancel(self, stream: int) -> None:
        """What a gRPC client sends when its caller cancels: RST_STREAM with CANCEL."""
        self._h2.reset_stream(stream, h2.errors.ErrorCodes.CANCEL)
        self._flush()

    def close(self) -> None:
        self._socket.close()

    def _receive(self) -> None:
        data = self._socket.recv(65536)
        if not data:
            raise ConnectionError("the server closed the connection")
        for event in self._h2.receive_data(data):
            if isinstance(event, h2.events.RemoteSettingsChanged):
                self.settings.update(
                    {code: changed.new_value for code, changed in event.changed_settings.items()}
                )
        self._flush()

    def _flush(self) -> None:
        self._socket.sendall(self._h2.data_to_send())
