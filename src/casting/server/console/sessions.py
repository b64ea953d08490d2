"""The console's session and the CSRF token it carries.

The session is a cookie sealed with Fernet (aiohttp-session's EncryptedCookieStorage): HttpOnly,
SameSite=Strict, and Secure (as `__Host-casting`) when the console serves TLS. It holds the CSRF
token and, once signed in, the token's digest (access.py).

A form that changes something carries the token: put `{{ csrf_field() }}` inside it. Every POST
is checked (`csrf_checked`), so a form without it is refused with 403, which its test notices.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
from contextvars import ContextVar
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from aiohttp_session import Session, get_session, new_session, session_middleware
from aiohttp_session.cookie_storage import EncryptedCookieStorage
from cryptography.fernet import Fernet
from markupsafe import Markup

from casting.server.auth import Grant
from casting.server.console.handling import SAFE_METHODS, Refused
from casting.server.settings import Settings

SESSION_SECONDS = 12 * 3600  # a working day: sign in again the next morning
CSRF_FIELD = "csrf_token"
_CSRF_KEY = "csrf"


@dataclass(slots=True)
class Visit:
    """One request's session and who made it, for templates (rendered without the request at
    hand) and for the error pages."""

    session: Session
    viewer: Grant | None = None  # set by access.py; None: no token file, or nobody signed in


_VISIT: ContextVar[Visit | None] = ContextVar("console_visit", default=None)


def visit() -> Visit:
    current = _VISIT.get()
    if current is None:
        raise RuntimeError("outside a console request")
    return current


def session_middlewares(settings: Settings, *, secure: bool) -> list[Middleware]:
    """The cookie's storage, then the session made current for the request's templates."""
    storage = EncryptedCookieStorage(
        Fernet(settings.console_session_key or Fernet.generate_key()),
        # __Host-: a browser takes it only from a secure page, for this host, on every path.
        cookie_name="__Host-casting" if secure else "casting",
        max_age=SESSION_SECONDS,
        httponly=True,
        samesite="Strict",
        secure=secure,
    )
    return [session_middleware(storage), _visiting]


@web.middleware
async def _visiting(request: web.Request, handler: Handler) -> web.StreamResponse:
    reset = _VISIT.set(Visit(await get_session(request)))
    try:
        return await handler(request)
    finally:
        _VISIT.reset(reset)


async def renewed(request: web.Request) -> Session:
    """A fresh session in place of the request's, on signing in: nothing of the old one (which
    someone may have planted), its CSRF token included, outlives it."""
    session = visit().session = await new_session(request)
    return session


def csrf_token() -> str:
    """The session's CSRF token, made on first use."""
    session = visit().session
    token = session.get(_CSRF_KEY)
    if not isinstance(token, str):
        session[_CSRF_KEY] = token = secrets.token_urlsafe(32)
    return token


def csrf_field() -> Markup:
    """The hidden field every state-changing form carries (a Jinja global)."""
    return Markup('<input type="hidden" name="{}" value="{}">').format(CSRF_FIELD, csrf_token())


def csrf_checked(body_timeout_seconds: float) -> Middleware:
    """Refuses a POST whose form lacks the session's CSRF token. The form is read here, once
    (handlers read it again from aiohttp's cache), and must arrive within the timeout: a body
    sent a byte at a time does not hold the connection for ever."""

    @web.middleware
    async def checked(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method not in SAFE_METHODS:
            try:
                async with asyncio.timeout(body_timeout_seconds):
                    form = await request.post()
            except TimeoutError:
                raise Refused(408, "The form took too long to arrive. Send it again.") from None
            kept = visit().session.get(_CSRF_KEY)
            sent = form.get(CSRF_FIELD)
            if not (isinstance(sent, str) and isinstance(kept, str) and hmac.compare_digest(sent, kept)):
                raise Refused(403, "This form has expired. Reload the page and send it again.")
        return await handler(request)

    return checked
