"""Every project-scoped RPC the server serves, called with a token for another project, is
PERMISSION_DENIED, and leaves the project as it was. The table below must name every method: a
new RPC without its cases fails here, as does an auth table (src/casting/server/auth.py, _NAMES)
that forgets one of a method's resource names."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from google.longrunning import operations_pb2, operations_pb2_grpc
from google.protobuf import descriptor_pool, duration_pb2, field_mask_pb2
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from grpc_health.v1 import health
from grpc_reflection.v1alpha import reflection, reflection_pb2, reflection_pb2_grpc

from casting.v1 import casting_pb2 as pb
from casting.v1 import casting_pb2_grpc
from tests.e2e.test_auth import bearer, serving, token_file
from tests.e2e.test_flow import TRAITS, encoded

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

OWNER, INTRUDER = "owner-token", "intruder-token"
A, B = "projects/studio-1", "projects/studio-2"  # A belongs to OWNER; INTRUDER may use B only
# Open to any caller, and naming no project.
OPEN_SERVICES = {health.SERVICE_NAME, reflection.SERVICE_NAME}


@dataclass(frozen=True)
class World:
    """What a project holds: names the cases point at."""

    story: str
    sheet: str
    actor: str
    variant: str  # the actor's default look
    look: str  # a second look, cast in `story`, which could be deleted
    image: str
    operation: str  # a story casting, finished


async def build(channel: grpc.aio.Channel, project: str, token: str) -> World:
    stub = casting_pb2_grpc.CastingServiceStub(channel)
    auth = {"metadata": bearer(token)}
    story = f"{project}/stories/pilot"

    async def sheet() -> pb.Sheet:
        request = pb.GenerateSheetRequest(parent=project, story_style="romance", image_style="webtoon")
        return await stub.GenerateSheet(request, **auth)

    saved = await stub.SaveActor(
        pb.SaveActorRequest(parent=project, sheet=(await sheet()).name, display_name="Mina"), **auth
    )
    look = await stub.BranchVariant(
        pb.BranchVariantRequest(
            base_variant=saved.default_variant, trait_changes=pb.TraitChanges(mood="wary"), story=story
        ),
        **auth,
    )
    await stub.CastVariant(pb.CastVariantRequest(variant=look.name, story=story), **auth)
    casting = await stub.CastStory(
        pb.CastStoryRequest(
            story=f"{project}/stories/sequel", roles=[pb.CastingCall(role="Lead", actor=saved.name)]
        ),
        **auth,
    )
    wait = operations_pb2.WaitOperationRequest(name=casting.name, timeout=duration_pb2.Duration(seconds=60))
    assert (await operations_pb2_grpc.OperationsStub(channel).WaitOperation(wait, **auth)).done
    return World(
        story,
        (await sheet()).name,
        saved.name,
        saved.default_variant,
        look.name,
        look.images[0].name,
        casting.name,
    )


Case = Callable[[World, World], Message]  # (the foreign world, the intruder's own) -> request
MASK = field_mask_pb2.FieldMask(paths=["display_name"])
CHANGES = pb.TraitChanges(mood="sly")

# Per method, one request per resource name it carries: that name in the foreign project, every
# other name in the intruder's own, so that each name must be checked on its own. An empty list:
# the method names no project (any token may call it).
CASES: dict[str, list[Case]] = {
    "/casting.v1.CastingService/ListStyles": [],
    "/casting.v1.CastingService/GenerateSheet": [
        lambda a, b: pb.GenerateSheetRequest(parent=A, story_style="romance", image_style="webtoon"),
    ],
    "/casting.v1.CastingService/GenerateSheets": [
        lambda a, b: pb.GenerateSheetsRequest(parent=A, story_style="romance", image_style="webtoon"),
        lambda a, b: pb.GenerateSheetsRequest(parent=B, base_variant=a.variant, trait_changes=CHANGES),
        lambda a, b: pb.GenerateSheetsRequest(
            parent=B, base_variant=b.variant, trait_changes=CHANGES, story=a.story
        ),
    ],
    "/casting.v1.CastingService/GetSheet": [lambda a, b: pb.GetSheetRequest(name=a.sheet)],
    "/casting.v1.CastingService/SaveActor": [
        lambda a, b: pb.SaveActorRequest(parent=A, sheet=b.sheet, display_name="Thief"),
        lambda a, b: pb.SaveActorRequest(parent=B, sheet=a.sheet, display_name="Thief"),
    ],
    "/casting.v1.CastingService/ImportActor": [
        lambda a, b: pb.ImportActorRequest(
            parent=A, image_content=encoded("PNG"), display_name="Thief", traits=TRAITS
        ),
    ],
    "/casting.v1.CastingService/GetActor": [
        lambda a, b: pb.GetActorRequest(name=a.actor),
        lambda a, b: pb.GetActorRequest(name=b.actor, story=a.story),
    ],
    "/casting.v1.CastingService/ListActors": [lambda a, b: pb.ListActorsRequest(parent=A)],
    "/casting.v1.CastingService/UpdateActor": [
        lambda a, b: pb.UpdateActorRequest(
            actor=pb.Actor(name=a.actor, display_name="Thief"), update_mask=MASK
        ),
    ],
    "/casting.v1.CastingService/DeleteActor": [lambda a, b: pb.DeleteActorRequest(name=a.actor)],
    "/casting.v1.CastingService/BranchVariant": [
        lambda a, b: pb.BranchVariantRequest(base_variant=a.variant, trait_changes=CHANGES),
        lambda a, b: pb.BranchVariantRequest(base_variant=b.variant, trait_changes=CHANGES, story=a.story),
        lambda a, b: pb.BranchVariantRequest(base_variant=b.variant, sheet=a.sheet),
    ],
    "/casting.v1.CastingService/GetVariant": [lambda a, b: pb.GetVariantRequest(name=a.look)],
    "/casting.v1.CastingService/UpdateVariant": [
        lambda a, b: pb.UpdateVariantRequest(
            variant=pb.Variant(name=a.look, display_name="Thief"), update_mask=MASK
        ),
    ],
    "/casting.v1.CastingService/DeleteVariant": [lambda a, b: pb.DeleteVariantRequest(name=a.look)],
    "/casting.v1.CastingService/CastVariant": [
        lambda a, b: pb.CastVariantRequest(variant=a.variant, story=b.story),
        lambda a, b: pb.CastVariantRequest(variant=b.variant, story=a.story),
    ],
    "/casting.v1.CastingService/ListStoryCast": [lambda a, b: pb.ListStoryCastRequest(parent=a.story)],
    "/casting.v1.CastingService/ReadImage": [lambda a, b: pb.ReadImageRequest(name=a.image)],
    # A role's actor is looked up in the story's project only (not found elsewhere): the story
    # is the name auth checks.
    "/casting.v1.CastingService/CastStory": [
        lambda a, b: pb.CastStoryRequest(
            story=a.story,
            roles=[pb.CastingCall(role="Thief", traits=TRAITS, story_style="romance", image_style="webtoon")],
        ),
    ],
    "/google.longrunning.Operations/GetOperation": [
        lambda a, b: operations_pb2.GetOperationRequest(name=a.operation)
    ],
    "/google.longrunning.Operations/ListOperations": [
        lambda a, b: operations_pb2.ListOperationsRequest(name=f"{A}/operations")
    ],
    "/google.longrunning.Operations/WaitOperation": [
        lambda a, b: operations_pb2.WaitOperationRequest(name=a.operation)
    ],
    "/google.longrunning.Operations/CancelOperation": [
        lambda a, b: operations_pb2.CancelOperationRequest(name=a.operation)
    ],
    "/google.longrunning.Operations/DeleteOperation": [
        lambda a, b: operations_pb2.DeleteOperationRequest(name=a.operation)
    ],
}


@pytest.fixture
async def guarded(container, tmp_path: Path) -> AsyncIterator[grpc.aio.Channel]:
    tokens = tmp_path / "tokens.json"
    token_file(tokens, (OWNER, ["studio-1"]), (INTRUDER, ["studio-2"]))
    async with (
        serving(container, auth_tokens_file=str(tokens)) as live,
        grpc.aio.insecure_channel(f"127.0.0.1:{live.port}") as channel,
    ):
        yield channel


async def served_methods(channel: grpc.aio.Channel) -> dict[str, MethodDescriptor]:
    """Every method of every service the server says it serves, by path; health and reflection
    aside."""
    answers = reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")])
    )
    services = [s.name async for answer in answers for s in answer.list_services_response.service]
    return {
        f"/{service}/{method.name}": method
        for service in services
        if service not in OPEN_SERVICES
        for method in descriptor_pool.Default().FindServiceByName(service).methods
    }


async def call(
    channel: grpc.aio.Channel, path: str, method: MethodDescriptor, request: Message
) -> grpc.StatusCode:
    """How the intruder's call ended, read to the end when it streams."""
    options = {
        "request_serializer": type(request).SerializeToString,
        "response_deserializer": GetMessageClass(method.output_type).FromString,
    }
    try:
        if method.server_streaming:
            [_ async for _ in channel.unary_stream(path, **options)(request, metadata=bearer(INTRUDER))]
        else:
            await channel.unary_unary(path, **options)(request, metadata=bearer(INTRUDER))
    except grpc.aio.AioRpcError as error:
        return error.code()
    return grpc.StatusCode.OK


