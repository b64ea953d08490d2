"""Who may call, when the operator turns it on (everything here is off by default): TLS or mutual
TLS for the transport, and bearer tokens, each allowed a list of projects.

The token file holds sha256 digests, never tokens, so it is no secret itself:

    tokens:
      - name: story-pipeline                 # optional, shown in the logs
        token_sha256: 9f86d081884c7d65...    # hex sha256 of the token the caller sends
        projects: ["studio-1", "studio-2"]   # or ["*"]: every project

The console also lets in people that a trusted proxy signed in (an OIDC proxy naming them in
the header CASTING_CONSOLE_IDENTITY_HEADER); the same file says which projects each may use:

    people:
      - identity: mina@studio.example        # as the proxy names her
        projects: ["studio-1"]

It is read again whenever its modification time, size or inode changes, so tokens are added and
revoked without a restart. A file that no longer parses keeps the last good tokens (an editor
may be half-way through writing it) and is logged.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import yaml
from google.longrunning import operations_pb2
from google.rpc import code_pb2

from casting.domain import names
from casting.domain.errors import InvalidInput
from casting.server.errors import plain_status
from casting.server.interceptors import AroundInterceptor
from casting.server.settings import Settings
from casting.v1 import casting_pb2

log = logging.getLogger("casting.auth")

SERVICE = casting_pb2.DESCRIPTOR.services_by_name["CastingService"]
# CastStory's operations are guarded like the rest: their names carry the project.
OPERATIONS = operations_pb2.DESCRIPTOR.services_by_name["Operations"]
_GUARDED = tuple(f"/{service.full_name}/" for service in (SERVICE, OPERATIONS))
EVERY_PROJECT = "*"
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_BEARER = re.compile(r"bearer[ \t]+(\S+)[ \t]*", re.IGNORECASE)


def server_credentials(settings: Settings) -> grpc.ServerCredentials | None:
    """TLS credentials when a certificate is set (None: plaintext); with a client CA, every
    client must present a certificate that CA signed (mutual TLS)."""
    if not (settings.tls_cert_file or settings.tls_key_file or settings.tls_client_ca_file):
        return None
    if not (settings.tls_cert_file and settings.tls_key_file):
        raise ValueError("TLS needs both CASTING_TLS_CERT_FILE and CASTING_TLS_KEY_FILE")
    pair = (Path(settings.tls_key_file).read_bytes(), Path(settings.tls_cert_file).read_bytes())
    client_ca = Path(settings.tls_client_ca_file).read_bytes() if settings.tls_client_ca_file else None
    return grpc.ssl_server_credentials(
        [pair], root_certificates=client_ca, require_client_auth=client_ca is not None
    )


def console_ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """The console's TLS on the same files as gRPC's (None: plaintext): TLS when gRPC has it, and
    a client certificate required when gRPC requires one."""
    if server_credentials(settings) is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(settings.tls_cert_file, settings.tls_key_file)
    if settings.tls_client_ca_file:
        context.load_verify_locations(settings.tls_client_ca_file)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


@dataclass(frozen=True, slots=True)
class Grant:
    """One token (by digest) and the projects it may use."""

    name: str
    digest: bytes
    projects: frozenset[str]

    def allows(self, project: str) -> bool:
        return EVERY_PROJECT in self.projects or project in self.projects


@dataclass(frozen=True, slots=True)
class Access:
    """What a token file allows: its tokens, and the people a trusted proxy names, by identity
    (their grants carry no digest)."""

    tokens: tuple[Grant, ...]
    people: dict[str, Grant]


def parse_token_file(text: str) -> Access:
    """The grants of a token file (YAML or JSON); ValueError says what is wrong with it."""
    document = yaml.safe_load(text)
    entries = document.get("tokens") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise ValueError("the file must be a mapping with a `tokens` list")
    people = document.get("people", [])
    if not isinstance(people, list):
        raise ValueError("`people` must be a list")
    return Access(
        tuple(_grant(entry, index) for index, entry in enumerate(entries)),
        {person.name: person for person in (_person(entry, index) for index, entry in enumerate(people))},
    )


def _grant(entry: object, index: int) -> Grant:
    where = f"tokens[{index}]"
    if not isinstance(entry, dict):
        raise ValueError(f"{where} must be a mapping")
    digest = entry.get("token_sha256")
    if not isinstance(digest, str) or not _SHA256_HEX.fullmatch(digest.lower()):
        raise ValueError(f"{where}.token_sha256 must be 64 hex digits")
    return Grant(str(entry.get("name", where)), bytes.fromhex(digest), _projects(entry, where))


def _person(entry: object, index: int) -> Grant:
    where = f"people[{index}]"
    if not isinstance(entry, dict) or not isinstance(entry.get("identity"), str) or not entry["identity"]:
        raise ValueError(f"{where} must be a mapping with an `identity`")
    return Grant(entry["identity"], b"", _projects(entry, where))


def _projects(entry: dict[str, Any], where: str) -> frozenset[str]:
    projects = entry.get("projects")
    if not isinstance(projects, list) or not projects:
        raise ValueError(f"{where}.projects must be a non-empty list")
    allowed = set()
    for project in projects:
        if project == EVERY_PROJECT:
            allowed.add(project)
            continue
        try:
            allowed.add(names.parse_project(f"projects/{project}", "projects"))
        except InvalidInput:
            raise ValueError(f"{where}.projects: {project!r} is not a project id") from None
    return frozenset(allowed)


class TokenFile:
    """The grants of a token file, read again when the file changes."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._version = self._stat()
        # At start-up a bad file is the operator's mistake to see at once: it raises.
        self._access = parse_token_file(path.read_text())

    def _stat(self) -> tuple[int, int, int]:  # what changes when the file is edited or replaced
        stat = self._path.stat()
        return (stat.st_mtime_ns, stat.st_size, stat.st_ino)

    def grants(self) -> tuple[Grant, ...]:
        return self._current().tokens

    def _current(self) -> Access:
        try:
            version: tuple[int, int, int] | None = self._stat()
        except OSError:
            version = None  # gone, perhaps for a moment while it is replaced
        if version == self._version:
            return self._access
        self._version = version  # each change is read (and complained about) once
        try:
            if version is None:
                raise FileNotFoundError("the file is gone")
            self._access = parse_token_file(self._path.read_text())
            log.info("reloaded %d tokens from %s", len(self._access.tokens), self._path)
        except (OSError, ValueError, yaml.YAMLError) as error:
            log.error("keeping the last good tokens: cannot read %s: %s", self._path, error)
        return self._access

    def grant_for(self, token: str) -> Grant | None:
        """The grant of a presented token. Every digest is compared, in constant time, so the
        time taken says nothing about which digests are close."""
        return self.grant_with_digest(hashlib.sha256(token.encode()).digest())

    def grant_with_digest(self, digest: bytes) -> Grant | None:
        """The grant of the token with this digest, while the file still holds it (a console
        session keeps the digest and asks again on every request, so revoking ends it)."""
        found = None
        for grant in self.grants():
            if hmac.compare_digest(digest, grant.digest):
                found = grant
        return found

    def person(self, identity: str) -> Grant | None:
        """The grant of a person a trusted proxy names (the file's `people`)."""
        return self._current().people.get(identity)


