"""Reading a generateContent answer's JSON: the image's base64 as protobuf's JSON may send it."""

from __future__ import annotations

import base64
import json

import pytest

from casting.adapters.generators.gemini_answers import read_answer

# Bytes whose base64 holds both characters the two alphabets differ in ("+/" and "-_"), and
# needs padding.
IMAGE = b"\x89PNG\xfb\xff\xbf" + bytes(range(256))


def answer(*parts: dict[str, object]) -> str:
    return json.dumps({"candidates": [{"content": {"parts": list(parts)}, "finishReason": "STOP"}]})


def inline(data: str, *, thought: bool = False) -> dict[str, object]:
    return {"inlineData": {"mimeType": "image/png", "data": data}, "thought": thought}


@pytest.mark.parametrize(
    "encoded",
    [
        base64.b64encode(IMAGE).decode(),
        base64.urlsafe_b64encode(IMAGE).decode(),
        base64.b64encode(IMAGE).decode().rstrip("="),
        base64.urlsafe_b64encode(IMAGE).decode().rstrip("="),
    ],
    ids=["standard", "url-safe", "standard unpadded", "url-safe unpadded"],
)
def test_the_image_reads_in_either_alphabet_padded_or_not(encoded: str) -> None:
    read = read_answer(answer({"text": "Here is the sheet."}, inline(encoded)))
    assert read.image is not None
    assert (read.image.data, read.image.mime_type) == (IMAGE, "image/png")


def test_a_draft_sent_as_a_thought_is_not_the_drawing() -> None:
    draft = base64.b64encode(b"draft").decode()
    final = base64.b64encode(IMAGE).decode()
    read = read_answer(answer(inline(draft, thought=True), inline(final)))
    assert read.image is not None and read.image.data == IMAGE


def test_data_that_is_not_base64_is_refused_not_read_as_an_image() -> None:
    with pytest.raises(ValueError):
        read_answer(answer(inline("not base64 at all!")))
