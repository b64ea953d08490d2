"""Cross-cutting work around every RPC, as grpc.aio interceptors rather than code in handlers:
the caller's deadline handed to adapters, domain errors mapped to statuses, one log line."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import grpc

from casting.domain import deadline
from casting.domain.errors import DomainError
from casting.server.errors import internal_status, to_status

log = logging.getLogger("casting.rpc")


class AroundInterceptor(grpc.aio.ServerInterceptor):
    """Runs `around(method, request, context)` as an async context around each handler call."""

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
        method = handler_call_details.method
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

            return grpc.unary_stream_rpc_method_handler(
                stream, handler.request_deserializer, handler.response_serializer
            )
        return handler  # client-streaming RPCs (reflection) pass untouched


class ErrorInterceptor(AroundInterceptor):
    """Hands the caller's deadline to adapters, and turns every exception into a status: domain
    errors into their documented statuses, anything else into a bare INTERNAL (logged here,
    never shown to the caller)."""

    @asynccontextmanager
    async def around(
        self, method: str, request: Any, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[None]:
        try:
            with deadline.bounded_by(context.time_remaining()):
                yield
        except (grpc.aio.AbortError, asyncio.CancelledError):
            raise
        except DomainError as error:
            await context.abort_with_status(to_status(error))
        except Exception:
            log.exception("unexpected error in %s", method)
            await context.abort_with_status(internal_status())


class AccessLogInterceptor(AroundInterceptor):
    """One JSON line per RPC: method, project, status, duration, request id."""

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
        except BaseException:
            code = context.code() or grpc.StatusCode.UNKNOWN
            raise
        finally:
            log.info(
                json.dumps(
                    {
                        "event": "rpc",
                        "method": method,
                        "project": _project_of(request),
                        "code": code.name if isinstance(code, grpc.StatusCode) else str(code),
                        "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                        "request_id": getattr(request, "request_id", ""),
                    }
                )
            )


def _project_of(request: Any) -> str:
    """The project a request is about, from the first resource name it carries."""
    for field in ("parent", "name", "base_variant", "variant", "actor", "sheet"):
        value = getattr(request, field, None)
        name = value if isinstance(value, str) else getattr(value, "name", "")
        if name.startswith("projects/"):
            return name.split("/")[1]
    return ""
