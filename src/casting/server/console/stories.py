"""A story: who is cast in it, its casting operations with their progress and failures, and a
form that casts many roles at once (CastStory)."""

from __future__ import annotations

from aiohttp import web

from casting.domain import names
from casting.domain.errors import DomainError, InvalidInput
from casting.domain.operations import CastingCall
from casting.domain.usecases.cast import ListStoryCast
from casting.domain.usecases.story_casting import (
    CancelOperation,
    CastStoryCommand,
    ListOperations,
    StartCastStory,
)
from casting.domain.usecases.styles import ListStyles
from casting.domain.values import Traits
from casting.server.console.forms import story_id
from casting.server.console.handling import go_to, posted, project_of
from casting.server.console.rendering import form_page
from casting.server.console.words import Said, plain_words

# The newest operations a story page shows.
SHOWN_OPERATIONS = 20


def casting_calls(text: str, story_style: str, image_style: str, candidates: int) -> tuple[CastingCall, ...]:
    """One role a line: `Name = <actor id>` reuses that actor; `Name: description` or `Name`
    draws a new one (the description goes to the model as is)."""
    calls = []
    for line in filter(None, (raw.strip() for raw in text.splitlines())):
        if "=" in line:
            role, actor = (part.strip() for part in line.split("=", 1))
            calls.append(CastingCall(role=role, actor_id=actor.rsplit("/", 1)[-1]))
            continue
        role, _, description = (part.strip() for part in line.partition(":"))
        calls.append(
            CastingCall(
                role=role,
                traits=Traits(custom_prompt=description),
                story_style=story_style,
                image_style=image_style,
                candidate_count=candidates,
            )
        )
    return tuple(calls)


class StoryPages:
    def __init__(
        self,
        list_styles: ListStyles,
        list_story_cast: ListStoryCast,
        list_operations: ListOperations,
        cast_story: StartCastStory,
        cancel_operation: CancelOperation,
    ) -> None:
        self._list_styles = list_styles
        self._list_story_cast = list_story_cast
        self._list_operations = list_operations
        self._cast_story = cast_story
        self._cancel_operation = cancel_operation

    def routes(self) -> list[web.RouteDef]:
        story = "/projects/{project}/stories/{story}"
        return [
            web.get(story, self.page),
            web.post(f"{story}/cast", self.cast),
            web.post(f"{story}/operations/{{operation}}/cancel", self.cancel),
        ]

    async def page(self, request: web.Request) -> web.Response:
        return await self._page(project_of(request), request.match_info["story"], {})

    async def cast(self, request: web.Request) -> web.Response:
        project, story, form = project_of(request), request.match_info["story"], await posted(request)
        try:
            story = self._story(project, story)
            try:
                candidates = int(form.get("candidate_count") or 1)
            except ValueError:
                raise InvalidInput.field("candidate_count", "must be a whole number") from None
            calls = casting_calls(
                form.get("roles", ""), form.get("story_style", ""), form.get("image_style", ""), candidates
            )
            await self._cast_story(
                CastStoryCommand(project, story, calls, request_id=form.get("request_id", ""))
            )
        except DomainError as error:
            return await self._page(project, story, form, plain_words(error))
        go_to(f"/projects/{project}/stories/{story}")

    async def cancel(self, request: web.Request) -> web.Response:
        project, story = project_of(request), request.match_info["story"]
        await self._cancel_operation(project, request.match_info["operation"])
        go_to(f"/projects/{project}/stories/{story}")

    @staticmethod
    def _story(project: str, value: str) -> str:
        story = story_id(project, value)
        if story is None:
            raise InvalidInput.field("story", "name a story")
        return story

    async def _page(
        self, project: str, story: str, values: dict[str, str], said: Said | None = None
    ) -> web.Response:
        story = self._story(project, story)
        # Operations first: an operation read as done has cast its roles, and the cast read
        # after it shows them (read the other way round, a page could say done and show none).
        operations = await self._list_operations(project, "", SHOWN_OPERATIONS, "", story)
        cast = await self._list_story_cast(project, story, 200, "")
        return await form_page(
            "story.html",
            self._list_styles,
            said,
            project=project,
            story=story,
            story_name=names.story(project, story),
            cast=cast.members,
            operations=operations.operations,
            running=any(not view.operation.done for view in operations.operations),
            values=values,
        )
