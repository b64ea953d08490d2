"""CastStory over a real channel, its operations polled by google-api-core's stock client (the
proof that the server speaks google.longrunning, not a look-alike)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest
from google.api_core import exceptions, operation, operations_v1
from google.longrunning import operations_pb2, operations_pb2_grpc
from google.protobuf import duration_pb2
from google.rpc import code_pb2

from casting.server.container import Container
from casting.server.main import RunningServer, running
from casting.v1 import casting_pb2 as pb
from casting.v1 import casting_pb2_grpc
from tests.e2e.conftest import drawing_with_gemini
from tests.support.fake_gemini import FakeGemini, held
from tests.support.waiting import until

P = "projects/studio-1"
STORY = f"{P}/stories/episode-7"
TRAITS = pb.Traits(gender=pb.GENDER_FEMALE, age_range=pb.AGE_RANGE_TEEN, hair_traits="short black bob")


def new_role(role: str, **traits: object) -> pb.CastingCall:
    return pb.CastingCall(
        role=role,
        traits=pb.Traits(**traits) if traits else TRAITS,
        story_style="romance",
        image_style="webtoon",
    )


async def make_actor(stub, name: str) -> pb.Actor:
    sheet = await stub.GenerateSheet(
        pb.GenerateSheetRequest(parent=P, story_style="romance", image_style="webtoon", traits=TRAITS)
    )
    return await stub.SaveActor(pb.SaveActorRequest(parent=P, sheet=sheet.name, display_name=name))


def stock_result(port: int, name: str) -> tuple[pb.CastStoryResponse, pb.CastStoryMetadata]:
    """Polls the operation to its end the way generated Google clients do."""
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        client = operations_v1.OperationsClient(channel)
        future = operation.from_gapic(
            client.get_operation(name), client, pb.CastStoryResponse, metadata_type=pb.CastStoryMetadata
        )
        response = future.result(timeout=60)
        return response, future.metadata


@pytest.fixture
def operations(channel: grpc.aio.Channel) -> operations_pb2_grpc.OperationsStub:
    return operations_pb2_grpc.OperationsStub(channel)


async def test_a_story_is_cast_in_one_call(server: RunningServer, stub) -> None:
    hero = await make_actor(stub, "Mina")
    mentor = await make_actor(stub, "Old Jun")
    started = await stub.CastStory(
        pb.CastStoryRequest(
            story=STORY,
            roles=[
                new_role("Rival", hair_traits="long red hair"),
                pb.CastingCall(
                    role="Heroine", actor=hero.name, trait_changes=pb.TraitChanges(outfit="armour")
                ),
                pb.CastingCall(role="Mentor", actor=mentor.name),
            ],
        )
    )
    assert started.name.startswith(f"{P}/operations/")

    response, metadata = await asyncio.to_thread(stock_result, server.port, started.name)

    assert (metadata.roles_total, metadata.roles_done, list(metadata.failed)) == (3, 3, [])
    by_role = {member.role: member for member in response.cast}
    assert set(by_role) == {"Rival", "Heroine", "Mentor"}
    assert by_role["Rival"].actor_display_name == "Rival"
    assert by_role["Rival"].variant.kind == pb.Variant.KIND_BASE
    heroine = by_role["Heroine"].variant
    assert (by_role["Heroine"].actor, heroine.kind, heroine.story) == (
        hero.name,
        pb.Variant.KIND_DERIVED,
        STORY,
    )
    assert heroine.traits.outfit == "armour"
    assert by_role["Mentor"].variant.name == mentor.default_variant
    cast = await stub.ListStoryCast(pb.ListStoryCastRequest(parent=STORY))
    assert {m.variant.name for m in cast.cast} == {m.variant.name for m in response.cast}


async def test_a_failing_role_is_named_and_the_others_complete(server: RunningServer, stub) -> None:
    hero = await make_actor(stub, "Mina")
    started = await stub.CastStory(
        pb.CastStoryRequest(
            story=STORY,
            # The same style as her look and no change: nothing to branch, so this role fails.
            roles=[pb.CastingCall(role="Heroine", actor=hero.name, story_style="romance"), new_role("Rival")],
        )
    )

    response, metadata = await asyncio.to_thread(stock_result, server.port, started.name)

    assert [m.role for m in response.cast] == ["Rival"]
    assert metadata.roles_done == 2
    [failed] = metadata.failed
    assert failed.role == "Heroine"
    assert failed.status.code == code_pb2.INVALID_ARGUMENT
    assert "change" in failed.status.message


async def test_a_bad_request_starts_nothing(server: RunningServer, stub, operations) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.CastStory(pb.CastStoryRequest(story=STORY, roles=[new_role("Twin"), new_role("Twin")]))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    listed = await operations.ListOperations(operations_pb2.ListOperationsRequest(name=f"{P}/operations"))
    assert list(listed.operations) == []


async def test_list_pages_through_a_projects_operations_only(server: RunningServer, stub, operations) -> None:
    hero = await make_actor(stub, "Mina")
    started = set()
    for episode in range(5):
        story = f"{P}/stories/episode-{episode}"
        op = await stub.CastStory(
            pb.CastStoryRequest(story=story, roles=[pb.CastingCall(role="Lead", actor=hero.name)])
        )
        started.add(op.name)
    other = await stub.CastStory(
        pb.CastStoryRequest(story="projects/studio-2/stories/s", roles=[new_role("X")])
    )

    seen, token, pages = [], "", 0
    while True:
        page = await operations.ListOperations(
            operations_pb2.ListOperationsRequest(name=f"{P}/operations", page_size=2, page_token=token)
        )
        seen += [op.name for op in page.operations]
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert (pages, len(seen), set(seen)) == (3, 5, started)

    def stock_list() -> set[str]:
        with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            client = operations_v1.OperationsClient(channel)
            return {op.name for op in client.list_operations(f"{P}/operations", "")}

    assert await asyncio.to_thread(stock_list) == started
    # Another project's operation is unknown here, whatever its name says.
    foreign = other.name.replace("studio-2", "studio-1")
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await operations.GetOperation(operations_pb2.GetOperationRequest(name=foreign))
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND


@pytest.fixture
async def slow_server(container: Container, fake_gemini: FakeGemini) -> AsyncIterator[RunningServer]:
    """One step at a time, drawing on a model that answers when the test says."""
    drawing_with_gemini(container, fake_gemini, cast_workers=1)
    async with running(container) as live:
        yield live


async def test_wait_honours_its_timeout_and_cancel_keeps_what_is_done(
    slow_server: RunningServer, fake_gemini: FakeGemini
) -> None:
    fake_gemini.script(held())
    async with grpc.aio.insecure_channel(f"127.0.0.1:{slow_server.port}") as channel:
        stub = casting_pb2_grpc.CastingServiceStub(channel)
        operations = operations_pb2_grpc.OperationsStub(channel)
        started = await stub.CastStory(
            pb.CastStoryRequest(story=STORY, roles=[new_role("A"), new_role("B"), new_role("C")])
        )

        async def first_role_drawing() -> bool:
            return len(fake_gemini.image_requests) == 1

        await until(first_role_drawing)

        waited = await operations.WaitOperation(
            operations_pb2.WaitOperationRequest(
                name=started.name, timeout=duration_pb2.Duration(nanos=200_000_000)
            )
        )
        assert not waited.done

        await operations.CancelOperation(operations_pb2.CancelOperationRequest(name=started.name))
        fake_gemini.release()
        ended = await operations.WaitOperation(
            operations_pb2.WaitOperationRequest(name=started.name, timeout=duration_pb2.Duration(seconds=30))
        )
        assert ended.done and ended.error.code == code_pb2.CANCELLED

        async def first_role_recorded() -> bool:
            current = await operations.GetOperation(operations_pb2.GetOperationRequest(name=started.name))
            metadata = pb.CastStoryMetadata()
            current.metadata.Unpack(metadata)
            return metadata.roles_done == 1

        await until(first_role_recorded)
        # The role under way when cancelled finished and stays cast; the others never drew.
        cast = await stub.ListStoryCast(pb.ListStoryCastRequest(parent=STORY))
        assert [m.actor_display_name for m in cast.cast] == ["A"]
        assert len(fake_gemini.image_requests) == 1

        await operations.DeleteOperation(operations_pb2.DeleteOperationRequest(name=started.name))
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await operations.GetOperation(operations_pb2.GetOperationRequest(name=started.name))
        assert raised.value.code() == grpc.StatusCode.NOT_FOUND


async def test_the_stock_client_sees_not_found_for_another_projects_operation(
    server: RunningServer, stub
) -> None:
    other = await stub.CastStory(
        pb.CastStoryRequest(story="projects/studio-2/stories/s", roles=[new_role("X")])
    )

    def get_foreign() -> None:
        with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            operations_v1.OperationsClient(channel).get_operation(other.name.replace("studio-2", "studio-3"))

    with pytest.raises(exceptions.NotFound):
        await asyncio.to_thread(get_foreign)


async def test_a_restart_resumes_the_roles_a_stop_left(container: Container, fake_gemini: FakeGemini) -> None:
    drawing_with_gemini(container, fake_gemini, cast_workers=1)
    fake_gemini.script(held())
    async with running(container) as live, grpc.aio.insecure_channel(f"127.0.0.1:{live.port}") as channel:
        stub = casting_pb2_grpc.CastingServiceStub(channel)
        started = await stub.CastStory(pb.CastStoryRequest(story=STORY, roles=[new_role("A"), new_role("B")]))

        async def first_role_drawing() -> bool:
            return len(fake_gemini.image_requests) == 1

        await until(first_role_drawing)
    # Stopped while the first role was drawing; the next process on the same database goes on.
    fake_gemini.release()
    restarted = Container()
    restarted.settings.override(container.settings())
    async with running(restarted) as live, grpc.aio.insecure_channel(f"127.0.0.1:{live.port}") as channel:
        response, metadata = await asyncio.to_thread(stock_result, live.port, started.name)
        actors = await casting_pb2_grpc.CastingServiceStub(channel).ListActors(pb.ListActorsRequest(parent=P))

    assert sorted(m.role for m in response.cast) == ["A", "B"]
    assert sorted(a.display_name for a in actors.actors) == ["A", "B"]  # each role cast exactly once
    # Two steps' drawings, and the one in flight at the stop made again; each kept one judged once.
    assert len(fake_gemini.image_requests) <= 3
    assert len(fake_gemini.judge_requests) == 2


async def test_a_new_role_draws_its_candidates_and_keeps_one(
    container: Container, fake_gemini: FakeGemini
) -> None:
    drawing_with_gemini(container, fake_gemini)
    async with running(container) as live, grpc.aio.insecure_channel(f"127.0.0.1:{live.port}") as channel:
        stub = casting_pb2_grpc.CastingServiceStub(channel)
        call = new_role("Twin")
        call.candidate_count = 3
        started = await stub.CastStory(pb.CastStoryRequest(story=STORY, roles=[call]))
        response, _ = await asyncio.to_thread(stock_result, live.port, started.name)
        actors = await stub.ListActors(pb.ListActorsRequest(parent=P))

    assert len(fake_gemini.image_requests) == 3
    assert [a.display_name for a in actors.actors] == ["Twin"]
    assert [m.actor for m in response.cast] == [actors.actors[0].name]


async def test_an_operation_is_forgotten_once_its_time_to_live_has_passed(container: Container) -> None:
    container.settings.override(container.settings().model_copy(update={"operation_ttl_seconds": 0}))
    async with running(container) as live, grpc.aio.insecure_channel(f"127.0.0.1:{live.port}") as channel:
        started = await casting_pb2_grpc.CastingServiceStub(channel).CastStory(
            pb.CastStoryRequest(story=STORY, roles=[new_role("Extra")])
        )
        operations = operations_pb2_grpc.OperationsStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await operations.GetOperation(operations_pb2.GetOperationRequest(name=started.name))
        listed = await operations.ListOperations(operations_pb2.ListOperationsRequest(name=f"{P}/operations"))

    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    assert list(listed.operations) == []
