"""The console under the same guards as gRPC, tried as an attacker would, over real sockets: every
route refused for a project the session's token does not grant, sign-in and revocation, CSRF,
Host and Origin, the cookie's flags, loopback binding, TLS, and sockets that never finish."""

from __future__ import annotations

import asyncio
import re
import socket
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest

from casting.server.console.app import console_app
from casting.server.container import Container
from casting.server.main import RunningServer, running
from casting.v1 import casting_pb2 as pb
from casting.v1 import casting_pb2_grpc
from tests.e2e.test_auth import Pki, pki, write  # noqa: F401 (pki: test_auth's certificates fixture)
from tests.support.console import ConsoleClient, console_client, write_token_file
from tests.support.ports import free_port

# The console's guards do not depend on the database: one backend is enough.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

MINE, THEIRS = "mine", "theirs"
TOKENS = {"mine-token": [MINE], "admin-token": ["*"]}


@dataclass(frozen=True)
class Theirs:
    """Real resources of the project the signed-in token may not use."""

    actor: str
    variant: str
    sheet: str
    image: str
    story: str
    operation: str  # a real casting of theirs


def serve_console(container: Container, **settings: Any) -> Container:
    update = {"console_port": free_port(), "collect_interval_seconds": 0} | settings
    container.settings.override(container.settings().model_copy(update=update))
    return container


@pytest.fixture
def tokens(tmp_path: Path) -> Path:
    path = tmp_path / "tokens.yaml"
    write_token_file(path, TOKENS, people={"mina@studio.example": [MINE]})
    return path


@pytest.fixture
async def guarded(container: Container, tokens: Path) -> AsyncIterator[RunningServer]:
    serve_console(container, auth_tokens_file=str(tokens), console_identity_header="X-Forwarded-Email")
    async with running(container) as live:
        yield live


def base(live: RunningServer) -> str:
    return f"http://127.0.0.1:{live.console_port}"


@pytest.fixture
async def theirs(guarded: RunningServer) -> Theirs:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{guarded.port}") as channel:
        stub = casting_pb2_grpc.CastingServiceStub(channel)
        admin = (("authorization", "Bearer admin-token"),)
        sheet = await stub.GenerateSheet(
            pb.GenerateSheetRequest(
                parent=f"projects/{THEIRS}", story_style="romance", image_style="webtoon"
            ),
            metadata=admin,
        )
        unsaved = await stub.GenerateSheet(
            pb.GenerateSheetRequest(parent=f"projects/{THEIRS}", story_style="comedy", image_style="chibi"),
            metadata=admin,
        )
        actor = await stub.SaveActor(
            pb.SaveActorRequest(parent=f"projects/{THEIRS}", sheet=sheet.name, display_name="Theirs"),
            metadata=admin,
        )
        casting = await stub.CastStory(
            pb.CastStoryRequest(
                story=f"projects/{THEIRS}/stories/pilot",
                roles=[pb.CastingCall(role="Lead", actor=actor.name)],
            ),
            metadata=admin,
        )
    last = lambda name: name.rsplit("/", 1)[-1]  # noqa: E731
    return Theirs(
        last(actor.name),
        last(actor.variants[0].name),
        last(unsaved.name),
        last(sheet.image.name),
        "pilot",
        last(casting.name),
    )


@pytest.fixture
async def signed_in(guarded: RunningServer) -> AsyncIterator[ConsoleClient]:
    """A session of the token granted only project `mine`."""
    async with console_client(base(guarded)) as client:
        response = await client.sign_in("mine-token")
        assert response.status == 303
        yield client


