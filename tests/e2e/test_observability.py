"""What an operator sees of real calls to the real server: Prometheus metrics scraped over HTTP,
one JSON log line per RPC and per model call, and a trace per RPC with its SQL and model spans."""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.request
from dataclasses import dataclass

import grpc
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import ConsoleSpanExporter
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from prometheus_client.parser import text_string_to_metric_families

from casting.server.container import Container
from casting.server.logs import JsonFormatter
from casting.server.main import RunningServer, running
from casting.server.tracing import exporters_from_environment
from casting.v1 import casting_pb2 as pb
from casting.v1 import casting_pb2_grpc
from tests.e2e.conftest import drawing_with_gemini
from tests.e2e.test_flow import TRAITS, P
from tests.support import fake_gemini as gemini
from tests.support.fake_gemini import FakeGemini
from tests.support.ports import free_port

SERVICE = "/casting.v1.CastingService"
MISSING_ACTOR = f"{P}/actors/00000000-0000-4000-8000-000000000000"
# W3C trace context, as a caller already inside a trace sends it.
CALLER_TRACE_ID = 0x0AF7651916CD43DD8448EB211C80319C
CALLER_SPAN_ID = 0xB7AD6B7169203331
TRACEPARENT = f"00-{CALLER_TRACE_ID:032x}-{CALLER_SPAN_ID:016x}-01"


@dataclass(frozen=True)
class Scrape:
    """One scrape of the metrics endpoint: every sample by name and labels."""

    samples: dict[tuple[str, frozenset[tuple[str, str]]], float]

    def value(self, name: str, **labels: str) -> float | None:
        return self.samples.get((name, frozenset(labels.items())))


