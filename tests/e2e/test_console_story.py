"""The console's story page: the cast, casting runs with their progress and failures, and a form
that casts many roles at once."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import pytest

from casting.server.container import Container
from casting.server.main import RunningServer
from casting.v1 import casting_pb2 as pb
from casting.v1 import casting_pb2_grpc
from tests.support.console import ConsoleClient, console_client
from tests.support.ports import free_port

PROJECT = "studio"
STORY = f"/projects/{PROJECT}/stories/pilot"


@pytest.fixture
def container(container: Container) -> Container:
    settings = container.settings().model_copy(update={"console_port": free_port()})
    container.settings.override(settings)
    return container


@pytest.fixture
async def console(server: RunningServer) -> AsyncIterator[ConsoleClient]:
    async with console_client(f"http://127.0.0.1:{server.console_port}") as client:
        yield client


async def a_library_actor(stub: casting_pb2_grpc.CastingServiceStub, name: str) -> pb.Actor:
    sheet = await stub.GenerateSheet(
        pb.GenerateSheetRequest(parent=f"projects/{PROJECT}", story_style="romance", image_style="webtoon")
    )
    return await stub.SaveActor(
        pb.SaveActorRequest(parent=f"projects/{PROJECT}", sheet=sheet.name, display_name=name)
    )


async def settled(console: ConsoleClient) -> str:
    """The story page once no casting run is running (the page refreshes itself until then)."""
    async with asyncio.timeout(60):
        while True:
            status, text = await console.page(STORY)
            assert status == 200, text
            if 'data-state="running"' not in text:
                return text
            await asyncio.sleep(0.1)


async def test_a_story_page_casts_many_roles_and_shows_what_failed(
    console: ConsoleClient, stub: casting_pb2_grpc.CastingServiceStub
) -> None:
    mentor = await a_library_actor(stub, "Old Jun")
    status, text = await console.page(STORY)
    assert status == 200 and "No one is cast in this story yet." in text
    request_id = re.search(r'name="request_id" value="([^"]+)"', text).group(1)

    # A new character, a library actor by name, and the same actor by id alone.
    actor_id = mentor.name.rsplit("/", 1)[-1]
    roles = f"Heroine: a cheerful teen with a short black bob\nMentor = {mentor.name}\nGhost = {actor_id}"
    async with await console.post(
        f"{STORY}/cast",
        {
            "roles": roles,
            "story_style": "romance",
            "image_style": "webtoon",
            "candidate_count": "1",
            "request_id": request_id,
        },
    ) as response:
        assert response.status == 303, await response.text()

    text = await settled(console)
    assert 'data-state="done"' in text and "3 of 3 roles" in text
    assert 'data-actor="Heroine"' in text and 'data-actor="Old Jun"' in text
    cast = await stub.ListStoryCast(pb.ListStoryCastRequest(parent=STORY.lstrip("/")))
    assert sorted(m.actor_display_name for m in cast.cast) == ["Heroine", "Old Jun"]

    # A role that fails is named on the page with the reason; the others are cast. (The same
    # style as her look and no change: there is nothing to branch.)
    await stub.CastStory(
        pb.CastStoryRequest(
            story=STORY.lstrip("/"),
            roles=[
                pb.CastingCall(role="Mentor again", actor=mentor.name, story_style="romance"),
                pb.CastingCall(
                    role="Rival", traits=pb.Traits(mood="smug"), story_style="action", image_style="anime"
                ),
            ],
        )
    )
    text = await settled(console)
    assert 'data-actor="Rival"' in text
    assert re.search(r'class="failure"><b>Mentor again</b>: [^<]*change', text), text


async def test_the_form_says_what_is_wrong_and_keeps_what_was_typed(console: ConsoleClient) -> None:
    await console.page(STORY)
    async with await console.post(
        f"{STORY}/cast", {"roles": "Twin\nTwin", "story_style": "romance", "image_style": "webtoon"}
    ) as response:
        text = await response.text()
    assert response.status == 400
    assert "Twin\nTwin" in text and 'id="error"' in text
