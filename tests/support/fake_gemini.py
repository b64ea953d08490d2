"""A local stand-in for Gemini's REST API, so the real google-genai SDK can be tested offline.

It serves `POST /{version}/models/{model}:generateContent` on 127.0.0.1 from a thread (and
Vertex AI's `/{version}/projects/{p}/locations/{l}/publishers/google/models/{model}:generateContent`,
with an OAuth token endpoint, `POST /token`, for Application Default Credentials), records
each request, and answers from a script of `Answer`s (then with a 9:16 PNG).
A request in JSON mode (`responseMimeType: application/json`, a judge's) is answered apart,
from the request's own response schema: every field passing unless a `Verdict` says otherwise.

PYTEST_DONT_REWRITE: test modules import the answer helpers before pytest loads this
module as the plugin that provides the `fake_gemini` fixture.
"""

from __future__ import annotations

import base64
import io
import json
import math
import re
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from PIL import Image

SHEET_SIZE = (768, 1344)
_ROUTE = re.compile(
    r"^/(?P<version>[^/]+)/(?:projects/[^/]+/locations/[^/]+/publishers/google/)?"
    r"models/(?P<model>[^/:]+):generateContent$"
)
# The access token the token endpoint hands out, for an ADC file's signed assertion.
ACCESS_TOKEN = "ya29.stand-in-access-token"
# Output tokens of one image, by model and size, as Google's pricing page counts them.
IMAGE_TOKENS = {
    "gemini-2.5-flash-image": {"1K": 1290},
    "gemini-3-pro-image-preview": {"1K": 1120, "2K": 1120, "4K": 2000},
}
# Input: an image is 258 tokens a 768x768 tile (one tile when both sides are 384 px or less);
# text about 4 characters a token (Gemini's token counting guide).
TILE = 768
TILE_TOKENS = 258


@dataclass(frozen=True, slots=True)
class Answer:
    """One scripted reply: its status and JSON body, sent after `delay` seconds (held: only once
    the test calls FakeGemini.release)."""

    status: int
    body: dict[str, Any]
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    held: bool = False


@cache
def picture(size: tuple[int, int] = SHEET_SIZE, image_format: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (233, 226, 214)).save(buffer, format=image_format)
    return buffer.getvalue()


def _candidate(parts: list[dict[str, Any]], finish_reason: str = "STOP") -> dict[str, Any]:
    return {"content": {"role": "model", "parts": parts}, "finishReason": finish_reason, "index": 0}


def image(data: bytes | None = None, mime_type: str = "image/png", delay: float = 0.0) -> Answer:
    """A sheet, the way Gemini returns one: a text part, then the inline image."""
    inline = {"mimeType": mime_type, "data": base64.b64encode(data or picture()).decode()}
    parts: list[dict[str, Any]] = [{"text": "Here is the sheet."}, {"inlineData": inline}]
    return Answer(200, {"candidates": [_candidate(parts)]}, delay=delay)


def thought_then_image(draft: bytes, final: bytes) -> Answer:
    """How the newer models answer: a draft image marked as a thought, then the drawing."""
    parts: list[dict[str, Any]] = [
        {"text": "Sketching the pose first.", "thought": True},
        {"inlineData": {"mimeType": "image/png", "data": base64.b64encode(draft).decode()}, "thought": True},
        {"inlineData": {"mimeType": "image/png", "data": base64.b64encode(final).decode()}},
    ]
    return Answer(200, {"candidates": [_candidate(parts)]})


def finished(reason: str) -> Answer:
    """A candidate that stopped for `reason` (e.g. IMAGE_SAFETY) without an image."""
    return Answer(200, {"candidates": [_candidate([], reason)]})


def prompt_blocked(reason: str = "SAFETY") -> Answer:
    return Answer(200, {"promptFeedback": {"blockReason": reason}})


def text_only() -> Answer:
    return Answer(200, {"candidates": [_candidate([{"text": "I would rather describe it."}])]})


def no_candidates() -> Answer:
    return Answer(200, {"candidates": []})


