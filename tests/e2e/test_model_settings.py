"""The model settings as an operator sets them, on `casting serve` processes: Vertex AI with
Application Default Credentials, and an unknown image model refused at start-up."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import grpc

from casting.v1 import casting_pb2 as pb
from casting.v1 import casting_pb2_grpc
from tests.e2e.test_process import run_to_exit, wait_until_serving
from tests.support import fake_gemini as fake
from tests.support.fake_gemini import FakeGemini
from tests.support.ports import free_port


def operator_env(tmp_path: Path, **settings: str) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("CASTING_", "GOOGLE_", "GEMINI_"))
    }
    return env | {
        "CASTING_HOST": "127.0.0.1",
        "CASTING_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'casting.db'}",
        "CASTING_BLOB_URL": f"file://{tmp_path / 'blobs'}",
        "CASTING_CONSOLE_PORT": "0",
        "CASTING_GRACE_PERIOD_SECONDS": "1",
        **settings,
    }


def test_serve_draws_on_vertex_ai_with_application_default_credentials(
    tmp_path: Path, fake_gemini: FakeGemini
) -> None:
    port = free_port()
    env = operator_env(
        tmp_path,
        CASTING_PORT=str(port),
        CASTING_GEMINI_BACKEND="vertex",
        GOOGLE_CLOUD_PROJECT="studio-prod",
        GOOGLE_CLOUD_LOCATION="europe-west4",
        GOOGLE_APPLICATION_CREDENTIALS=str(fake.adc_file(tmp_path, fake_gemini)),
        CASTING_GEMINI_BASE_URL=fake_gemini.base_url,  # Vertex's path, on the stand-in
    )
    with (tmp_path / "server.log").open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "casting.server.cli", "serve"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_serving(port, server)
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            sheet = casting_pb2_grpc.CastingServiceStub(channel).GenerateSheet(
                pb.GenerateSheetRequest(parent="projects/p", story_style="romance", image_style="webtoon"),
                timeout=30,
            )
    finally:
        server.kill()
        server.wait()

    assert (sheet.generation.generator, sheet.generation.model) == ("gemini", "gemini-2.5-flash-image")
    # The drawing, then the judge's look at it: both on Vertex, both with the ADC's token.
    vertex = "/v1beta1/projects/studio-prod/locations/europe-west4/publishers/google/models"
    assert fake_gemini.paths == [
        f"{vertex}/gemini-2.5-flash-image:generateContent",
        f"{vertex}/gemini-2.5-flash:generateContent",
    ]
    assert fake_gemini.authorizations == [f"Bearer {fake.ACCESS_TOKEN}"] * 2


def test_serve_refuses_an_unknown_image_model_naming_its_variable_and_the_known_ones(tmp_path: Path) -> None:
    env = operator_env(
        tmp_path, CASTING_PORT=str(free_port()), GEMINI_API_KEY="k", CASTING_GEMINI_MODEL="imagen-2"
    )
    refused = run_to_exit("serve", env)

    assert refused.returncode == 1
    assert refused.stderr.splitlines() == [
        "casting: CASTING_GEMINI_MODEL: unsupported image model 'imagen-2'; "
        "supported: gemini-2.5-flash-image, gemini-3-pro-image-preview"
    ]