Parser = Callable[[str, str], str]


def _child_project(parse: Callable[[str, str], Any]) -> Parser:
    return lambda value, field: str(parse(value, field).project)


_story_project = _child_project(names.parse_story)
_operation_project = _child_project(names.parse_operation)


# Every resource name each RPC carries, as (field path, parser to its project, required). An
# optional field left empty names no project; a malformed one is refused as the handler would.
_NAMES: dict[str, tuple[tuple[str, Parser, bool], ...]] = {
    "ListStyles": (),
    "GenerateSheet": (("parent", names.parse_project, True),),
    "GenerateSheets": (
        ("parent", names.parse_project, True),
        ("base_variant", _child_project(names.parse_variant), False),
        ("story", _story_project, False),
    ),
    "GetSheet": (("name", _child_project(names.parse_sheet), True),),
    "SaveActor": (("parent", names.parse_project, True), ("sheet", _child_project(names.parse_sheet), True)),
    "ImportActor": (("parent", names.parse_project, True),),
    "GetActor": (("name", _child_project(names.parse_actor), True), ("story", _story_project, False)),
    "ListActors": (("parent", names.parse_project, True),),
    "UpdateActor": (("actor.name", _child_project(names.parse_actor), True),),
    "DeleteActor": (("name", _child_project(names.parse_actor), True),),
    "BranchVariant": (
        ("base_variant", _child_project(names.parse_variant), True),
        ("story", _story_project, False),
        ("sheet", _child_project(names.parse_sheet), False),
    ),
    "GetVariant": (("name", _child_project(names.parse_variant), True),),
    "UpdateVariant": (("variant.name", _child_project(names.parse_variant), True),),
    "DeleteVariant": (("name", _child_project(names.parse_variant), True),),
    "CastVariant": (("variant", _child_project(names.parse_variant), True), ("story", _story_project, False)),
    "ListStoryCast": (("parent", _story_project, True),),
    "ReadImage": (("name", _child_project(names.parse_image), True),),
    # Each role's actor must be of the story's project: the use-case finds it there or not at all.
    "CastStory": (("story", _story_project, True),),
    "GetOperation": (("name", _operation_project, True),),
    "ListOperations": (("name", names.parse_operations, True),),
    "WaitOperation": (("name", _operation_project, True),),
    "CancelOperation": (("name", _operation_project, True),),
    "DeleteOperation": (("name", _operation_project, True),),
}
# A new RPC must say which names it carries before the server starts, or nobody could call it.
_METHODS = set(SERVICE.methods_by_name) | set(OPERATIONS.methods_by_name)
if set(_NAMES) != _METHODS:
    raise RuntimeError(f"auth does not know the names of {sorted(_METHODS ^ set(_NAMES))}")