# Every console route, and what a session for project `mine` gets from it when it names project
# `theirs` (with `theirs`' real ids): FOREIGN is the 403 of a project the token does not grant.
# A route with no entry fails the test: whoever adds one says here how it is guarded.
FOREIGN = "refused: another project"
PUBLIC = "open to anyone: nothing of a project"
ROUTES: dict[tuple[str, str], str] = {
    ("GET", "/"): "sends the viewer to a project of their own",
    ("GET", "/projects"): FOREIGN,  # the project picker, ?project=theirs
    ("GET", "/login"): PUBLIC,
    ("POST", "/login"): PUBLIC,
    ("POST", "/logout"): PUBLIC,
    ("GET", "/static"): PUBLIC,
    ("GET", "/projects/{project}/actors"): FOREIGN,
    ("GET", "/projects/{project}/generate"): FOREIGN,
    ("POST", "/projects/{project}/generate"): FOREIGN,
    ("GET", "/projects/{project}/sheets/{sheet}"): FOREIGN,
    ("POST", "/projects/{project}/sheets/{sheet}"): FOREIGN,
    ("GET", "/projects/{project}/actors/{actor}"): FOREIGN,
    ("GET", "/projects/{project}/actors/{actor}/delete"): FOREIGN,
    ("POST", "/projects/{project}/actors/{actor}/delete"): FOREIGN,
    ("POST", "/projects/{project}/actors/{actor}/variants/{variant}/default"): FOREIGN,
    ("POST", "/projects/{project}/actors/{actor}/variants/{variant}/cast"): FOREIGN,
    ("POST", "/projects/{project}/actors/{actor}/variants/{variant}/delete"): FOREIGN,
    ("GET", "/projects/{project}/actors/{actor}/branch"): FOREIGN,
    ("POST", "/projects/{project}/actors/{actor}/branch"): FOREIGN,
    ("GET", "/projects/{project}/actors/{actor}/variants/{variant}"): FOREIGN,
    ("GET", "/projects/{project}/import"): FOREIGN,
    ("POST", "/projects/{project}/import"): FOREIGN,
    ("GET", "/projects/{project}/images/{image}"): FOREIGN,
    ("GET", "/projects/{project}/images/{image}/thumbnails/{width}"): FOREIGN,
    ("GET", "/projects/{project}/stories/{story}"): FOREIGN,
    ("POST", "/projects/{project}/stories/{story}/cast"): FOREIGN,
    ("POST", "/projects/{project}/stories/{story}/operations/{operation}/cancel"): FOREIGN,
    ("GET", "/projects/{project}/candidates"): FOREIGN,
    ("POST", "/projects/{project}/actors/{actor}/commit"): FOREIGN,
}


def served_routes(container: Container) -> set[tuple[str, str]]:
    """(method, path) of every route of the console's router; HEAD goes with its GET."""
    routes = {(route.method, route.resource.canonical) for route in console_app(container).router.routes()}
    assert {(method, path) for method, path in routes if method == "HEAD"} <= {
        ("HEAD", path) for method, path in routes if method == "GET"
    }
    return {(method, path) for method, path in routes if method != "HEAD"}


def concrete(path: str, project: str, theirs: Theirs) -> str:
    if path == "/projects":
        return f"/projects?project={project}"
    if path == "/static":
        return "/static/console.css"
    values = {"project": project, "width": "240"} | vars(theirs)
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)


async def test_every_route_refuses_a_project_the_token_does_not_grant(
    container: Container, guarded: RunningServer, theirs: Theirs, signed_in: ConsoleClient
) -> None:
    assert served_routes(container) == set(ROUTES), "each console route needs an entry in ROUTES"
    await signed_in.page("/login")  # a page with a form: the session's CSRF token
    async with console_client(base(guarded)) as anonymous:
        await anonymous.page("/login")
        # Signing out last, so that the session lasts through the rest.
        for (method, path), guard in sorted(ROUTES.items(), key=lambda entry: entry[0][1] == "/logout"):
            url = concrete(path, THEIRS, theirs)
            for client, who in ((signed_in, "mine"), (anonymous, "nobody")):
                methods = (method, "HEAD") if method == "GET" else (method,)
                for verb in methods:
                    async with client.session.request(
                        verb,
                        url,
                        data={"csrf_token": client.csrf} if verb == "POST" else None,
                        headers={"Origin": client.base} if verb == "POST" else None,
                        allow_redirects=False,
                    ) as response:
                        status, text = response.status, await response.text()
                        location = response.headers.get("Location", "")
                    seen = f"{verb} {url} as {who}: {status} {location}"
                    if guard is PUBLIC:
                        assert status < 400 or (verb, path) == ("POST", "/login"), seen  # no token: 403
                    elif guard is FOREIGN and who == "mine":
                        assert status == 403, seen
                        assert verb == "HEAD" or "You may not open this project." in text, seen
                    elif who == "nobody" and verb != "POST":
                        assert status == 303 and location.startswith("/login?next="), seen
                    elif who == "nobody":
                        assert status == 403, seen
                    else:  # "/" for mine
                        assert location == f"/projects/{MINE}/actors", seen
    # The same session may use its own project: the refusals above were about the project.
    assert (await signed_in.page(f"/projects/{MINE}/actors"))[0] == 200


