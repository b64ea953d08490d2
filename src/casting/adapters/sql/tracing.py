"""A span per SQL statement, for the tracer provider the server configures."""

from __future__ import annotations

from opentelemetry import metrics, trace
from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
from sqlalchemy import Engine
from sqlalchemy.ext.asyncio import AsyncEngine


def trace_statements(engine: AsyncEngine | Engine, provider: trace.TracerProvider) -> None:
    """A span per SQL statement on `engine`. EngineTracer hooks one engine; the instrumentor's
    instrument() would patch SQLAlchemy process-wide, once, for one provider."""
    if isinstance(provider, trace.NoOpTracerProvider):
        return  # no hooks on every statement for spans no one records
    tracer = provider.get_tracer("opentelemetry.instrumentation.sqlalchemy")
    # The connection-usage metric is not wanted: Prometheus has the service's metrics.
    unused = metrics.NoOpMeterProvider().get_meter(__name__).create_up_down_counter("db.client.connections")
    EngineTracer(tracer, engine.sync_engine if isinstance(engine, AsyncEngine) else engine, unused)
