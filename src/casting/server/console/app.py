"""The console's web application: its routes over the container's use-cases, the middleware
that guards them and turns failures into plain words, and its start and stop beside the gRPC
server."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from aiohttp import web
from aiohttp.typedefs import Handler

from casting.domain.errors import DomainError
from casting.server.auth import console_ssl_context
from casting.server.console.access import SignIn, home_project, may_open
from casting.server.console.actors import ActorPages
from casting.server.console.candidates import CandidatePages
from casting.server.console.forms import project_id
from casting.server.console.handling import Refused
from casting.server.console.hosts import site_guard
from casting.server.console.images import ImageRoutes
from casting.server.console.imports import ImportPages
from casting.server.console.library import LibraryPages
from casting.server.console.looks import LookPages
from casting.server.console.rendering import render
from casting.server.console.sessions import csrf_checked, session_middlewares
from casting.server.console.sheets import SheetPages
from casting.server.console.stories import StoryPages
from casting.server.console.words import plain_words
from casting.server.container import Container

log = logging.getLogger("casting.console")

STATIC = Path(__file__).parent / "static"
# Room for the largest allowed picture plus the rest of the import form.
FORM_OVERHEAD_BYTES = 1024 * 1024
DEFAULT_PROJECT = web.AppKey("default_project", str)

_HTTP_WORDS = {
    404: "There is no such page.",
    405: "That page cannot be used this way.",
    413: "The file is too large.",
}

# Pages are the console's own: no inline scripts, nothing from elsewhere, never in a frame, forms
# sent only here.
_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self'; frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def console_app(container: Container) -> web.Application:
    settings = container.settings()
    sign_in = SignIn(container.token_file(), settings)
    # Outermost first: the session (and the request's Visit) around everything, so that even a
    # refusal is a page with a header; then who may ask, then what they may send.
    app = web.Application(
        middlewares=[
            *session_middlewares(settings, secure=console_ssl_context(settings) is not None),
            _plain_errors,
            site_guard(settings),
            sign_in.guard,
            csrf_checked(settings.console_body_timeout_seconds),
        ],
        client_max_size=settings.max_upload_bytes + FORM_OVERHEAD_BYTES,
    )
    app[DEFAULT_PROJECT] = project_id(settings.console_project)
    pages = (
        sign_in,
        LibraryPages(list_actors=container.list_actors()),
        SheetPages(
            list_styles=container.list_styles(),
            generate_sheet=container.generate_sheet(),
            generate_sheets=container.generate_sheets(),
            get_sheet=container.get_sheet(),
            save_actor=container.save_actor(),
        ),
        CandidatePages(
            list_styles=container.list_styles(),
            get_sheet=container.get_sheet(),
            get_actor=container.get_actor(),
            branch_variant=container.branch_variant(),
        ),
        ActorPages(
            get_actor=container.get_actor(),
            update_variant=container.update_variant(),
            delete_variant=container.delete_variant(),
            cast_variant=container.cast_variant(),
            delete_actor=container.delete_actor(),
        ),
        LookPages(
            list_styles=container.list_styles(),
            get_actor=container.get_actor(),
            get_variant=container.get_variant(),
            branch_variant=container.branch_variant(),
            generate_sheets=container.generate_sheets(),
        ),
        ImportPages(list_styles=container.list_styles(), import_actor=container.import_actor()),
        StoryPages(
            list_styles=container.list_styles(),
            list_story_cast=container.list_story_cast(),
            list_operations=container.list_operations(),
            cast_story=container.cast_story(),
            cancel_operation=container.cancel_operation(),
        ),
        ImageRoutes(read_image=container.read_image(), read_thumbnail=container.read_thumbnail()),
    )
    app.router.add_get("/", _home)
    app.router.add_get("/projects", _switch_project)
    for page in pages:
        app.router.add_routes(page.routes())
    app.router.add_static("/static", STATIC)
    app.on_response_prepare.append(_security_headers)
    return app


@asynccontextmanager
async def serving_console(container: Container) -> AsyncIterator[int | None]:
    """The console on the settings' console host and port until the block ends (TLS when gRPC
    has it); yields the bound port, or None when the console is off (port 0)."""
    settings = container.settings()
    if not settings.console_port:
        yield None
        return
    # A connection idle for the timeout is closed, whether it has sent nothing yet, part of a
    # request's head, or nothing since its last answer (aiohttp's keep-alive timer, which runs
    # from the connection's start).
    runner = web.AppRunner(
        console_app(container),
        shutdown_timeout=settings.grace_period_seconds,
        keepalive_timeout=settings.console_idle_timeout_seconds,
    )
    await runner.setup()
    try:
        # "::" (gRPC's spelling) means every interface; so does no host for asyncio (IPv4 and IPv6).
        host = settings.console_host.strip("[]")
        ssl_context = console_ssl_context(settings)
        site = web.TCPSite(
            runner, None if host == "::" else host, settings.console_port, ssl_context=ssl_context
        )
        await site.start()
        port: int = runner.addresses[0][1]
        scheme = "https" if ssl_context else "http"
        log.info("casting console at %s://localhost:%d", scheme, port)
        yield port
    finally:
        await runner.cleanup()


async def _home(request: web.Request) -> web.Response:
    raise web.HTTPFound(f"/projects/{home_project(request.app[DEFAULT_PROJECT])}/actors")


async def _switch_project(request: web.Request) -> web.Response:
    """The header's project picker: a GET form naming the project to open."""
    project = project_id(request.query.get("project", "").strip())
    if not may_open(project):
        raise Refused(403, "You may not open this project.")
    raise web.HTTPFound(f"/projects/{project}/actors")


@web.middleware
async def _plain_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A failure as a page in plain words: a domain error says what happened, anything else
    is logged and apologised for. No stack trace ever reaches the page."""
    try:
        return await handler(request)
    except DomainError as error:
        said = plain_words(error)
        return _error_page(request, said.message, said.status)
    except Refused as refused:
        return _error_page(request, refused.message, refused.status)
    except web.HTTPException as http:
        if http.status < 400:
            raise
        return _error_page(request, _HTTP_WORDS.get(http.status, http.reason), http.status)
    except Exception:
        log.exception("console: %s %s failed", request.method, request.path)
        return _error_page(request, "Something went wrong on our side. It was logged; please try again.", 500)


def _error_page(request: web.Request, message: str, status: int) -> web.Response:
    """The page names the project of the path when the viewer may open it."""
    try:
        project = project_id(request.match_info.get("project", ""))
    except DomainError:
        project = ""
    if not (project and may_open(project)):
        project = home_project(request.app[DEFAULT_PROJECT])
    return render("error.html", status=status, project=project, message=message)


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.update(_SECURITY_HEADERS)
