"""Cross-cutting work around every RPC, as grpc.aio interceptors rather than code in handlers:
the caller's deadline handed to adapters, domain errors mapped to statuses, one log line."""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.message import DecodeError
from google.rpc import code_pb2

from casting.domain import deadline
from casting.domain.errors import DomainError, InvalidInput
from casting.server.errors import internal_status, plain_status, status_code, to_status

log = logging.getLogger("casting.rpc")


class AroundInterceptor(grpc.aio.ServerInterceptor):
    """Runs `around(method, request, context)` as an async context around each handler call."""

    def __init__(self) -> None:
        self._wrapped: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    def around(
        self, method: str, request: Any, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AbstractAsyncContextManager[None]:
        raise NotImplementedError

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        # A method's inner handler is the same object call after call (unless an inner
        # interceptor answers for itself), so it is wrapped once, not on every RPC.
        method = handler_call_details.method
        wrapped = self._wrapped.get(method)
        if wrapped is None or wrapped[0] is not handler:
            wrapped = (handler, self.wrap(method, handler))
            self._wrapped[method] = wrapped
        return wrapped[1]

    def wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        """`handler` with `around` around its calls."""
        if handler.unary_unary:
            inner_unary = handler.unary_unary

            async def unary(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
                async with self.around(method, request, context):
                    return await inner_unary(request, context)

            return grpc.unary_unary_rpc_method_handler(
                unary, handler.request_deserializer, handler.response_serializer
            )
        if handler.unary_stream:
            inner_stream = handler.unary_stream

            async def stream(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[Any]:
                async with self.around(method, request, context):
                    async for response in inner_stream(request, context):
                        yield response

            async def writer(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> None:
                # Handlers that answer with context.write instead of yielding (health's Watch).
                async with self.around(method, request, context):
                    await inner_stream(request, context)

            return grpc.unary_stream_rpc_method_handler(
                stream if inspect.isasyncgenfunction(inner_stream) else writer,
                handler.request_deserializer,
                handler.response_serializer,
            )
        return handler  # client-streaming RPCs (reflection) pass untouched


class _Undecodable:
    """Stands in for request bytes that do not parse, so that refusing them is a status of ours
    (grpc itself answers UNKNOWN, naming the parser's exception)."""


def _tolerant(deserializer: Callable[[bytes], Any]) -> Callable[[bytes], Any]:
    def parse(raw: bytes) -> Any:
        try:
            return deserializer(raw)
        except DecodeError:
            return _Undecodable()

    return parse


class ErrorInterceptor(AroundInterceptor):
    """Hands the caller's deadline to adapters, and turns every exception into a status: domain
    errors into their documented statuses, anything else into a bare INTERNAL (logged here,
    never shown to the caller). Request bytes that do not parse are INVALID_ARGUMENT."""

    def wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        wrapped = super().wrap(method, handler)
        if not (wrapped.unary_unary or wrapped.unary_stream):
            return wrapped
        return wrapped._replace(request_deserializer=_tolerant(wrapped.request_deserializer))

    @asynccontextmanager
    async def around(
        self, method: str, request: Any, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[None]:
        if isinstance(request, _Undecodable):
            await context.abort_with_status(to_status(InvalidInput.field("", "the request does not parse")))
        try:
            with deadline.bounded_by(context.time_remaining()):
                yield
        except (grpc.aio.AbortError, asyncio.CancelledError):
            raise
        except DomainError as error:
            await context.abort_with_status(to_status(error))
        except NotImplementedError:
            # The generated servicer's answer for a method of the contract not served yet.
            message = f"{method.rsplit('/', 1)[-1]} is not served yet"
            await context.abort_with_status(plain_status(code_pb2.UNIMPLEMENTED, "UNIMPLEMENTED", message))
        except Exception:
            log.exception("unexpected error in %s", method)
            await context.abort_with_status(internal_status())


@dataclass(frozen=True, slots=True)
class RpcOutcome:
    """How an RPC ended: its status code and how long it took."""

    code: grpc.StatusCode
    seconds: float


# Told how each RPC ended: (method, request, outcome).
OutcomeObserver = Callable[[str, Any, RpcOutcome], None]


class OutcomeInterceptor(AroundInterceptor):
    """Learns how each RPC ends and tells every observer, so that the log, the metrics and the
    trace all report the same status code. It sits inside the ErrorInterceptor, so it sees the
    domain error itself, and the observers finish before the status leaves for the caller (a
    caller who got its answer can already find the log line and the count). One interceptor for
    all of them: each layer costs every RPC a coroutine and a context manager."""

    def __init__(self, *observers: OutcomeObserver) -> None:
        super().__init__()
        self._observers = observers

    @asynccontextmanager
    async def around(
        self, method: str, request: Any, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[None]:
        started = time.perf_counter()
        code = grpc.StatusCode.OK
        try:
            yield
        except asyncio.CancelledError:
            code = grpc.StatusCode.CANCELLED
            raise
        except DomainError as error:
            code = status_code(error)
            raise
        except grpc.aio.AbortError:
            known = context.code()
            code = known if isinstance(known, grpc.StatusCode) else grpc.StatusCode.UNKNOWN
            raise
        except Exception:
            code = grpc.StatusCode.INTERNAL
            raise
        finally:
            outcome = RpcOutcome(code, time.perf_counter() - started)
            for observer in self._observers:
                observer(method, request, outcome)


def access_log(method: str, request: Any, outcome: RpcOutcome) -> None:
    """One log line per RPC (JSON with server/logs.py): method, project, status, duration,
    request id."""
    log.info(
        "%s %s",
        method,
        outcome.code.name,
        extra={
            "event": "rpc",
            "method": method,
            "project": _project_of(request),
            "code": outcome.code.name,
            "duration_ms": round(outcome.seconds * 1000, 2),
            "request_id": getattr(request, "request_id", ""),
        },
    )


def _project_of(request: Any) -> str:
    """The project a request is about, from the first resource name it carries."""
    for field in ("parent", "name", "base_variant", "variant", "actor", "sheet"):
        value = getattr(request, field, None)
        name = value if isinstance(value, str) else getattr(value, "name", "")
        if name.startswith("projects/"):
            return name.split("/")[1]
    return ""
