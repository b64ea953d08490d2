"""The grpc.aio server: CastingService with health checking and reflection, stopped gracefully
(health flips to NOT_SERVING first, then in-flight calls get a grace period)."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import grpc
from google.longrunning import operations_pb2_grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from casting.server.auth import auth_interceptors, server_credentials
from casting.server.console.app import serving_console
from casting.server.container import Container, opened
from casting.server.interceptors import ErrorInterceptor, OutcomeInterceptor, StreamInterceptor, access_log
from casting.server.operations import SERVICE_NAME as OPERATIONS_SERVICE_NAME
from casting.server.tracing import tracing_interceptors
from casting.v1 import casting_pb2, casting_pb2_grpc

log = logging.getLogger("casting.server")

SERVICE_NAME = casting_pb2.DESCRIPTOR.services_by_name["CastingService"].full_name
# Room for an upload of the largest allowed image plus the rest of the request.
MESSAGE_OVERHEAD_BYTES = 1024 * 1024


@dataclass
class RunningServer:
    server: grpc.aio.Server
    health: health.aio.HealthServicer
    port: int
    console_port: int | None = None  # the Casting console's; None when it is off
    probes: grpc.aio.Server | None = None  # health alone in plaintext (CASTING_HEALTH_PORT)
    health_port: int | None = None

    async def stop(self, grace_seconds: float) -> None:
        """Flips health to NOT_SERVING so balancers stop sending calls, then lets in-flight
        calls finish within the grace period. Probes see NOT_SERVING until the end."""
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace_seconds)
        if self.probes is not None:
            await self.probes.stop(None)


@asynccontextmanager
async def running(container: Container) -> AsyncIterator[RunningServer]:
    """The service on the settings' host and port (0: a free port), until the block ends."""
    settings = container.settings()
    async with opened(container):
        max_message = settings.max_upload_bytes + MESSAGE_OVERHEAD_BYTES
        server = grpc.aio.server(
            # Errors become statuses outermost, so that the trace, log line and metrics inside
            # are complete before the caller gets its answer. The RPC's span encloses the rest,
            # so that SQL and model spans are its children. Auth runs inside the error
            # interceptor, so that a malformed name it parses is the handler's INVALID_ARGUMENT.
            interceptors=[
                ErrorInterceptor(),
                *tracing_interceptors(container.tracing()),
                OutcomeInterceptor(access_log, container.metrics().rpc_finished),
                *auth_interceptors(container.token_file()),
                StreamInterceptor(settings.stream_stall_seconds),
            ],
            options=[
                ("grpc.max_receive_message_length", max_message),
                ("grpc.max_send_message_length", max_message),
                # Advertised in SETTINGS: a client opens no more streams than this at once on a
                # connection (each may hold a file and a few MiB of buffers).
                ("grpc.max_concurrent_streams", settings.max_streams_per_connection),
                ("grpc.keepalive_time_ms", 60_000),
                ("grpc.keepalive_timeout_ms", 20_000),
                ("grpc.http2.min_ping_interval_without_data_ms", 30_000),
            ],
        )
        casting_pb2_grpc.add_CastingServiceServicer_to_server(container.servicer(), server)
        operations_pb2_grpc.add_OperationsServicer_to_server(container.operations_servicer(), server)
        health_servicer = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
        reflection.enable_server_reflection(
            (SERVICE_NAME, OPERATIONS_SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), server
        )
        address, credentials = f"{settings.host}:{settings.port}", server_credentials(settings)
        if credentials is None:
            port = server.add_insecure_port(address)
        else:
            port = server.add_secure_port(address, credentials)
        await server.start()
        live = RunningServer(server, health_servicer, port)
        if settings.health_port:
            live.probes = grpc.aio.server()
            health_pb2_grpc.add_HealthServicer_to_server(health_servicer, live.probes)
            live.health_port = live.probes.add_insecure_port(f"{settings.host}:{settings.health_port}")
            await live.probes.start()
        for service in ("", SERVICE_NAME, OPERATIONS_SERVICE_NAME):
            await health_servicer.set(service, health_pb2.HealthCheckResponse.SERVING)
        log.info("casting serving on port %d with the %s generator", port, settings.chosen_generator)
        # CastStory's steps start here; roles a stopped or crashed process left go back to them.
        await container.casting_engine().start(container.resume_casting())
        # Garbage collection in the background; an interval of 0 leaves it to `casting collect`.
        collecting = (
            asyncio.create_task(container.collect_garbage().every(container.collect_interval()))
            if settings.collect_interval_seconds > 0
            else None
        )
        try:
            async with serving_console(container) as live.console_port:
                yield live
        finally:
            if collecting is not None:
                collecting.cancel()
                await asyncio.wait([collecting])
            await live.stop(settings.grace_period_seconds)
            await container.casting_engine().aclose()


def freeze_startup_heap() -> None:
    """Puts what starting allocated (modules, descriptors, mappers, the container's graph: some
    190,000 objects) out of the cyclic collector's reach. Otherwise every full collection walks
    them all: ~100 ms, once every ten or so ListActors calls, which made that call's p99 six
    times its p50 (bench/README.md). Once per process: `serve` calls it, not `running`, which
    tests enter many times."""
    gc.collect()
    gc.freeze()


async def serve(container: Container) -> None:
    """Serves until SIGTERM or SIGINT, then stops gracefully."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    async with running(container):
        freeze_startup_heap()
        await stopping.wait()
        log.info("casting stopping: health is NOT_SERVING, draining in-flight calls")