async def test_a_wrong_token_is_refused_and_a_revoked_one_ends_its_session(
    guarded: RunningServer, tokens: Path
) -> None:
    async with console_client(base(guarded)) as client:
        response = await client.sign_in("not-a-token")
        assert response.status == 403
        status, text = await client.page(f"/projects/{MINE}/actors")
        assert "<h1>Sign in" in text

        assert (await client.sign_in("mine-token")).status == 303
        status, text = await client.page(f"/projects/{MINE}/actors")
        assert status == 200 and "<h1>Library" in text
        assert 'id="viewer">holder-of-mine-token<' in text
        signed_in = client.cookie()

        write_token_file(tokens, {"admin-token": ["*"]})  # mine-token revoked
        status, text = await client.page(f"/projects/{MINE}/actors")
        assert "<h1>Sign in" in text
        assert client.cookie() != signed_in  # the ended session is gone, not kept for later


async def test_signing_in_goes_back_to_the_page_asked_for_but_never_to_another_site(
    guarded: RunningServer,
) -> None:
    asked = f"/projects/{MINE}/actors?name=Mi"
    for sent, then in ((asked, asked), ("//evil.example/", "/"), ("/\\evil.example", "/"), ("/\t/evil", "/")):
        async with console_client(base(guarded)) as client:
            await client.page("/login")
            response = await client.post("/login", {"token": "mine-token", "next": sent})
            response.release()
            assert (response.status, response.headers["Location"]) == (303, then), sent


async def test_signing_out_ends_the_session(signed_in: ConsoleClient) -> None:
    await signed_in.page(f"/projects/{MINE}/actors")
    response = await signed_in.post("/logout")
    response.release()
    assert response.status == 303
    status, text = await signed_in.page(f"/projects/{MINE}/actors")
    assert "<h1>Sign in" in text


async def test_the_picker_offers_only_granted_projects(signed_in: ConsoleClient) -> None:
    status, text = await signed_in.page(f"/projects/{MINE}/actors")
    picker = text[text.index('class="project-picker"') : text.index("</form>", text.index("project-picker"))]
    assert re.findall(r'<option value="([^"]*)"', picker) == [MINE]
    status, text = await signed_in.page(f"/projects?project={THEIRS}")
    assert status == 403


async def test_a_post_without_the_sessions_csrf_token_is_refused(
    guarded: RunningServer, signed_in: ConsoleClient
) -> None:
    await signed_in.page(f"/projects/{MINE}/generate")
    form = {"story_style": "romance", "image_style": "webtoon"}
    for sent in ({"csrf": False}, {"data": form | {"csrf_token": "forged"}, "csrf": False}):
        async with await signed_in.post(
            f"/projects/{MINE}/generate", sent.pop("data", form), **sent
        ) as answer:
            assert answer.status == 403
            assert "This form has expired" in await answer.text()
    # Another session's token is no good either.
    async with console_client(base(guarded)) as other:
        await other.sign_in("mine-token")
        await other.page(f"/projects/{MINE}/generate")
        async with await signed_in.post(
            f"/projects/{MINE}/generate", form | {"csrf_token": other.csrf}, csrf=False
        ) as answer:
            assert answer.status == 403
    async with await signed_in.post(f"/projects/{MINE}/generate", form) as answer:
        assert answer.status == 303  # the preview: the same form, with its token, goes through
        assert answer.headers["Location"].startswith(f"/projects/{MINE}/sheets/")


