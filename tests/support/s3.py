"""Pytest plugin: a real S3 endpoint (moto's server, in a subprocess) and a fresh bucket per test.

Without moto the S3 tests skip on a workstation and fail under CI=true, where a skip would
hide a missing tier.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.util import find_spec
from typing import IO, NoReturn
from xml.etree import ElementTree

import pytest

from tests.support.ports import free_port

_START_TIMEOUT = 30.0
_S3_XML = "{http://s3.amazonaws.com/doc/2006-03-01/}"


@dataclass(frozen=True, slots=True)
class S3Bucket:
    endpoint: str
    name: str

    def url(self, prefix: str = "blobs") -> str:
        return f"s3://{self.name}/{prefix}"

    def environ(self) -> dict[str, str]:
        """The standard AWS variables that point a client at this endpoint (moto accepts
        any credentials, but the client must sign with some)."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        }

    def put_object(self, path: str, data: bytes) -> None:
        """Writes an object behind every store's back, as another tenant of the bucket would."""
        _unsigned_put(f"{self.endpoint}/{self.name}/{path}", data)

    def object_names(self) -> set[str]:
        """The name of every object in the bucket, listed behind every store's back (S3's
        ListObjectsV2; a test bucket holds far fewer than one page of 1000)."""
        url = f"{self.endpoint}/{self.name}?list-type=2"
        with urllib.request.urlopen(url, timeout=10) as answer:
            listing = ElementTree.fromstring(answer.read())
        return {key.text or "" for key in listing.iter(f"{_S3_XML}Key")}


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """The URL of a moto S3 server on 127.0.0.1, up for the whole session."""
    if find_spec("moto") is None:
        _unavailable("moto is not installed (pip install 'moto[server]')")
    port = free_port()  # if taken again before moto binds it, _wait_until_up fails clearly
    endpoint = f"http://127.0.0.1:{port}"
    # moto logs every request: a file, not a pipe, so a full pipe can never stall it.
    with tempfile.TemporaryFile() as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_until_up(server, endpoint, log)
            yield endpoint
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


@pytest.fixture
def s3_bucket(s3_endpoint: str) -> S3Bucket:
    """A new, empty bucket for one test, so tests never see each other's objects."""
    name = f"casting-{uuid.uuid4().hex[:16]}"
    _unsigned_put(f"{s3_endpoint}/{name}", b"")
    return S3Bucket(s3_endpoint, name)


def _unsigned_put(url: str, data: bytes) -> None:
    # moto does not check signatures, so a bare PUT is enough to make a bucket or an object.
    request = urllib.request.Request(url, data=data, method="PUT")
    with urllib.request.urlopen(request, timeout=10):
        pass


def _wait_until_up(server: subprocess.Popen[bytes], endpoint: str, log: IO[bytes]) -> None:
    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            log.seek(0)
            output = log.read().decode(errors="replace")[-2000:]
            _unavailable(f"moto server exited with {server.returncode}: {output}")
        try:
            with urllib.request.urlopen(endpoint, timeout=1):
                return
        except urllib.error.HTTPError:
            return  # any HTTP answer means it is serving
        except OSError:
            time.sleep(0.1)
    _unavailable(f"moto server did not answer on {endpoint} within {_START_TIMEOUT:.0f}s")


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"S3 test server unavailable: {reason}", pytrace=False)
    pytest.skip(f"S3 test server unavailable: {reason}")
