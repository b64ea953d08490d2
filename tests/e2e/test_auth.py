"""Authentication when the operator turns it on: TLS, mutual TLS and bearer tokens per project,
against the real server with certificates made here."""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import ipaddress
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from casting.server.container import Container
from casting.server.main import SERVICE_NAME, RunningServer, running
from casting.v1 import casting_pb2 as pb
from casting.v1 import casting_pb2_grpc
from tests.e2e.rich_errors import details_of
from tests.e2e.test_flow import P
from tests.support.ports import free_port

# Authentication does not depend on the database: one backend is enough.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@dataclass(frozen=True)
class Issued:
    key: bytes
    cert: bytes


@dataclass(frozen=True)
class Pki:
    ca: Issued
    server: Issued
    client: Issued
    stranger: Issued  # a client certificate from a CA the server does not trust


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _issue(
    common_name: str,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None = None,
    *,
    server: bool = False,
) -> tuple[Issued, x509.Name, ec.EllipticCurvePrivateKey]:
    """A certificate for `common_name`, signed by `issuer` (self-signed CA when None)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    issuer_name, issuer_key = issuer or (subject, key)
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
    cert = builder.sign(issuer_key, hashes.SHA256())
    return Issued(_pem_key(key), cert.public_bytes(serialization.Encoding.PEM)), subject, key


@pytest.fixture(scope="module")
def pki() -> Pki:
    ca, ca_name, ca_key = _issue("casting test CA")
    server, _, _ = _issue("localhost", (ca_name, ca_key), server=True)
    client, _, _ = _issue("story-pipeline", (ca_name, ca_key))
    _, other_name, other_key = _issue("another CA")
    stranger, _, _ = _issue("stranger", (other_name, other_key))
    return Pki(ca, server, client, stranger)


def write(tmp_path: Path, name: str, content: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(content)
    return str(path)


def mutual_tls(tmp_path: Path, pki: Pki) -> dict[str, object]:
    """Settings for mutual TLS: the server's certificate, and the CA its clients' must chain to."""
    return {
        "tls_cert_file": write(tmp_path, "server.pem", pki.server.cert),
        "tls_key_file": write(tmp_path, "server.key", pki.server.key),
        "tls_client_ca_file": write(tmp_path, "ca.pem", pki.ca.cert),
    }


@asynccontextmanager
async def serving(container: Container, **settings: object) -> AsyncIterator[RunningServer]:
    container.settings.override(container.settings().model_copy(update=settings))
    async with running(container) as live:
        yield live


async def list_styles(channel: grpc.aio.Channel, **call: object) -> pb.ListStylesResponse:
    return await casting_pb2_grpc.CastingServiceStub(channel).ListStyles(pb.ListStylesRequest(), **call)


def tls_channel(port: int, pki: Pki, client: Issued | None = None) -> grpc.aio.Channel:
    credentials = grpc.ssl_channel_credentials(
        root_certificates=pki.ca.cert,
        private_key=client.key if client else None,
        certificate_chain=client.cert if client else None,
    )
    return grpc.aio.secure_channel(f"127.0.0.1:{port}", credentials)


async def test_tls_serves_a_client_that_trusts_the_ca(container, pki: Pki, tmp_path: Path) -> None:
    tls = {
        "tls_cert_file": write(tmp_path, "server.pem", pki.server.cert),
        "tls_key_file": write(tmp_path, "server.key", pki.server.key),
    }
    async with serving(container, **tls) as live:
        async with tls_channel(live.port, pki) as channel:
            assert (await list_styles(channel)).story_styles
        async with grpc.aio.insecure_channel(f"127.0.0.1:{live.port}") as plaintext:
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await list_styles(plaintext, timeout=5)
            assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_mutual_tls_refuses_clients_without_a_trusted_certificate(
    container, pki: Pki, tmp_path: Path
) -> None:
    async with serving(container, **mutual_tls(tmp_path, pki)) as live:
        async with tls_channel(live.port, pki, pki.client) as channel:
            assert (await list_styles(channel)).image_styles
        for client in (None, pki.stranger):
            async with tls_channel(live.port, pki, client) as channel:
                with pytest.raises(grpc.aio.AioRpcError) as refused:
                    await list_styles(channel, timeout=5)
                assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_with_mutual_tls_the_health_port_answers_probes_in_plaintext_and_nothing_else(
    container, pki: Pki, tmp_path: Path
) -> None:
    async with (
        serving(container, **mutual_tls(tmp_path, pki), health_port=free_port()) as live,
        grpc.aio.insecure_channel(f"127.0.0.1:{live.health_port}") as probe,
    ):
        health = health_pb2_grpc.HealthStub(probe)
        checked = await health.Check(health_pb2.HealthCheckRequest(service=SERVICE_NAME), timeout=5)
        assert checked.status == health_pb2.HealthCheckResponse.SERVING
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await list_styles(probe, timeout=5)
        assert refused.value.code() == grpc.StatusCode.UNIMPLEMENTED

        watch = health.Watch(health_pb2.HealthCheckRequest())
        assert (await watch.read()).status == health_pb2.HealthCheckResponse.SERVING
        stopping = asyncio.create_task(live.stop(5))
        # A stopping replica fails its probes while it drains.
        assert (await watch.read()).status == health_pb2.HealthCheckResponse.NOT_SERVING
        watch.cancel()
        await stopping


def token_file(path: Path, *grants: tuple[str, list[str]]) -> None:
    """Writes a token file holding only the tokens' digests."""
    entries = [
        {
            "name": f"client-{i}",
            "token_sha256": hashlib.sha256(token.encode()).hexdigest(),
            "projects": projects,
        }
        for i, (token, projects) in enumerate(grants)
    ]
    path.write_text(json.dumps({"tokens": entries}))


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