async def snapshot(channel: grpc.aio.Channel, world: World) -> list[Message]:
    """Everything the owner can read of their project."""
    stub = casting_pb2_grpc.CastingServiceStub(channel)
    auth = {"metadata": bearer(OWNER)}
    chunks = stub.ReadImage(pb.ReadImageRequest(name=world.image), **auth)
    operation = operations_pb2.GetOperationRequest(name=world.operation)
    return [
        await stub.ListActors(pb.ListActorsRequest(parent=A), **auth),
        await stub.GetActor(pb.GetActorRequest(name=world.actor, story=world.story), **auth),
        await stub.ListStoryCast(pb.ListStoryCastRequest(parent=world.story), **auth),
        await stub.GetSheet(pb.GetSheetRequest(name=world.sheet), **auth),
        await operations_pb2_grpc.OperationsStub(channel).GetOperation(operation, **auth),
        *[chunk async for chunk in chunks],
    ]


async def test_a_token_for_another_project_is_refused_by_every_method(guarded) -> None:
    served = await served_methods(guarded)
    missing = sorted(set(served) - set(CASES))
    assert not missing, (
        f"no isolation cases for {missing}: add each to CASES in {__file__}, with one request per "
        "resource name it carries (that name in project A, the others in B), or [] if it names no "
        "project; and give it its names in _NAMES in src/casting/server/auth.py"
    )
    foreign, own = await build(guarded, A, OWNER), await build(guarded, B, INTRUDER)
    before = await snapshot(guarded, foreign)

    let_through = []
    for path, method in served.items():
        for index, case in enumerate(CASES[path]):
            code = await call(guarded, path, method, case(foreign, own))
            if code != grpc.StatusCode.PERMISSION_DENIED:
                let_through.append(f"{path} case {index}: {code.name}")
        if not CASES[path]:  # names no project: any token may call it
            empty = GetMessageClass(method.input_type)()
            assert await call(guarded, path, method, empty) == grpc.StatusCode.OK, path
    assert not let_through, f"a token for {B} reached {A} through: {let_through}"
    assert await snapshot(guarded, foreign) == before, "a refused call changed the project"
