"""Who is at the console, and which projects they may open, once the operator has turned tokens
on (CASTING_AUTH_TOKENS_FILE; without one the console is open, as gRPC is).

A person signs in at /login with a token. The session keeps the token's digest, never the token,
and the digest is looked up in the token file again on every request, so a token taken out of
the file ends its sessions at once. Or a trusted proxy (an OIDC proxy such as oauth2-proxy)
names the person in CASTING_CONSOLE_IDENTITY_HEADER, believed only from an address in
CASTING_CONSOLE_PROXY_ADDRESSES; the file's `people` say which projects each may use.

A page or image of a project the grant does not allow is refused (403) before anything is
looked up: every route with a {project} in its path is guarded here, not in its handler.
"""

from __future__ import annotations

import logging
import re

from aiohttp import web
from aiohttp.typedefs import Handler

from casting.server.auth import Grant, TokenFile
from casting.server.console.handling import SAFE_METHODS, Refused, posted, with_query
from casting.server.console.rendering import render
from casting.server.console.sessions import renewed, visit
from casting.server.settings import Settings

log = logging.getLogger("casting.console")

# Paths anyone may reach: the sign-in page, signing out, the style sheet and script.
PUBLIC = frozenset({"/login", "/logout", "/static"})
_TOKEN_KEY = "token_sha256"


def may_open(project: str) -> bool:
    viewer = visit().viewer
    return viewer is None or viewer.allows(project)


def home_project(default: str) -> str:
    """The project the console opens on: the default, or else the first the viewer may open."""
    viewer = visit().viewer
    return default if viewer is None or viewer.allows(default) else min(viewer.projects)


# A path on this site: not `//elsewhere` nor `/\elsewhere`, and no blanks or control characters,
# which browsers drop from a URL (`/<tab>/elsewhere` would become `//elsewhere`).
_LOCAL_PATH = re.compile(r"/(?![/\\])[^\s\x00-\x1f\x7f]*")


def _local(path: str) -> str:
    """Where to go after signing in: `path` if it is on this site, else home."""
    return path if _LOCAL_PATH.fullmatch(path) else "/"


class SignIn:
    """The sign-in page and the middleware that lets in only those a grant allows."""

    def __init__(self, tokens: TokenFile | None, settings: Settings) -> None:
        if settings.console_identity_header and tokens is None:
            raise ValueError(
                "CASTING_CONSOLE_IDENTITY_HEADER needs CASTING_AUTH_TOKENS_FILE, whose `people` "
                "say which projects each person may use"
            )
        self._tokens = tokens
        self._identity_header = settings.console_identity_header
        self._proxies = frozenset(
            address.strip().strip("[]") for address in settings.console_proxy_addresses.split(",")
        ) - {""}

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/login", self.form),
            web.post("/login", self.sign_in),
            web.post("/logout", self.sign_out),
        ]

    async def form(self, request: web.Request) -> web.Response:
        if self._tokens is None:
            raise web.HTTPFound("/")
        return render("login.html", next=_local(request.query.get("next", "")), error=None)

    async def sign_in(self, request: web.Request) -> web.Response:
        if self._tokens is None:
            raise web.HTTPFound("/")
        form = await posted(request)
        after = _local(form.get("next", ""))
        grant = self._tokens.grant_for(form.get("token", "").strip())
        if grant is None:
            log.warning("console: a sign-in with an unknown token from %s", request.remote)
            return render("login.html", status=403, next=after, error="That token is not known.")
        (await renewed(request))[_TOKEN_KEY] = grant.digest.hex()
        log.info("console: %s signed in from %s", grant.name, request.remote)
        raise web.HTTPSeeOther(after)

    async def sign_out(self, request: web.Request) -> web.Response:
        visit().session.invalidate()
        raise web.HTTPSeeOther("/login")

    @web.middleware
    async def guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        resource = request.match_info.route.resource
        if self._tokens is None or (resource is not None and resource.canonical in PUBLIC):
            return await handler(request)
        viewer = self._named_by_proxy(request, self._tokens) or self._signed_in(self._tokens)
        if viewer is None:
            if request.method in SAFE_METHODS:
                raise web.HTTPSeeOther(with_query("/login", next=request.path_qs))
            raise Refused(403, "Sign in first.")
        visit().viewer = viewer  # before any refusal: its page still says who is signed in
        project = request.match_info.get("project")
        if project is not None and not viewer.allows(project):
            log.warning("console: %s refused project %r", viewer.name, project)
            raise Refused(403, "You may not open this project.")
        return await handler(request)

    def _named_by_proxy(self, request: web.Request, tokens: TokenFile) -> Grant | None:
        if not self._identity_header or request.remote not in self._proxies:
            return None
        identity = request.headers.get(self._identity_header, "").strip()
        if not identity:
            return None
        person = tokens.person(identity)
        if person is None:
            log.warning("console: %r has no projects in the token file", identity)
            raise Refused(403, "You have no projects here yet. Ask for one.")
        return person

    @staticmethod
    def _signed_in(tokens: TokenFile) -> Grant | None:
        session = visit().session
        digest = session.get(_TOKEN_KEY)
        if not isinstance(digest, str):
            return None
        try:
            grant = tokens.grant_with_digest(bytes.fromhex(digest))
        except ValueError:
            grant = None
        if grant is None:  # revoked since: the session ends
            session.invalidate()
        return grant
