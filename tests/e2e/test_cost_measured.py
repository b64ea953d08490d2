"""The README's Cost section, measured: the README flow's sheet and look drawn with the default
models against the stand-in of Gemini (which answers usage_metadata as Google counts tokens),
with verification off (the drawings alone) and on (the default: each judged once), and each row
of the README's measured table checked against the usage the service recorded."""

from __future__ import annotations

import re
from pathlib import Path

import grpc
import pytest

from casting.server.container import Container
from casting.server.main import running
from casting.v1 import casting_pb2 as pb
from casting.v1 import casting_pb2_grpc
from tests.e2e.conftest import drawing_with_gemini
from tests.e2e.test_flow import TRAITS, P
from tests.support.fake_gemini import FakeGemini

README = Path(__file__).resolve().parents[2] / "README.md"
# The README flow's look (its buf curl block; test_flow's traits are its sheet's).
CHANGES = pb.TraitChanges(outfit="red winter coat", mood="wistful")
ROWS = {"off": ("a sheet", "a look"), "on": ("a verified sheet", "a verified look")}


def measured_rows() -> dict[str, tuple[int, int, int, str]]:
    """The README's measured table: result → (model calls, tokens in, tokens out, cost)."""
    section = README.read_text().split("**Measured**", 1)[1].split("\n\n", 2)[1]
    rows = {}
    for line in section.splitlines()[2:]:
        result, calls, tokens_in, tokens_out, cost = (cell.strip() for cell in line.strip("|").split("|"))
        rows[result] = (int(calls), int(tokens_in.replace(",", "")), int(tokens_out.replace(",", "")), cost)
    return rows


def as_row(usage: pb.Usage) -> tuple[int, int, int, str]:
    return (usage.model_calls, usage.input_tokens, usage.output_tokens, f"${usage.cost_micros / 1e6:.6f}")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("verify", ["off", "on"])
async def test_the_readme_states_what_a_sheet_and_a_look_cost(
    container: Container, fake_gemini: FakeGemini, verify: str
) -> None:
    drawing_with_gemini(container, fake_gemini, verify=verify)
    async with running(container) as live, grpc.aio.insecure_channel(f"127.0.0.1:{live.port}") as channel:
        stub = casting_pb2_grpc.CastingServiceStub(channel)
        sheet = await stub.GenerateSheet(
            pb.GenerateSheetRequest(parent=P, story_style="romance", image_style="webtoon", traits=TRAITS)
        )
        actor = await stub.SaveActor(pb.SaveActorRequest(parent=P, sheet=sheet.name, display_name="Mina"))
        winter = pb.BranchVariantRequest(
            base_variant=actor.default_variant, display_name="Winter", trait_changes=CHANGES
        )
        look = await stub.BranchVariant(winter)

    rows = measured_rows()
    sheet_row, look_row = ROWS[verify]
    assert rows[sheet_row] == as_row(sheet.generation.usage)
    assert rows[look_row] == as_row(look.generation.usage)
    assert sheet.generation.verification.passed == look.generation.verification.passed == (verify == "on")
    assert re.fullmatch(r"\$0\.0\d{5}", rows[sheet_row][3])
