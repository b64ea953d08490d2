"""The console over HTTP as a browser speaks to it: a cookie jar, the CSRF token of the last
page read, and Origin on every POST (unless a test leaves them out on purpose)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import yaml

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def write_token_file(
    path: Path, tokens: dict[str, list[str]], people: dict[str, list[str]] | None = None
) -> None:
    """A token file granting each token (and each person a proxy names) its projects."""
    document: dict[str, Any] = {
        "tokens": [
            {
                "name": f"holder-of-{token}",
                "token_sha256": hashlib.sha256(token.encode()).hexdigest(),
                "projects": projects,
            }
            for token, projects in tokens.items()
        ]
    }
    if people:
        document["people"] = [{"identity": who, "projects": projects} for who, projects in people.items()]
    path.write_text(yaml.safe_dump(document))


class ConsoleClient:
    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session = session
        self.base = base
        self.csrf = ""

    async def page(self, path: str, **kwargs: Any) -> tuple[int, str]:
        """GETs a page (following redirects), keeping its CSRF token."""
        async with self.session.get(path, **kwargs) as response:
            text = await response.text()
        found = _CSRF.search(text)
        if found:
            self.csrf = found.group(1)
        return response.status, text

    async def post(
        self,
        path: str,
        data: dict[str, str] | None = None,
        *,
        csrf: bool = True,
        origin: bool = True,
        **kwargs: Any,
    ) -> aiohttp.ClientResponse:
        """POSTs a form as the page's own form would (the caller reads and releases the answer)."""
        form = dict(data or {})
        if csrf:
            form["csrf_token"] = self.csrf
        headers = {"Origin": self.base} if origin else {}
        return await self.session.post(
            path, data=form, headers=headers | kwargs.pop("headers", {}), allow_redirects=False, **kwargs
        )

    async def sign_in(self, token: str) -> aiohttp.ClientResponse:
        await self.page("/login")
        response = await self.post("/login", {"token": token})
        response.release()
        return response

    def cookie(self) -> str | None:
        cookies = {c.key: c.value for c in self.session.cookie_jar}
        return cookies.get("casting") or cookies.get("__Host-casting")


@asynccontextmanager
async def console_client(base: str, **session: Any) -> AsyncIterator[ConsoleClient]:
    # unsafe: keep cookies of an IP address such as 127.0.0.1, as browsers do.
    async with aiohttp.ClientSession(base, cookie_jar=aiohttp.CookieJar(unsafe=True), **session) as http:
        yield ConsoleClient(http, base)
