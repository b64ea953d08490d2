"""The Node.js example client (examples/node) against the live server: a caller in another
language, with no generated code, runs the whole flow from the contract alone."""

from __future__ import annotations

import asyncio
import hashlib
import json

import pytest

from casting.server.main import RunningServer
from casting.v1 import casting_pb2 as pb
from tests.contract.tools import ROOT, node, run, shown
from tests.support.ports import free_port

CLIENT = ROOT / "examples" / "node" / "casting-client.js"


# The client checks the wire contract; which database is behind the server does not matter.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_node_client_runs_the_flow(server: RunningServer, stub) -> None:
    address = f"127.0.0.1:{server.port}"
    result = await asyncio.to_thread(run, [node(), str(CLIENT), address])
    assert result.returncode == 0, shown(result)
    summary = json.loads(result.stdout)

    assert summary["address"] == address
    assert summary["sheet"]["generator"] == "offline"
    actor = summary["actor"]
    base, look = actor["variants"]
    assert (base["kind"], base["isDefault"], base["name"]) == ("KIND_BASE", True, actor["defaultVariant"])
    assert (look["kind"], look["parentVariant"], look["name"]) == (
        "KIND_DERIVED",
        base["name"],
        summary["look"]["name"],
    )

    # What the client reported is what the server holds, read here through the Python stub.
    served = await stub.GetActor(pb.GetActorRequest(name=actor["name"]))
    assert served.display_name == actor["displayName"] == "Mina"
    image = summary["image"]
    data = b"".join([chunk.data async for chunk in stub.ReadImage(pb.ReadImageRequest(name=image["name"]))])
    assert hashlib.sha256(data).hexdigest() == image["sha256"]
    assert len(data) == image["bytesRead"]
    assert (image["mimeType"], image["width"], image["height"]) == ("image/png", 768, 1344)


async def test_node_client_fails_when_no_server_answers() -> None:
    nowhere = f"127.0.0.1:{free_port()}"  # nothing answers there
    result = await asyncio.to_thread(run, [node(), str(CLIENT), nowhere])
    assert result.returncode == 1, shown(result)
    assert result.stdout == ""
    assert "GenerateSheet failed: UNAVAILABLE" in result.stderr
