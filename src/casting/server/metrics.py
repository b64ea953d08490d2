"""Prometheus metrics: RPCs by method and status, generations by generator and outcome, model
latency and the model calls in flight, served over HTTP on CASTING_METRICS_PORT (0: off).

The metrics live in a registry the container owns, not prometheus_client's process-global
one, so that several servers in one process (the tests) keep separate counts.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from casting.adapters.generators.bounded import BoundedGenerator
from casting.domain.values import Usage
from casting.server.interceptors import RpcOutcome

# Seconds; sheets take tens of seconds on a real model, reads a few milliseconds.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120)


class Metrics:
    """The service's metric objects, in `registry`. It is the generators' GenerationObserver."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.rpcs = Counter(
            "casting_rpcs", "RPCs handled, by method and status code.", ["method", "code"], registry=registry
        )
        self.rpc_seconds = Histogram(
            "casting_rpc_duration_seconds",
            "RPC latency, by method.",
            ["method"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.generations = Counter(
            "casting_generations",
            "Image model calls, by generator, model and outcome (ok, or the domain error's reason).",
            ["generator", "model", "outcome"],
            registry=registry,
        )
        self.generation_seconds = Histogram(
            "casting_generation_duration_seconds",
            "Image model latency (retries included, queueing not), by generator and model.",
            ["generator", "model"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.cost = Counter(
            "casting_cost_usd",
            "What model calls cost, in USD at the price table's rates, by project.",
            ["project"],
            registry=registry,
        )
        self.generations_in_flight = Gauge(
            "casting_generations_in_flight", "Image model calls running now.", registry=registry
        )

    def rpc_finished(self, method: str, request: Any, outcome: RpcOutcome) -> None:
        """Counts and times an RPC by method and status code (an OutcomeObserver)."""
        self.rpcs.labels(method, outcome.code.name).inc()
        self.rpc_seconds.labels(method).observe(outcome.seconds)

    def generation_finished(self, generator: str, model: str, outcome: str, seconds: float) -> None:
        self.generations.labels(generator, model, outcome).inc()
        self.generation_seconds.labels(generator, model).observe(seconds)

    def spent(self, project: str, usage: Usage) -> None:
        """Counts a settled drawing's cost (a SpendObserver)."""
        self.cost.labels(project).inc(usage.cost_micros / 1_000_000)

    def count_in_flight(self, generator: BoundedGenerator) -> None:
        self.generations_in_flight.set_function(lambda: generator.in_flight)


def metrics_endpoint(metrics: Metrics, host: str, port: int) -> Iterator[int | None]:
    """The container's resource serving /metrics over HTTP on `port` (on its own thread, so that a
    busy event loop cannot stall a scrape) until shutdown; it yields the port, or None when
    `port` is 0 (off)."""
    if not port:
        yield None
        return
    server, thread = start_http_server(port, host.strip("[]"), registry=metrics.registry)
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