def error(code: int, status: str, message: str, details: list[dict[str, Any]] | None = None) -> Answer:
    """A Google API error body (google.rpc.Status as JSON)."""
    body = {"code": code, "message": message, "status": status, "details": details or []}
    return Answer(code, {"error": body})


def quota_exhausted(retry_delay: str | None = "1s", retry_after: str | None = None) -> Answer:
    """A 429 with a RetryInfo detail and, optionally, an HTTP Retry-After header."""
    details = [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": retry_delay}]
    answer = error(429, "RESOURCE_EXHAUSTED", "Quota exceeded.", details if retry_delay else None)
    return replace(answer, headers={"Retry-After": retry_after} if retry_after else {})


def server_error(code: int = 500) -> Answer:
    status = {500: "INTERNAL", 502: "UNAVAILABLE", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}
    return error(code, status[code], "The model is overloaded. Please try again later.")


def invalid_argument(message: str = "Unsupported MIME type: image/gif") -> Answer:
    return error(400, "INVALID_ARGUMENT", message)


def hang(seconds: float) -> Answer:
    """An answer that comes too late for a client whose timeout is shorter than `seconds`."""
    return image(delay=seconds)


def held() -> Answer:
    """A sheet that is sent only when the test calls FakeGemini.release()."""
    return replace(image(), held=True)


@dataclass(frozen=True, slots=True)
class Verdict:
    """A JSON-mode answer built from the request's response schema: booleans true, numbers 1
    (every field "passes"), except the fields named in `overrides`."""

    overrides: dict[str, Any] = field(default_factory=dict)
    delay: float = 0.0

    def answer(self, request: dict[str, Any]) -> Answer:
        config = request.get("generationConfig") or {}
        schema = config.get("responseSchema") or config.get("responseJsonSchema") or {}
        document = {name: _passing(kind) for name, kind in (schema.get("properties") or {}).items()}
        document.update(self.overrides)
        parts = [{"text": json.dumps(document)}]
        return Answer(200, {"candidates": [_candidate(parts)]}, delay=self.delay)


def verdict(delay: float = 0.0, **overrides: Any) -> Verdict:
    return Verdict(overrides, delay)


def _passing(schema: dict[str, Any]) -> Any:
    kind = str(schema.get("type", "")).lower()
    return {"boolean": True, "number": 1.0, "integer": 1, "string": ""}.get(kind)


def _json_mode(body: dict[str, Any]) -> bool:
    return (body.get("generationConfig") or {}).get("responseMimeType") == "application/json"


class FakeGemini:
    """The server. `requests` holds each request's JSON body, `paths` its URL path,
    `authorizations` its Authorization header (or None); `judging` answers JSON-mode requests
    once `judge()`'s script is used up."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.authorizations: list[str | None] = []
        self.judging: Verdict | Answer = Verdict()
        self.image_delay = 0.0  # how long the default sheet takes (a benchmark's model latency)
        self._verdicts: deque[Verdict | Answer] = deque()
        self.peak_in_flight = 0
        self._in_flight = 0
        self._answers: deque[Answer] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._released = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def script(self, *answers: Answer) -> None:
        """Answers the next requests with these, in order; later ones get the default sheet."""
        with self._lock:
            self._answers.extend(answers)

    def judge(self, *answers: Verdict | Answer) -> None:
        """Answers the next JSON-mode (judge) requests with these, in order."""
        with self._lock:
            self._verdicts.extend(answers)

    @property
    def image_requests(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r for r in self.requests if not _json_mode(r)]

    @property
    def judge_requests(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r for r in self.requests if _json_mode(r)]

    def start(self) -> None:
        self._thread.start()

    def release(self) -> None:
        """Sends the held answers, and any held answer from now on at once."""
        self._released.set()

    def stop(self) -> None:
        self._stopping.set()  # wakes the handlers still delaying an answer
        self._released.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def _receive(self, path: str, body: dict[str, Any], authorization: str | None) -> Answer:
        with self._lock:
            self.authorizations.append(authorization)
            self.paths.append(path)
            self.requests.append(body)
            self._in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self._in_flight)
            if _json_mode(body):
                scripted = self._verdicts.popleft() if self._verdicts else self.judging
                answer = scripted.answer(body) if isinstance(scripted, Verdict) else scripted
            else:
                answer = self._answers.popleft() if self._answers else image(delay=self.image_delay)
        return with_usage(answer, path, body)

    def _done(self) -> None:
        with self._lock:
            self._in_flight -= 1


def with_usage(answer: Answer, path: str, request: dict[str, Any]) -> Answer:
    """The answer with the usageMetadata Gemini would send for this request, unless it has one
    or is an error (errors report no usage and are not billed)."""
    if answer.status != 200 or "usageMetadata" in answer.body:
        return answer
    model = path.rsplit("/", 1)[-1].split(":")[0]
    prompt = sum(_input_tokens(part) for content in request.get("contents", []) for part in content["parts"])
    size = request.get("generationConfig", {}).get("imageConfig", {}).get("imageSize") or "1K"
    image_tokens = IMAGE_TOKENS.get(model, {}).get(size, 1290)
    images = text = thoughts = 0
    for candidate in answer.body.get("candidates", []):
        for part in candidate.get("content", {}).get("parts", []):
            tokens = image_tokens if "inlineData" in part else math.ceil(len(part.get("text", "")) / 4)
            if part.get("thought"):
                thoughts += tokens
            elif "inlineData" in part:
                images += tokens
            else:
                text += tokens
    usage: dict[str, Any] = {
        "promptTokenCount": prompt,
        "candidatesTokenCount": images + text,
        "totalTokenCount": prompt + images + text + thoughts,
    }
    if images + text:
        usage["candidatesTokensDetails"] = [
            {"modality": modality, "tokenCount": count}
            for modality, count in (("IMAGE", images), ("TEXT", text))
            if count
        ]
    if thoughts:
        usage["thoughtsTokenCount"] = thoughts
    return replace(answer, body=answer.body | {"usageMetadata": usage})


def _input_tokens(part: dict[str, Any]) -> int:
    if "text" in part:
        return math.ceil(len(part["text"]) / 4)
    if "inlineData" in part:
        data = base64.urlsafe_b64decode(part["inlineData"]["data"].replace("+", "-").replace("/", "_"))
        width, height = Image.open(io.BytesIO(data)).size
        if width <= TILE / 2 and height <= TILE / 2:
            return TILE_TOKENS
        return math.ceil(width / TILE) * math.ceil(height / TILE) * TILE_TOKENS
    return 0


def _handler_for(fake: FakeGemini) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            if self.path == "/token":  # OAuth 2.0: a refresh token for an access token
                self.rfile.read(length)
                self._reply(
                    Answer(200, {"access_token": ACCESS_TOKEN, "expires_in": 3600, "token_type": "Bearer"})
                )
                return
            if not _ROUTE.match(self.path):
                self._reply(Answer(404, {"error": {"code": 404, "status": "NOT_FOUND"}}))
                return
            body = json.loads(self.rfile.read(length))
            answer = fake._receive(self.path, body, self.headers.get("Authorization"))
            try:
                if answer.held:
                    fake._released.wait()
                fake._stopping.wait(answer.delay)
                self._reply(answer)
            except OSError:
                pass  # the client gave up first (its timeout is what a hang tests)
            finally:
                fake._done()

        def _reply(self, answer: Answer) -> None:
            payload = json.dumps(answer.body).encode()
            self.send_response(answer.status)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keeps test output to the tests

    return Handler


def adc_file(directory: Path, fake: FakeGemini) -> Path:
    """Application Default Credentials (a service account key file, a throwaway key) whose
    token endpoint is the stand-in, for GOOGLE_APPLICATION_CREDENTIALS."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path = directory / "service-account.json"
    credentials = {
        "type": "service_account",
        "project_id": "studio-prod",
        "private_key_id": "stand-in",
        "private_key": pem.decode(),
        "client_email": "casting@studio-prod.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": f"{fake.base_url}/token",
    }
    path.write_text(json.dumps(credentials))
    return path


@pytest.fixture
def fake_gemini() -> Iterator[FakeGemini]:
    server = FakeGemini()
    server.start()
    try:
        yield server
    finally:
        server.stop()
