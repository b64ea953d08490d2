"""An HTTP forward proxy on 127.0.0.1 that sends every request it is asked to forward to one
upstream, whatever host the request names (so a test can name a host that does not resolve),
and records what it was asked: the absolute URL and the Proxy-Authorization it came with."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


@dataclass(frozen=True, slots=True)
class Forwarded:
    url: str
    proxy_authorization: str | None


@dataclass(frozen=True)
class ForwardProxy:
    url: str
    forwarded: list[Forwarded] = field(default_factory=list)


@contextmanager
def forward_proxy(upstream: str) -> Iterator[ForwardProxy]:
    """A proxy forwarding to `upstream` (an http:// URL) while the block runs."""
    target = urlsplit(upstream)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            proxy.forwarded.append(Forwarded(self.path, self.headers.get("Proxy-Authorization")))
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = {k: v for k, v in self.headers.items() if not k.lower().startswith("proxy-")}
            connection = http.client.HTTPConnection(target.hostname or "", target.port, timeout=30)
            try:
                path = urlsplit(self.path)._replace(scheme="", netloc="").geturl()
                connection.request("POST", path, body, headers)
                answer = connection.getresponse()
                payload = answer.read()
            finally:
                connection.close()
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.getheader("Content-Type", "application/json"))
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    proxy = ForwardProxy(f"http://127.0.0.1:{server.server_address[1]}")  # what Handler records into
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
