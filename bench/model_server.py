"""A stand-in for Gemini's REST endpoint in its own process, for the real google-genai client
to call over HTTP: every `generateContent` is answered after a fixed latency with a sheet the
size Gemini returns (a ~1.6 MB PNG, ~2.2 MB as base64 in JSON), stamped per call so that every
blob the service stores is new.

Its own work (stamping and encoding an answer) is done before the wait, so that it does not land
on the machine's cores at the moment the service parses the answers."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import count
from multiprocessing import get_context

from aiohttp import web

from bench.harness import stamped


class Answers:
    """Gemini's JSON answer around a stamped PNG, without re-encoding the whole image per call."""

    def __init__(self, png: bytes) -> None:
        # Base64 of the part before a multiple of 3 bytes is the same for every stamp: encode it once.
        self._cut = (len(png) - 12) // 3 * 3
        self._png = png
        self._head = base64.b64encode(png[: self._cut])
        self._stamps = count()

    def next(self) -> bytes:
        tail = base64.b64encode(stamped(self._png, next(self._stamps))[self._cut :])
        inline = b'{"mimeType": "image/png", "data": "' + self._head + tail + b'"}'
        usage = json.dumps({"promptTokenCount": 300, "candidatesTokenCount": 1290, "totalTokenCount": 1590})
        return b"".join(
            (
                b'{"candidates": [{"content": {"role": "model", "parts": [{"inlineData": ',
                inline,
                b'}]}, "finishReason": "STOP", "index": 0}], "usageMetadata": ',
                usage.encode(),
                b', "modelVersion": "stand-in"}',
            )
        )


def serve(png: bytes, latency_seconds: float, ready: object, port_box: object) -> None:
    """The process's body: serve until killed."""
    answers = Answers(png)

    async def generate(request: web.Request) -> web.Response:
        await request.read()
        body = answers.next()
        await asyncio.sleep(latency_seconds)
        return web.Response(body=body, content_type="application/json")

    async def main() -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/{version}/models/{model}:generateContent", generate)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        listener = socket.create_server(("127.0.0.1", 0), backlog=1024)
        await web.SockSite(runner, listener).start()
        port_box.value = listener.getsockname()[1]  # type: ignore[attr-defined]
        ready.set()  # type: ignore[attr-defined]
        await asyncio.Event().wait()

    asyncio.run(main())


@contextmanager
def model_server(png: bytes, latency_seconds: float) -> Iterator[str]:
    """The stand-in's base URL while the block runs."""
    context = get_context("spawn")
    ready, port_box = context.Event(), context.Value("i", 0)
    process = context.Process(target=serve, args=(png, latency_seconds, ready, port_box), daemon=True)
    process.start()
    try:
        if not ready.wait(60):
            raise RuntimeError("the model stand-in did not start")
        yield f"http://127.0.0.1:{port_box.value}"
    finally:
        process.terminate()
        process.join()
