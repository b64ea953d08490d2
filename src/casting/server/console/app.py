"""The console's web application: its routes over the container's use-cases, the middleware
that turns failures into plain words, and its start and stop beside the gRPC server."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.typedefs import Handler

from casting.domain.errors import DomainError
from casting.server.console.actors import ActorPages
from casting.server.console.forms import project_id
from casting.server.console.images import ImageRoutes
from casting.server.console.imports import ImportPages
from casting.server.console.library import LibraryPages
from casting.server.console.looks import LookPages
from casting.server.console.rendering import render
from casting.server.console.sheets import SheetPages
from casting.server.console.words import plain_words
from casting.server.container import Container

log = logging.getLogger("casting.console")

STATIC = Path(__file__).parent / "static"
# Room for the largest allowed picture plus the rest of the import form.
FORM_OVERHEAD_BYTES = 1024 * 1024
DEFAULT_PROJECT = web.AppKey("default_project", str)

_HTTP_WORDS = {
    403: "This form was sent from another site, so it was refused.",
    404: "There is no such page.",
    405: "That page cannot be used this way.",
    413: "The file is too large.",
}

# Pages are the console's own: no inline scripts, nothing from elsewhere, never in a frame.
_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def console_app(container: Container) -> web.Application:
    settings = container.settings()
    app = web.Application(
        middlewares=[_plain_errors, _same_origin_posts],
        client_max_size=settings.max_upload_bytes + FORM_OVERHEAD_BYTES,
    )
    app[DEFAULT_PROJECT] = project_id(settings.console_project)
    pages = (
        LibraryPages(list_actors=container.list_actors()),
        SheetPages(
            list_styles=container.list_styles(),
            generate_sheet=container.generate_sheet(),
            get_sheet=container.get_sheet(),
            save_actor=container.save_actor(),
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
        ),
        ImportPages(list_styles=container.list_styles(), import_actor=container.import_actor()),
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
    """The console on the settings' host and console port until the block ends; yields the
    bound port, or None when the console is off (port 0)."""
    settings = container.settings()
    if not settings.console_port:
        yield None
        return
    runner = web.AppRunner(console_app(container), shutdown_timeout=settings.grace_period_seconds)
    await runner.setup()
    try:
        # gRPC's "[::]" means every interface; so does no host for asyncio (IPv4 and IPv6).
        host = settings.host.strip("[]")
        site = web.TCPSite(runner, None if host == "::" else host, settings.console_port)
        await site.start()
        port: int = runner.addresses[0][1]
        log.info("casting console at http://localhost:%d", port)
        if settings.auth_tokens_file:
            log.warning("the console has no login: CASTING_AUTH_TOKENS_FILE guards gRPC only")
        yield port
    finally:
        await runner.cleanup()


async def _home(request: web.Request) -> web.Response:
    raise web.HTTPFound(f"/projects/{request.app[DEFAULT_PROJECT]}/actors")


async def _switch_project(request: web.Request) -> web.Response:
    """The header's project picker: a GET form naming the project to open."""
    raise web.HTTPFound(f"/projects/{project_id(request.query.get('project', '').strip())}/actors")


@web.middleware
async def _same_origin_posts(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuses a form another site posts here (browsers send Origin with every POST). Hosts
    are compared, not schemes: behind a proxy that ends TLS the page is https, this is http."""
    origin = request.headers.get("Origin")
    if request.method == "POST" and origin is not None and urlsplit(origin).netloc != request.host:
        raise web.HTTPForbidden()
    return await handler(request)


@web.middleware
async def _plain_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A failure as a page in plain words: a domain error says what happened, anything else
    is logged and apologised for. No stack trace ever reaches the page."""
    try:
        return await handler(request)
    except DomainError as error:
        said = plain_words(error)
        return _error_page(request, said.message, said.status)
    except web.HTTPException as http:
        if http.status < 400:
            raise
        return _error_page(request, _HTTP_WORDS.get(http.status, http.reason), http.status)
    except Exception:
        log.exception("console: %s %s failed", request.method, request.path)
        return _error_page(request, "Something went wrong on our side. It was logged; please try again.", 500)


def _error_page(request: web.Request, message: str, status: int) -> web.Response:
    try:
        project = project_id(request.match_info.get("project", ""))
    except DomainError:
        project = request.app[DEFAULT_PROJECT]
    return render("error.html", status=status, project=project, message=message)


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.update(_SECURITY_HEADERS)
