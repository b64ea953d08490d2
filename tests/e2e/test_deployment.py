"""A release as deploy/README.md runs it, on this machine: the migration Job, then the
Deployment's container as a process, with its ConfigMap, its Secrets (mounted as the kubelet
mounts them), PostgreSQL and S3. Only ports and endpoints differ, to local ones."""

from __future__ import annotations

import signal
import ssl
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import grpc
import pytest
from cryptography.fernet import Fernet

from casting.v1 import casting_pb2 as pb
from casting.v1 import casting_pb2_grpc
from tests.e2e.test_auth import Pki, bearer, pki, token_file, write  # noqa: F401 (pki is a fixture)
from tests.e2e.test_image import run_job
from tests.e2e.test_observability import generate_request, scrape
from tests.e2e.test_process import wait_until_serving
from tests.support.databases import PostgresCluster
from tests.support.fake_gemini import FakeGemini
from tests.support.manifests import manifests
from tests.support.pod import pod
from tests.support.ports import free_port
from tests.support.s3 import S3Bucket

MODEL = {"generator": "gemini", "model": "gemini-2.5-flash-image"}


def tokens(directory: Path, *grants: tuple[str, list[str]]) -> bytes:
    """A token file's content: each token's digest and the projects it may use."""
    path = directory / f"tokens-{uuid.uuid4().hex}.json"
    token_file(path, *grants)
    return path.read_bytes()


def refused_code(call: grpc.Future) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as error:
        call.result()
    return error.value.code()


@pytest.mark.postgres
def test_the_deployments_container_serves_with_its_configmap_and_secrets(
    postgres_cluster: PostgresCluster,
    s3_bucket: S3Bucket,
    fake_gemini: FakeGemini,
    pki: Pki,  # noqa: F811
    tmp_path: Path,
) -> None:
    database = f"deploy_{uuid.uuid4().hex[:12]}"
    postgres_cluster.execute(f"CREATE DATABASE {database}")
    try:
        run_job("casting-migrate", postgres_cluster.url(database), tmp_path)
        found = manifests()
        s3 = s3_bucket.environ()
        secrets = {
            "casting-database": {"url": postgres_cluster.url(database).encode()},
            "casting-gemini": {"api-key": b"test-key-not-real"},
            "casting-console": {"session-key": Fernet.generate_key()},
            "casting-blobs": {
                "access-key-id": s3["AWS_ACCESS_KEY_ID"].encode(),
                "secret-access-key": s3["AWS_SECRET_ACCESS_KEY"].encode(),
            },
            "casting-tls": {"tls.crt": pki.server.cert, "tls.key": pki.server.key, "ca.crt": pki.ca.cert},
            "casting-tokens": {"tokens.yaml": tokens(tmp_path, ("pipeline-token", ["studio-1"]))},
        }
        replica = pod(found, found.one("Deployment", "casting"), secrets, tmp_path)
        port, health_port, console_port, metrics_port = (free_port() for _ in range(4))
        with (tmp_path / "server.log").open("wb") as log:
            process = replica.start(
                log,
                CASTING_HOST="127.0.0.1",
                CASTING_PORT=str(port),
                CASTING_HEALTH_PORT=str(health_port),
                CASTING_CONSOLE_PORT=str(console_port),
                CASTING_METRICS_PORT=str(metrics_port),
                CASTING_BLOB_URL=s3_bucket.url("prod"),
                AWS_ENDPOINT_URL=s3["AWS_ENDPOINT_URL"],
                AWS_REGION=s3["AWS_REGION"],
                CASTING_GEMINI_BASE_URL=fake_gemini.base_url,
            )
        try:
            # The kubelet's grpc probe: plaintext, on the health port.
            wait_until_serving(health_port, process)
            client = grpc.ssl_channel_credentials(pki.ca.cert, pki.client.key, pki.client.cert)
            with grpc.secure_channel(f"127.0.0.1:{port}", client) as channel:
                stub = casting_pb2_grpc.CastingServiceStub(channel)
                sheet = stub.GenerateSheet(generate_request(), metadata=bearer("pipeline-token"), timeout=30)
                assert sheet.generation.generator == "gemini"
                assert refused_code(stub.ListStyles.future(pb.ListStylesRequest(), timeout=5)) is (
                    grpc.StatusCode.UNAUTHENTICATED
                )

                # The runbook's token rotation: the Secret changes, the kubelet swaps the files.
                rotated = tokens(tmp_path, ("rotated-token", ["studio-1"]))
                replica.volumes["casting-tokens"].publish({"tokens.yaml": rotated})
                stub.ListStyles(pb.ListStylesRequest(), metadata=bearer("rotated-token"), timeout=5)
                old = stub.ListStyles.future(
                    pb.ListStylesRequest(), metadata=bearer("pipeline-token"), timeout=5
                )
                assert refused_code(old) is grpc.StatusCode.UNAUTHENTICATED
            with grpc.insecure_channel(f"127.0.0.1:{port}") as plaintext:
                call = casting_pb2_grpc.CastingServiceStub(plaintext).ListStyles.future(
                    pb.ListStylesRequest(), timeout=5
                )
                assert refused_code(call) is grpc.StatusCode.UNAVAILABLE  # the main port is TLS only

            assert s3_bucket.object_names() == {f"prod/{sheet.image.sha256}"}
            assert scrape(metrics_port).value("casting_generations_total", **MODEL, outcome="ok") == 1
            # The console: HTTPS on the same certificate, a client certificate, then a sign-in.
            browser = ssl.create_default_context(cadata=pki.ca.cert.decode())
            browser.load_cert_chain(
                write(tmp_path, "client.pem", pki.client.cert), write(tmp_path, "client.key", pki.client.key)
            )
            opener = urllib.request.build_opener(
                urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=browser)
            )
            with opener.open(f"https://127.0.0.1:{console_port}/", timeout=10) as page:
                assert (page.status, urllib.parse.urlsplit(page.url).path) == (200, "/login")

            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=60) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    finally:
        postgres_cluster.execute(f"DROP DATABASE {database} WITH (FORCE)")