def scrape(port: int) -> Scrape:
    """GET /metrics the way Prometheus does (no proxy: the endpoint is on this machine)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return Scrape(
        {
            (sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }
    )


@pytest.fixture
def spans() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def container(container: Container, spans: InMemorySpanExporter) -> Container:
    settings = container.settings().model_copy(update={"metrics_port": free_port()})
    container.settings.override(settings)
    container.span_exporters.override([spans])
    return container


def generate_request(request_id: str = "") -> pb.GenerateSheetRequest:
    return pb.GenerateSheetRequest(
        parent=P, story_style="romance", image_style="webtoon", traits=TRAITS, request_id=request_id
    )


async def test_metrics_count_rpcs_by_method_and_code_and_generations_by_outcome(
    stub, container: Container
) -> None:
    await stub.GenerateSheet(generate_request())
    with pytest.raises(grpc.aio.AioRpcError):
        await stub.GetActor(pb.GetActorRequest(name=MISSING_ACTOR))

    metrics = await asyncio.to_thread(scrape, container.settings().metrics_port)

    assert metrics.value("casting_rpcs_total", method=f"{SERVICE}/GenerateSheet", code="OK") == 1
    assert metrics.value("casting_rpcs_total", method=f"{SERVICE}/GetActor", code="NOT_FOUND") == 1
    assert metrics.value("casting_rpc_duration_seconds_count", method=f"{SERVICE}/GenerateSheet") == 1
    offline = {"generator": "offline", "model": "procedural-v1"}
    assert metrics.value("casting_generations_total", **offline, outcome="ok") == 1
    assert metrics.value("casting_generation_duration_seconds_count", **offline) == 1
    assert metrics.value("casting_generations_in_flight") == 0


async def test_a_refused_generation_is_counted_by_its_reason(
    container: Container, fake_gemini: FakeGemini
) -> None:
    settings = drawing_with_gemini(container, fake_gemini).settings()
    fake_gemini.script(gemini.finished("IMAGE_SAFETY"))
    async with running(container) as live, grpc.aio.insecure_channel(f"127.0.0.1:{live.port}") as channel:
        with pytest.raises(grpc.aio.AioRpcError):
            await casting_pb2_grpc.CastingServiceStub(channel).GenerateSheet(generate_request())
        metrics = await asyncio.to_thread(scrape, settings.metrics_port)

    model = {"generator": "gemini", "model": settings.gemini_model}
    assert metrics.value("casting_generations_total", **model, outcome="generation_blocked") == 1
    assert metrics.value("casting_generations_total", **model, outcome="ok") is None
    code = {"method": f"{SERVICE}/GenerateSheet", "code": "FAILED_PRECONDITION"}
    assert metrics.value("casting_rpcs_total", **code) == 1


async def test_what_each_projects_drawings_cost_is_counted_and_logged(
    container: Container, fake_gemini: FakeGemini, caplog: pytest.LogCaptureFixture
) -> None:
    # The drawings alone (verification off): a look's judgement is not an image model's line.
    settings = drawing_with_gemini(container, fake_gemini, verify="off").settings()
    caplog.set_level(logging.INFO, logger="casting")
    fake_gemini.script(gemini.finished("IMAGE_SAFETY"))  # refused, and charged what it billed
    async with running(container) as live, grpc.aio.insecure_channel(f"127.0.0.1:{live.port}") as channel:
        stub = casting_pb2_grpc.CastingServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError):
            await stub.GenerateSheet(generate_request())
        sheet = await stub.GenerateSheet(generate_request())
        metrics = await asyncio.to_thread(scrape, settings.metrics_port)

    lines = [json.loads(JsonFormatter().format(record)) for record in caplog.records]
    refused, drawn = [line for line in lines if line.get("event") == "generation"]
    assert (refused["outcome"], refused["model_calls"], refused["output_tokens"]) == (
        "generation_blocked",
        1,
        0,
    )
    assert refused["input_tokens"] > 0 and refused["cost_micros"] > 0
    usage = sheet.generation.usage
    assert (drawn["outcome"], drawn["cost_micros"], drawn["output_tokens"]) == (
        "ok",
        usage.cost_micros,
        usage.output_tokens,
    )
    counted = metrics.value("casting_cost_usd_total", project="studio-1")
    assert counted == pytest.approx((refused["cost_micros"] + usage.cost_micros) / 1e6)


async def test_each_rpc_and_model_call_logs_one_json_line(stub, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="casting")
    await stub.GenerateSheet(generate_request(request_id="9b6f4a1e-3c2d-4e5f-8a7b-0c1d2e3f4a5b"))
    with pytest.raises(grpc.aio.AioRpcError):
        await stub.GetActor(pb.GetActorRequest(name=MISSING_ACTOR))

    lines = [json.loads(JsonFormatter().format(record)) for record in caplog.records]
    rpcs = {line["method"]: line for line in lines if line.get("event") == "rpc"}
    generate = rpcs[f"{SERVICE}/GenerateSheet"]
    assert generate["project"] == "studio-1"
    assert generate["code"] == "OK"
    assert generate["request_id"] == "9b6f4a1e-3c2d-4e5f-8a7b-0c1d2e3f4a5b"
    assert isinstance(generate["duration_ms"], float)
    assert generate["level"] == "INFO" and generate["logger"] == "casting.rpc"
    assert rpcs[f"{SERVICE}/GetActor"]["code"] == "NOT_FOUND"
    [generation] = [line for line in lines if line.get("event") == "generation"]
    assert (generation["generator"], generation["model"], generation["outcome"]) == (
        "offline",
        "procedural-v1",
        "ok",
    )
    assert isinstance(generation["duration_ms"], float)


async def test_an_rpc_is_a_server_span_with_sql_and_model_spans_below_it(
    stub, server: RunningServer, container: Container, spans: InMemorySpanExporter
) -> None:
    await stub.GenerateSheet(generate_request(), metadata=(("traceparent", TRACEPARENT),))
    with pytest.raises(grpc.aio.AioRpcError):
        await stub.GetActor(pb.GetActorRequest(name=MISSING_ACTOR))
    container.tracing().force_flush()
    finished = spans.get_finished_spans()

    [rpc] = [s for s in finished if s.name == "casting.v1.CastingService/GenerateSheet"]
    assert rpc.kind is SpanKind.SERVER
    assert rpc.attributes is not None and rpc.attributes["rpc.grpc.status_code"] == 0
    # The span joins the caller's trace.
    assert rpc.context is not None and rpc.context.trace_id == CALLER_TRACE_ID
    assert rpc.parent is not None and rpc.parent.span_id == CALLER_SPAN_ID

    below = children_of(rpc, finished)
    statements = [s for s in below if s.attributes and "db.statement" in s.attributes]
    # On PostgreSQL the sheet's INSERT is part of one statement with the generation's other rows.
    assert any("INSERT INTO sheets" in str(s.attributes["db.statement"]) for s in statements)
    [model] = [s for s in below if s.name == "generate offline"]
    assert model.attributes is not None
    assert (model.attributes["casting.model"], model.attributes["casting.generation.outcome"]) == (
        "procedural-v1",
        "ok",
    )

    [missing] = [s for s in finished if s.name == "casting.v1.CastingService/GetActor"]
    assert missing.attributes is not None and missing.attributes["rpc.grpc.status_code"] == 5  # NOT_FOUND
    assert missing.context is not None and missing.context.trace_id != CALLER_TRACE_ID


def children_of(root: ReadableSpan, spans: tuple[ReadableSpan, ...]) -> list[ReadableSpan]:
    """Every span below `root`, at any depth."""
    assert root.context is not None
    below, ids = [], {root.context.span_id}
    for span in sorted(spans, key=lambda s: s.start_time or 0):
        if span.parent is not None and span.parent.span_id in ids and span.context is not None:
            below.append(span)
            ids.add(span.context.span_id)
    return below


@pytest.mark.parametrize(
    "environ, exporters",
    [
        ({}, []),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, []),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, [OTLPSpanExporter]),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, [OTLPSpanExporter]),
        ({"OTEL_TRACES_EXPORTER": "console, otlp"}, [ConsoleSpanExporter, OTLPSpanExporter]),
    ],
)
def test_spans_are_exported_only_where_the_otel_variables_say(
    environ: dict[str, str], exporters: list[type]
) -> None:
    assert [type(e) for e in exporters_from_environment(environ)] == exporters


def test_an_unknown_exporter_stops_the_start() -> None:
    with pytest.raises(ValueError, match="zipkin"):
        exporters_from_environment({"OTEL_TRACES_EXPORTER": "zipkin"})
