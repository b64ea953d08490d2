"""Which sites may talk to the console: the Host it is asked for, and the Origin of a form.

A page on a rebinding domain (the attacker's name, resolving to this machine) sends that name as
Host and as Origin: the Host allow-list refuses it. A form posted from any other site carries
that site's Origin, and a POST without one is refused too (browsers send Origin with every
POST, so only hand-made requests lack it).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from casting.server.console.handling import SAFE_METHODS, Refused
from casting.server.settings import Settings

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
_EVERY_INTERFACE = frozenset({"", "::", "0.0.0.0"})


def allowed_hosts(settings: Settings) -> frozenset[str]:
    """Loopback names, the console's own address (unless it is every interface) and the
    operator's names, lower-cased and without brackets."""
    bound = settings.console_host.strip("[]").lower()
    extra = {name.strip().strip("[]").lower() for name in settings.console_allowed_hosts.split(",")}
    return frozenset(LOOPBACK_NAMES | ({bound} - _EVERY_INTERFACE) | (extra - {""}))


def _hostname(host: str) -> str | None:
    try:
        return urlsplit(f"//{host}").hostname
    except ValueError:  # an unbalanced bracket
        return None


def _netloc(origin: str | None) -> str | None:
    try:
        return urlsplit(origin).netloc if origin else None
    except ValueError:
        return None


def site_guard(settings: Settings) -> Middleware:
    allowed = allowed_hosts(settings)

    @web.middleware
    async def guarded(request: web.Request, handler: Handler) -> web.StreamResponse:
        host = request.headers.get("Host", "")
        if _hostname(host) not in allowed:
            raise Refused(400, "This console does not answer to that address.")
        # Hosts are compared, not schemes: behind a proxy that ends TLS the page is https.
        if request.method not in SAFE_METHODS and _netloc(request.headers.get("Origin")) != host:
            raise Refused(403, "This form was sent from another site, so it was refused.")
        return await handler(request)

    return guarded