def projects_of(method_name: str, request: Any) -> set[str]:
    """Every project a request names, parsed strictly; a malformed name raises InvalidInput."""
    found = set()
    for path, parse, required in _NAMES[method_name]:
        value = request
        for part in path.split("."):
            value = getattr(value, part)
        if value or required:
            found.add(parse(value, path))
    return found


class TokenAuthInterceptor(AroundInterceptor):
    """Bearer tokens for CastingService and its Operations (`authorization: Bearer <token>`): UNAUTHENTICATED
    without a known token, PERMISSION_DENIED for a project the token may not use (decided from
    the names alone, before anything is looked up). Health and reflection stay open."""

    def __init__(self, tokens: TokenFile) -> None:
        super().__init__()
        self._tokens = tokens

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        if not handler_call_details.method.startswith(_GUARDED):
            return await continuation(handler_call_details)
        return await super().intercept_service(continuation, handler_call_details)

    @asynccontextmanager
    async def around(
        self, method: str, request: Any, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[None]:
        grant = self._grant(context.invocation_metadata() or ())
        if grant is None:
            message = "send a valid token as `authorization: Bearer <token>`"
            await context.abort_with_status(
                plain_status(code_pb2.UNAUTHENTICATED, "UNAUTHENTICATED", message)
            )
            return
        refused = sorted(p for p in projects_of(method.rsplit("/", 1)[-1], request) if not grant.allows(p))
        if refused:
            log.warning("token %s refused %s for projects %s", grant.name, method, refused)
            message = f"this token may not use {names.project(refused[0])}"
            await context.abort_with_status(
                plain_status(code_pb2.PERMISSION_DENIED, "PERMISSION_DENIED", message)
            )
            return
        yield

    def _grant(self, metadata: Iterable[tuple[str, str | bytes]]) -> Grant | None:
        values = [value for key, value in metadata if key == "authorization"]
        if len(values) != 1 or not isinstance(values[0], str):
            return None
        bearer = _BEARER.fullmatch(values[0])
        return self._tokens.grant_for(bearer.group(1)) if bearer else None


def token_file(settings: Settings) -> TokenFile | None:
    """The operator's token file, when one is set (the embedded default has none)."""
    return TokenFile(Path(settings.auth_tokens_file)) if settings.auth_tokens_file else None


def auth_interceptors(tokens: TokenFile | None) -> list[grpc.aio.ServerInterceptor]:
    """The token interceptor when there is a token file; none otherwise."""
    return [TokenAuthInterceptor(tokens)] if tokens else []