async def test_posts_without_origin_or_from_elsewhere_and_foreign_hosts_are_refused(
    signed_in: ConsoleClient, guarded: RunningServer
) -> None:
    await signed_in.page(f"/projects/{MINE}/generate")
    path = f"/projects/{MINE}/generate"
    async with await signed_in.post(path, origin=False) as answer:
        assert answer.status == 403
        assert "sent from another site" in await answer.text()
    async with await signed_in.post(path, headers={"Origin": "http://evil.example"}) as answer:
        assert answer.status == 403
    # DNS rebinding: the attacker's name resolves here, so Host and Origin are both the attacker's.
    rebound = f"evil.example:{guarded.console_port}"
    async with await signed_in.post(path, headers={"Host": rebound, "Origin": f"http://{rebound}"}) as answer:
        assert answer.status == 400
        assert "does not answer to that address" in await answer.text()
    status, _ = await signed_in.page(f"/projects/{MINE}/actors", headers={"Host": rebound})
    assert status == 400
    for allowed in (f"localhost:{guarded.console_port}", f"[::1]:{guarded.console_port}"):
        assert (await signed_in.page(f"/projects/{MINE}/actors", headers={"Host": allowed}))[0] == 200


async def test_hosts_the_operator_names_are_answered(container: Container) -> None:
    serve_console(container, console_allowed_hosts="casting.studio.example, other.example")
    async with running(container) as live, console_client(base(live)) as client:
        host = {"Host": f"casting.studio.example:{live.console_port}"}
        assert (await client.page("/projects/studio/actors", headers=host))[0] == 200
        elsewhere = {"Host": f"evil.example:{live.console_port}"}
        assert (await client.page("/projects/studio/actors", headers=elsewhere))[0] == 400


async def test_the_session_cookie_is_httponly_and_samesite_strict(guarded: RunningServer) -> None:
    async with console_client(base(guarded)) as client:
        await client.page("/login")
        response = await client.post("/login", {"token": "mine-token"})
        response.release()
    (cookie,) = response.cookies.values()
    assert cookie.key == "casting"
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Strict"
    assert not cookie["secure"]  # plain HTTP: a Secure cookie would never come back


async def test_a_trusted_proxys_identity_is_limited_to_their_projects(guarded: RunningServer) -> None:
    async with console_client(base(guarded)) as client:
        mina = {"X-Forwarded-Email": "mina@studio.example"}
        status, text = await client.page(f"/projects/{MINE}/actors", headers=mina)
        assert status == 200 and 'id="viewer">mina@studio.example<' in text
        assert (await client.page(f"/projects/{THEIRS}/actors", headers=mina))[0] == 403
        stranger = {"X-Forwarded-Email": "someone@else.example"}
        assert (await client.page(f"/projects/{MINE}/actors", headers=stranger))[0] == 403


async def test_the_identity_header_is_believed_only_from_the_proxys_address(
    container: Container, tokens: Path
) -> None:
    serve_console(
        container,
        auth_tokens_file=str(tokens),
        console_identity_header="X-Forwarded-Email",
        console_proxy_addresses="192.0.2.10",  # not the test's own address
    )
    async with running(container) as live, console_client(base(live)) as client:
        status, text = await client.page(
            f"/projects/{MINE}/actors", headers={"X-Forwarded-Email": "mina@studio.example"}
        )
        assert "<h1>Sign in" in text


def connects(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=5).close()
        return True
    except ConnectionRefusedError:
        return False


async def test_the_console_and_metrics_listen_on_loopback_only_by_default(container: Container) -> None:
    # The whole of 127.0.0.0/8 reaches this machine, but a socket bound to 127.0.0.1 answers on
    # that address alone: 127.0.0.2 stands in for every other interface.
    serve_console(container, metrics_port=free_port(), host="[::]")
    settings = container.settings()
    async with running(container) as live:
        for port in (live.console_port, settings.metrics_port):
            assert await asyncio.to_thread(connects, "127.0.0.1", port)
            assert not await asyncio.to_thread(connects, "127.0.0.2", port)
        assert await asyncio.to_thread(connects, "127.0.0.2", live.port)  # gRPC: every interface
    serve_console(container, metrics_port=free_port(), console_host="0.0.0.0", metrics_host="0.0.0.0")
    async with running(container) as live:
        for port in (live.console_port, container.settings().metrics_port):
            assert await asyncio.to_thread(connects, "127.0.0.2", port)


