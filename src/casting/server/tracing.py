"""OpenTelemetry traces: a server span per RPC (joining the caller's trace from its
`traceparent` metadata), a child span per SQL statement and per model call.

Exporting is off unless the standard variables ask for it: OTEL_TRACES_EXPORTER=otlp (OTLP over
HTTP/protobuf, configured by the OTEL_EXPORTER_OTLP_* variables), console, or none; setting only
OTEL_EXPORTER_OTLP_ENDPOINT (or its _TRACES_ form) means otlp. OTEL_SERVICE_NAME names the service
(default "casting").

The RPC span comes from an interceptor of ours rather than opentelemetry-instrumentation-grpc:
that one records a status set with `abort_with_status` (every error of this service) as OK.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import grpc
from opentelemetry import propagate, trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

from casting.server.interceptors import OutcomeInterceptor, RpcOutcome

# Server-side statuses that are the server's failure (OpenTelemetry's RPC conventions); the
# others are the caller's mistake and leave the span's status unset.
_SERVER_ERRORS = frozenset(
    {
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DATA_LOSS,
    }
)


def exporters_from_environment(environ: Mapping[str, str] = os.environ) -> list[SpanExporter]:
    """The exporters OTEL_TRACES_EXPORTER names (comma-separated); none unless configured."""
    names = environ.get("OTEL_TRACES_EXPORTER", "").strip()
    if not names:
        endpoint_set = any(
            environ.get(v) for v in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        )
        names = "otlp" if endpoint_set else "none"
    exporters: list[SpanExporter] = []
    for name in (n.strip().lower() for n in names.split(",")):
        if name == "otlp":
            exporters.append(OTLPSpanExporter())
        elif name == "console":
            exporters.append(ConsoleSpanExporter())
        elif name != "none":
            raise ValueError(f"OTEL_TRACES_EXPORTER: unknown exporter {name!r} (otlp, console or none)")
    return exporters


def tracer_provider(exporters: list[SpanExporter]) -> Iterator[trace.TracerProvider]:
    """The container's resource: a tracer provider sending spans to `exporters` in batches; its
    shutdown flushes what is left. With no exporter, spans would go nowhere: none are recorded
    at all, so tracing costs nothing until it is configured."""
    if not exporters:
        yield trace.NoOpTracerProvider()
        return
    provider = TracerProvider(
        resource=Resource.create({SERVICE_NAME: os.environ.get("OTEL_SERVICE_NAME", "casting")})
    )
    for exporter in exporters:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    try:
        yield provider
    finally:
        provider.shutdown()


def tracing_interceptors(provider: trace.TracerProvider) -> list[grpc.aio.ServerInterceptor]:
    """The RPC span's interceptor; none when no spans are recorded, so that tracing costs an
    unconfigured server nothing per call."""
    if isinstance(provider, trace.NoOpTracerProvider):
        return []
    return [TracingInterceptor(provider)]


class TracingInterceptor(OutcomeInterceptor):
    """A server span per RPC, current while the handler runs, so that SQL and model spans are
    its children; it carries the same status code as the log line."""

    def __init__(self, provider: trace.TracerProvider) -> None:
        super().__init__(_span_status)
        self._tracer = provider.get_tracer("casting.server")

    @asynccontextmanager
    async def around(
        self, method: str, request: Any, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[None]:
        service, _, name = method.lstrip("/").partition("/")
        with self._tracer.start_as_current_span(
            method.lstrip("/"),
            context=propagate.extract(dict(context.invocation_metadata() or ())),
            kind=trace.SpanKind.SERVER,
            attributes={"rpc.system": "grpc", "rpc.service": service, "rpc.method": name},
            record_exception=False,
            set_status_on_exception=False,
        ):
            async with super().around(method, request, context):
                yield


def _span_status(method: str, request: Any, outcome: RpcOutcome) -> None:
    span = trace.get_current_span()
    span.set_attribute("rpc.grpc.status_code", outcome.code.value[0])
    if outcome.code in _SERVER_ERRORS:
        span.set_status(trace.StatusCode.ERROR, outcome.code.name)
