"""The model is called through the proxy the environment names, as google-genai's own
connections would call it: read once when the client is made (gemini_client)."""

from __future__ import annotations

import base64

import pytest

from tests.integration.test_gemini_generator import SHEET, generator_on
from tests.support import fake_gemini as fake
from tests.support.fake_gemini import FakeGemini
from tests.support.forward_proxy import Forwarded, forward_proxy
from tests.support.ports import free_port

PROXY_VARIABLES = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "no_proxy", "NO_PROXY")
# A name no resolver knows: only a proxy can reach it.
UNRESOLVABLE = "http://gemini.invalid"


@pytest.fixture(autouse=True)
def no_proxy_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


async def draw(base_url: str) -> bytes:
    async with generator_on(base_url, 5, max_attempts=1) as generator:
        return (await generator.generate(SHEET, [])).data


async def test_calls_go_through_the_proxy_with_its_credentials(
    fake_gemini: FakeGemini, monkeypatch: pytest.MonkeyPatch
) -> None:
    with forward_proxy(fake_gemini.base_url) as proxy:
        address = proxy.url.removeprefix("http://")
        monkeypatch.setenv("HTTP_PROXY", f"http://studio:s3cret@{address}")

        drawing = await draw(UNRESOLVABLE)

    assert drawing == fake.picture()
    credentials = base64.b64encode(b"studio:s3cret").decode()
    assert proxy.forwarded == [
        Forwarded(
            f"{UNRESOLVABLE}/v1beta/models/gemini-2.5-flash-image:generateContent", f"Basic {credentials}"
        )
    ]
    assert fake_gemini.authorizations == [None]  # the proxy's credentials went no further


async def test_a_host_no_proxy_names_is_called_directly(
    fake_gemini: FakeGemini, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{free_port()}")  # nothing answers there
    monkeypatch.setenv("no_proxy", "localhost,127.0.0.1")

    assert await draw(fake_gemini.base_url) == fake.picture()
    assert len(fake_gemini.requests) == 1
