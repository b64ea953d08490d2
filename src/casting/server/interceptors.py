"""Cross-cutting work around every RPC, as grpc.aio interceptors rather than code in handlers:
the caller's deadline handed to adapters, domain errors mapped to statuses, one log line."""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, aclosing, asynccontextmanager
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

            async def writer(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> None:
                async with self.around(method, request, context):
                    if inspect.isasyncgenfunction(inner_stream):
                        await write_all(inner_stream(request, context), context)
                    else:  # it writes itself (health's Watch, or StreamInterceptor inside)
                        await inner_stream(request, context)

            return grpc.unary_stream_rpc_method_handler(
                writer, handler.request_deserializer, handler.response_serializer
            )
        return handler  # client-streaming RPCs (reflection) pass untouched


async def write_all(
    responses: AsyncGenerator[Any],
    context: grpc.aio.ServicerContext[Any, Any],
    stall_seconds: float | None = None,
) -> None:
    """Writes a stream handler's answers with context.write, in the call's own task, rather than
    leaving the generator to grpc: a call cancelled meanwhile then raises CancelledError here, in
    the task whose context the interceptors entered (grpc would leave the generator suspended,
    to be finalized later in another context: a ContextVar reset there failed, and the
    GeneratorExit looked like OK), and the generator is closed at once, releasing what it holds
    (an open blob).

    A write that does not complete within `stall_seconds` (a client that reads nothing: its
    HTTP/2 window stays at zero) ends the handler as a cancelled call, closing the generator.
    grpc-python has no way to reset one stream from the server, and a status cannot overtake
    the pending write, so the stream itself and the one message grpc accepted stay until the
    client reads again or goes (the stream limit per connection bounds how many)."""
    async with aclosing(responses):
        async for response in responses:
            try:
                async with asyncio.timeout(stall_seconds):
                    await context.write(response)
            except TimeoutError:
                log.warning("ended a stream whose client read nothing for %g s", stall_seconds)
                raise asyncio.CancelledError from None
            except grpc.aio.InternalError:
                # gRPC failed the write: the client reset the stream or left, and the call's
                # cancellation is on its way to this task. Nobody is left to answer.
                raise asyncio.CancelledError from None


class StreamInterceptor(AroundInterceptor):
    """The innermost interceptor: writes every streaming handler's answers (write_all) within a
    per-write deadline, so that a stalled client cannot hold a stream, its buffers and its file
    for longer than `stall_seconds`."""

    def __init__(self, stall_seconds: float) -> None:
        super().__init__()
        self._stall_seconds = stall_seconds

    def wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        inner_stream = handler.unary_stream
        if not inspect.isasyncgenfunction(inner_stream):
            return handler

        async def writer(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> None:
            await write_all(inner_stream(request, context), context, self._stall_seconds)

        return handler._replace(unary_stream=writer)


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
