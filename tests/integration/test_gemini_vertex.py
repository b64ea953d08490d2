"""GeminiGenerator on Vertex AI (google-genai's vertexai=True), against a local stand-in of
Vertex's REST path: the request's path, credentials and body, offline."""

from __future__ import annotations

from pathlib import Path

from google.oauth2.credentials import Credentials

from casting.adapters.generators.gemini import GeminiGenerator, gemini_client
from casting.domain.ports import GenerationKind, GenerationSpec
from casting.domain.values import Style, Traits
from tests.support import fake_gemini as fake
from tests.support.fake_gemini import FakeGemini

SHEET = GenerationSpec(
    GenerationKind.SHEET, Traits(mood="calm"), Style("s", "S", "s."), Style("i", "I", "i.")
)
VERTEX_PATH = (
    "/v1beta1/projects/studio-prod/locations/europe-west4/publishers/google/models/"
    "gemini-3-pro-image-preview:generateContent"
)


async def draw_on_vertex(fake_gemini: FakeGemini, credentials: Credentials | None = None) -> None:
    async with gemini_client(
        backend="vertex",
        project="studio-prod",
        location="europe-west4",
        credentials=credentials,
        base_url=fake_gemini.base_url,
    ) as client:
        result = await GeminiGenerator(client, model="gemini-3-pro-image-preview").generate(SHEET, [])
    assert result.data == fake.picture()
    assert result.usage.cost_micros > 0


async def test_a_drawing_on_vertex_goes_to_the_projects_publisher_model_path(fake_gemini: FakeGemini) -> None:
    await draw_on_vertex(fake_gemini, Credentials(token="ya29.given-token"))

    assert fake_gemini.paths == [VERTEX_PATH]
    assert fake_gemini.authorizations == ["Bearer ya29.given-token"]
    [body] = fake_gemini.requests
    assert body["generationConfig"]["responseModalities"] == ["IMAGE"]
    assert body["generationConfig"]["imageConfig"] == {"aspectRatio": "9:16"}


async def test_without_credentials_vertex_uses_application_default_credentials(
    fake_gemini: FakeGemini, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(fake.adc_file(tmp_path, fake_gemini)))
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)

    await draw_on_vertex(fake_gemini)

    assert fake_gemini.paths == [VERTEX_PATH]
    assert fake_gemini.authorizations == [f"Bearer {fake.ACCESS_TOKEN}"]