async def test_sockets_that_send_nothing_or_a_byte_at_a_time_are_closed(container: Container) -> None:
    serve_console(container, console_idle_timeout_seconds=0.5)
    async with running(container) as live:
        silent_reader, silent = await asyncio.open_connection("127.0.0.1", live.console_port)
        slow_reader, slow = await asyncio.open_connection("127.0.0.1", live.console_port)

        async def dribble() -> None:
            """A request head one byte at a time, never finished, until the server hangs up."""
            head = f"GET /projects/studio/actors HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: {'a' * 4096}"
            for byte in head.encode():
                slow.write(bytes([byte]))
                await slow.drain()
                await asyncio.sleep(0.05)
            raise AssertionError("the server waited for the whole slow head")

        dribbling = asyncio.create_task(dribble())
        # Waits for the server to close each (EOF), however long that takes; nothing is answered.
        assert await silent_reader.read() == b""
        assert await slow_reader.read() == b""
        dribbling.cancel()
        await asyncio.gather(dribbling, return_exceptions=True)
        silent.close()
        slow.close()
        # A whole request on a new connection is answered as usual.
        async with console_client(base(live)) as client:
            assert (await client.page("/projects/studio/actors"))[0] == 200


@pytest.fixture
def certificates(pki: Pki) -> Pki:  # noqa: F811 (the imported fixture, by name)
    return pki


async def test_a_form_sent_a_byte_at_a_time_is_refused(container: Container) -> None:
    serve_console(container, console_body_timeout_seconds=0.5)
    async with running(container) as live:
        reader, writer = await asyncio.open_connection("127.0.0.1", live.console_port)
        origin = f"127.0.0.1:{live.console_port}"
        writer.write(
            f"POST /projects/studio/generate HTTP/1.1\r\nHost: {origin}\r\nOrigin: http://{origin}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 4096\r\n\r\n".encode()
        )

        async def dribble() -> None:
            for _ in range(4096):
                writer.write(b"a")
                await writer.drain()
                await asyncio.sleep(0.05)
            raise AssertionError("the server waited for the whole slow body")

        dribbling = asyncio.create_task(dribble())
        status_line = await reader.readline()  # waits for the answer, however long it takes
        dribbling.cancel()
        await asyncio.gather(dribbling, return_exceptions=True)
        writer.close()
    assert status_line.startswith(b"HTTP/1.1 408")


async def test_the_console_serves_tls_when_grpc_does(
    container: Container, tmp_path: Path, certificates: Pki, tokens: Path
) -> None:
    serve_console(
        container,
        tls_cert_file=write(tmp_path, "server.pem", certificates.server.cert),
        tls_key_file=write(tmp_path, "server.key", certificates.server.key),
        auth_tokens_file=str(tokens),
    )
    trust = ssl.create_default_context(cadata=certificates.ca.cert.decode())
    async with running(container) as live:
        https = f"https://localhost:{live.console_port}"
        async with console_client(https, connector=aiohttp.TCPConnector(ssl=trust)) as client:
            status, text = await client.page("/login")
            assert status == 200 and "<h1>Sign in" in text
            response = await client.post("/login", {"token": "mine-token"})
            response.release()
            assert response.status == 303
            (cookie,) = response.cookies.values()
            assert cookie.key == "__Host-casting"
            assert cookie["secure"] is True and cookie["httponly"] is True
            assert (await client.page(f"/projects/{MINE}/actors"))[0] == 200
        async with console_client(f"http://localhost:{live.console_port}") as plain:
            with pytest.raises(aiohttp.ClientError):
                await plain.page("/login")


async def test_with_client_certificates_required_the_console_requires_one_too(
    container: Container, tmp_path: Path, certificates: Pki
) -> None:
    serve_console(
        container,
        tls_cert_file=write(tmp_path, "server.pem", certificates.server.cert),
        tls_key_file=write(tmp_path, "server.key", certificates.server.key),
        tls_client_ca_file=write(tmp_path, "ca.pem", certificates.ca.cert),
    )
    async with running(container) as live:
        https = f"https://localhost:{live.console_port}"
        bare = ssl.create_default_context(cadata=certificates.ca.cert.decode())
        async with console_client(https, connector=aiohttp.TCPConnector(ssl=bare)) as client:
            with pytest.raises(aiohttp.ClientError):
                await client.page("/projects/studio/actors")
        certified = ssl.create_default_context(cadata=certificates.ca.cert.decode())
        certified.load_cert_chain(
            write(tmp_path, "client.pem", certificates.client.cert),
            write(tmp_path, "client.key", certificates.client.key),
        )
        async with console_client(https, connector=aiohttp.TCPConnector(ssl=certified)) as client:
            assert (await client.page("/projects/studio/actors"))[0] == 200
