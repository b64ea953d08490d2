"""A stand-in for Gemini's REST endpoint in its own process, for the real google-genai client
to call over HTTP: every `generateContent` is answered after a fixed latency with a sheet the
size Gemini returns (bench.harness.sheet_png: ~1.5 MB, ~2 MB as base64 in JSON), stamped per
call so that every blob the service stores is new.

Gemini's own work is not on this machine's cores, so the stand-in's is kept small: each answer's
few own bytes are made before the wait, and the rest is written from one shared buffer. A call to
the judge's model (verification on) is answered, after the same latency, with one verdict that
passes every check, built once; its request is read, not parsed."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import count
from multiprocessing import get_context

import aiohttp
from aiohttp import web

from bench.harness import stamped
from casting.adapters.judges.gemini import DEFAULT_MODEL as JUDGE_MODEL
from casting.adapters.judges.gemini import Verdict
from tests.support import fake_gemini

SEND_BUFFER_BYTES = 4 * 1024 * 1024


class Answers:
    """Gemini's JSON answer around a stamped PNG, as the pieces to send: the same leading bytes
    for every answer (built once), then a short tail of its own. Only the stamp's few bytes are
    encoded per call, and no multi-megabyte string is copied: the stand-in's CPU is on this
    machine's cores, Gemini's is not."""

    def __init__(self, png: bytes) -> None:
        # Base64 of the part before a multiple of 3 bytes is the same for every stamp.
        self._cut = (len(png) - 12) // 3 * 3
        self._png = png
        self._head = (
            b'{"candidates": [{"content": {"role": "model", "parts": [{"inlineData": '
            b'{"mimeType": "image/png", "data": "' + base64.b64encode(png[: self._cut])
        )
        usage = json.dumps({"promptTokenCount": 300, "candidatesTokenCount": 1290, "totalTokenCount": 1590})
        self._end = b'"}}]}, "finishReason": "STOP", "index": 0}], "usageMetadata": ' + usage.encode()
        self._end += b', "modelVersion": "stand-in"}'
        self._stamps = count()

    def next(self) -> tuple[bytes, bytes]:
        """The shared head and this answer's tail; together, one answer's JSON."""
        tail = stamped(self._png[self._cut :], next(self._stamps))
        return self._head, base64.b64encode(tail) + self._end


def passing_verdict() -> bytes:
    """The judge's answer that passes every check of its response schema, as the tests' stand-in
    answers a judge's request for that schema."""
    request = {"generationConfig": {"responseSchema": Verdict.model_json_schema()}}
    return json.dumps(fake_gemini.verdict().answer(request).body).encode()


def serve(png: bytes, latency_seconds: float, ready: object, port_box: object) -> None:
    """The process's body: serve until killed."""
    answers = Answers(png)
    verdict = passing_verdict()

    async def generate(request: web.Request) -> web.StreamResponse:
        await request.read()
        if request.match_info["model"] == JUDGE_MODEL:
            await asyncio.sleep(latency_seconds)
            return web.Response(body=verdict, content_type="application/json")
        head, tail = answers.next()
        await asyncio.sleep(latency_seconds)
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.content_length = len(head) + len(tail)
        await response.prepare(request)
        await response.write(head)
        await response.write(tail)
        await response.write_eof()
        return response

    async def main() -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/{version}/models/{model}:generateContent", generate)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        listener = socket.create_server(("127.0.0.1", 0), backlog=1024)
        # A send buffer that takes a whole answer in one send: Python 3.11's transports copy what
        # the socket does not take and move the rest down after every partial send.
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)
        await web.SockSite(runner, listener).start()
        port_box.value = listener.getsockname()[1]  # type: ignore[attr-defined]
        ready.set()  # type: ignore[attr-defined]
        await asyncio.Event().wait()

    asyncio.run(main())


async def fetch_answer(session: aiohttp.ClientSession, base_url: str) -> bytes:
    """One answer's JSON from the stand-in at `base_url`, fetched by a bare client (no SDK)."""
    async with session.post(
        f"{base_url}/v1beta/models/stand-in:generateContent", json={"contents": []}
    ) as response:
        return await response.read()


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