@pytest.fixture
async def guarded(container, tmp_path: Path) -> AsyncIterator[tuple[grpc.aio.Channel, Path]]:
    """A server asking for tokens ("studio-token" may use studio-1, "admin-token" every project),
    a plaintext channel to it, and its token file."""
    tokens = tmp_path / "tokens.json"
    token_file(tokens, ("studio-token", ["studio-1"]), ("admin-token", ["*"]))
    async with (
        serving(container, auth_tokens_file=str(tokens)) as live,
        grpc.aio.insecure_channel(f"127.0.0.1:{live.port}") as channel,
    ):
        yield channel, tokens


async def refusal(call) -> tuple[grpc.StatusCode, str, str]:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await call
    found = details_of(error.value)
    assert found.domain == "casting.webtoon"
    return found.code, found.reason, found.message


async def test_tokens_decide_who_may_use_which_project(guarded) -> None:
    channel, _ = guarded
    stub = casting_pb2_grpc.CastingServiceStub(channel)
    listing = pb.ListActorsRequest(parent=P)
    unauthenticated = (grpc.StatusCode.UNAUTHENTICATED, "UNAUTHENTICATED")
    for metadata in [(), bearer("wrong-token"), (("authorization", "studio-token"),), bearer("")]:
        code, reason, _ = await refusal(stub.ListActors(listing, metadata=metadata))
        assert (code, reason) == unauthenticated
    assert list((await stub.ListActors(listing, metadata=bearer("studio-token"))).actors) == []
    other = pb.ListActorsRequest(parent="projects/studio-2")
    code, reason, message = await refusal(stub.ListActors(other, metadata=bearer("studio-token")))
    assert (code, reason) == (grpc.StatusCode.PERMISSION_DENIED, "PERMISSION_DENIED")
    assert "studio-2" in message
    await stub.ListActors(other, metadata=bearer("admin-token"))


async def test_a_request_naming_two_projects_needs_both(guarded) -> None:
    channel, _ = guarded
    stub = casting_pb2_grpc.CastingServiceStub(channel)
    sheet = await stub.GenerateSheet(
        pb.GenerateSheetRequest(parent=P, story_style="romance", image_style="webtoon"),
        metadata=bearer("studio-token"),
    )
    # The token may use studio-1 (the sheet's project) but not studio-2 (the parent).
    save = pb.SaveActorRequest(parent="projects/studio-2", sheet=sheet.name, display_name="Mina")
    code, _, _ = await refusal(stub.SaveActor(save, metadata=bearer("studio-token")))
    assert code == grpc.StatusCode.PERMISSION_DENIED
    actor = await stub.SaveActor(
        pb.SaveActorRequest(parent=P, sheet=sheet.name, display_name="Mina"), metadata=bearer("studio-token")
    )
    cast_elsewhere = pb.CastVariantRequest(variant=actor.default_variant, story="projects/studio-2/stories/s")
    code, _, _ = await refusal(stub.CastVariant(cast_elsewhere, metadata=bearer("studio-token")))
    assert code == grpc.StatusCode.PERMISSION_DENIED
    malformed = pb.GetActorRequest(name="projects/studio-1/actors/not-a-uuid")
    found = await stub.GetActor(malformed, metadata=bearer("studio-token")).code()
    assert found == grpc.StatusCode.INVALID_ARGUMENT


async def test_an_edited_token_file_takes_effect_without_a_restart(guarded) -> None:
    channel, tokens = guarded
    stub = casting_pb2_grpc.CastingServiceStub(channel)
    request = pb.ListActorsRequest(parent="projects/studio-2")
    code, _, _ = await refusal(stub.ListActors(request, metadata=bearer("new-token")))
    assert code == grpc.StatusCode.UNAUTHENTICATED
    token_file(tokens, ("new-token", ["studio-2"]))
    await stub.ListActors(request, metadata=bearer("new-token"))
    code, _, _ = await refusal(stub.ListActors(request, metadata=bearer("admin-token")))
    assert code == grpc.StatusCode.UNAUTHENTICATED  # revoked
    tokens.write_text("tokens: [half-written")
    await stub.ListActors(request, metadata=bearer("new-token"))  # the last good file still holds


async def test_health_and_reflection_need_no_token(guarded) -> None:
    channel, _ = guarded
    health = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
    answers = reflection.ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")])
    )
    services = [s.name async for answer in answers for s in answer.list_services_response.service]
    assert "casting.v1.CastingService" in services
