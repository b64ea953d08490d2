"""The one place that wires the service: settings → engine → unit of work → adapters →
use-cases → servicer. Tests replace a collaborator with `container.<provider>.override(...)`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import timedelta

from dependency_injector import containers, providers
from google import genai
from opentelemetry.trace import TracerProvider
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from casting.adapters.blobs import blob_store_from_url
from casting.adapters.budgets import BudgetsFile
from casting.adapters.decoding import DecodingPool
from casting.adapters.generators.advisory_slots import AdvisorySlots
from casting.adapters.generators.bounded import BoundedGenerator
from casting.adapters.generators.gemini import GeminiGenerator, gemini_client
from casting.adapters.generators.gemini_models import drawing_estimate
from casting.adapters.generators.observed import ObservedGenerator
from casting.adapters.generators.offline import MODEL as OFFLINE_MODEL
from casting.adapters.generators.offline import OfflineGenerator
from casting.adapters.generators.prices import PriceTable
from casting.adapters.images import PillowImageCodec
from casting.adapters.judges.gemini import GeminiJudge
from casting.adapters.judges.offline import OfflineJudge
from casting.adapters.prompts.library import PromptLibrary
from casting.adapters.recent_actors import RecentActors
from casting.adapters.sql.actor_documents import SqlActorDocuments
from casting.adapters.sql.direct_reads import DirectReads, direct_reads
from casting.adapters.sql.engine import (
    create_engine,
    create_session_factory,
    create_sqlite_writer,
    for_reads,
    is_in_memory_sqlite,
)
from casting.adapters.sql.group_commit import GroupCommit
from casting.adapters.sql.tracing import trace_statements
from casting.adapters.sql.unit_of_work import SqlUnitOfWork
from casting.adapters.sql.write_turns import WriteTurns
from casting.adapters.system import SystemClock, UuidFactory
from casting.adapters.tasks.in_process import InProcessEngine
from casting.adapters.tasks.procrastinate_engine import ProcrastinateEngine
from casting.adapters.thumbnails import PillowThumbnailer
from casting.domain.ports import ImageGenerator, Judge
from casting.domain.usecases.actors import (
    DeleteActor,
    GetActor,
    ImportActor,
    ListActors,
    SaveActor,
    UpdateActor,
)
from casting.domain.usecases.candidates import GenerateSheet, GenerateSheets
from casting.domain.usecases.cast import CastVariant, ListStoryCast
from casting.domain.usecases.collect import CollectGarbage
from casting.domain.usecases.documents import GetActorDocument, ListActorDocuments, ListCastDocuments
from casting.domain.usecases.idempotency import Idempotency
from casting.domain.usecases.images import ImageKeeper, ReadImage
from casting.domain.usecases.painting import SheetPainter, Verifying
from casting.domain.usecases.sheets import GetSheet
from casting.domain.usecases.spending import Spending
from casting.domain.usecases.story_casting import (
    CancelOperation,
    CastRole,
    DeleteOperation,
    GetOperation,
    ListOperations,
    ResumeCasting,
    StartCastStory,
    WaitOperation,
)
from casting.domain.usecases.styles import ListStyles
from casting.domain.usecases.thumbnails import ReadThumbnail
from casting.domain.usecases.variants import BranchVariant, DeleteVariant, GetVariant, UpdateVariant
from casting.server.auth import token_file
from casting.server.mapping import render_actor
from casting.server.metrics import Metrics, metrics_endpoint
from casting.server.operations import OperationsServicer
from casting.server.servicer import CastingServicer
from casting.server.settings import Settings
from casting.server.tracing import exporters_from_environment, tracer_provider


async def _engine(settings: Settings, tracing: TracerProvider) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(
        settings.database_url,
        pool_size=settings.database_pool_size,
        pool_timeout=settings.database_pool_timeout_seconds,
        max_overflow=settings.database_max_overflow,
        connect_timeout=settings.database_connect_timeout_seconds,
        statement_timeout=settings.database_statement_timeout_seconds,
    )
    trace_statements(engine, tracing)
    try:
        yield engine
    finally:
        await engine.dispose()


async def _direct_reads(
    settings: Settings, engine: AsyncEngine, tracing: TracerProvider
) -> AsyncIterator[DirectReads]:
    async with direct_reads(
        engine,
        pool_size=settings.database_read_pool_size,
        pool_timeout=settings.database_pool_timeout_seconds,
        connect_timeout=settings.database_connect_timeout_seconds,
        statement_timeout=settings.database_statement_timeout_seconds,
        tracing=tracing,
    ) as reads:
        yield reads


async def _group_commit(
    engine: AsyncEngine, turns: WriteTurns, tracing: TracerProvider
) -> AsyncIterator[GroupCommit | None]:
    """On a SQLite file, where units of work that only add rows are committed together: on the
    file of the sessions' `engine`, whatever its settings said."""
    if engine.dialect.name != "sqlite" or is_in_memory_sqlite(engine.url):
        yield None
        return
    writer = create_sqlite_writer(engine.url)
    trace_statements(writer, tracing)
    group = GroupCommit(writer, turns)
    try:
        yield group
    finally:
        await group.close()


def _decoding_pool(settings: Settings) -> Iterator[DecodingPool]:
    pool = DecodingPool(settings.decode_memory_mb * 1024 * 1024, settings.decode_threads)
    try:
        yield pool
    finally:
        pool.close()


def _gemini_client(settings: Settings) -> AbstractAsyncContextManager[genai.Client]:
    """A client of the backend the settings name (the generator and the judge each have one)."""
    return gemini_client(
        backend=settings.gemini_backend,
        api_key=settings.gemini_api_key,
        project=settings.google_cloud_project or None,
        location=settings.google_cloud_location or None,
        base_url=settings.gemini_base_url or None,
        timeout_seconds=settings.gemini_timeout_seconds,
    )


async def _image_model(
    settings: Settings, prices: PriceTable, prompts: Callable[[], PromptLibrary]
) -> AsyncIterator[ImageGenerator]:
    """The generator the settings choose; the Gemini client's connections close at shutdown."""
    if settings.chosen_generator == "offline":
        yield OfflineGenerator()
        return
    # On the serving loop: reading an answer holds the GIL wherever it runs (~1.5 ms since
    # gemini_answers.py parses it in one pass), and a thread of its own only added GIL
    # hand-offs (a burst of 100 through the real client took ~0.15x one call longer).
    async with _gemini_client(settings) as client:
        yield GeminiGenerator(
            client,
            model=settings.gemini_model,
            max_attempts=settings.gemini_max_attempts,
            timeout_seconds=settings.gemini_timeout_seconds,
            prices=prices,
            prompts=prompts(),
        )


def _casting_engine(settings: Settings, cast_role: CastRole) -> InProcessEngine | ProcrastinateEngine:
    """Procrastinate's workers on PostgreSQL (every replica runs one); tasks of this process on
    the embedded SQLite default."""
    if settings.on_postgresql:
        return ProcrastinateEngine(
            settings.database_url,
            cast_role,
            workers=settings.cast_workers,
            heartbeat_seconds=settings.cast_heartbeat_seconds,
            stalled_seconds=settings.cast_stalled_seconds,
            grace_seconds=settings.grace_period_seconds,
        )
    return InProcessEngine(cast_role, settings.cast_workers)


def _priced_model(settings: Settings) -> str | None:
    """The image model whose drawings are charged; None for the offline drawing."""
    return None if settings.chosen_generator == "offline" else settings.gemini_model


async def _judge(
    settings: Settings, prices: PriceTable, prompts: Callable[[], PromptLibrary]
) -> AsyncIterator[Judge]:
    """The judge of the generator's kind: the offline one measures the offline drawings."""
    if settings.chosen_generator == "offline":
        yield OfflineJudge()
        return
    async with _gemini_client(settings) as client:
        yield GeminiJudge(
            client,
            model=settings.judge_model,
            timeout_seconds=settings.gemini_timeout_seconds,
            prices=prices,
            prompts=prompts(),
        )


def _model_name(settings: Settings) -> str:
    return OFFLINE_MODEL if settings.chosen_generator == "offline" else settings.gemini_model


async def _shared_slots(settings: Settings) -> AsyncIterator[AdvisorySlots | None]:
    """On PostgreSQL, the cap on model calls across replicas: advisory locks held on one
    connection of their own."""
    if not settings.on_postgresql:
        yield None
        return
    size = settings.max_concurrent_generations
    engine = create_engine(
        settings.database_url,
        pool_size=1,
        max_overflow=0,
        connect_timeout=settings.database_connect_timeout_seconds,
        statement_timeout=settings.database_statement_timeout_seconds,
        application_name="casting-slots",
    )
    slots = AdvisorySlots(engine, size, min(settings.interactive_reserved_generations, size - 1))
    try:
        yield slots
    finally:
        await slots.aclose()
        await engine.dispose()


def _bounded(
    inner: ImageGenerator, settings: Settings, shared: AdvisorySlots | None, metrics: Metrics
) -> BoundedGenerator:
    """The cap on model calls, its count of running calls exported as a gauge."""
    generator = BoundedGenerator(
        inner, settings.max_concurrent_generations, settings.interactive_reserved_generations, shared
    )
    metrics.count_in_flight(generator)
    return generator


class Container(containers.DeclarativeContainer):
    settings = providers.Singleton(Settings)
    # Read once and shared by gRPC and the console, so both see a revoked token at once.
    token_file = providers.Singleton(token_file, settings=settings)
    clock = providers.Singleton(SystemClock)
    ids = providers.Singleton(UuidFactory)

    # Observability: a metrics registry of this container's own, and spans exported where the
    # OTEL_* variables say (tests override span_exporters with an in-memory one).
    metrics_registry = providers.Singleton(CollectorRegistry)
    metrics = providers.Singleton(Metrics, registry=metrics_registry)
    span_exporters = providers.Singleton(exporters_from_environment)
    tracing = providers.Resource(tracer_provider, exporters=span_exporters)

    engine = providers.Resource(_engine, settings=settings, tracing=tracing)
    # SQLite's writers take turns in the process: the sessions and the group commit alike.
    write_turns = providers.Singleton(WriteTurns)
    session_factory = providers.Singleton(create_session_factory, engine=engine, turns=write_turns)
    # One-statement reads outside any transaction: built once, not on every read.
    read_engine = providers.Singleton(for_reads, engine)
    # GetActor answers from recent documents, GetVariant and the console from recent actors;
    # every unit of work drops what it changes from both, and renders it for the read side.
    recent_actors = providers.Singleton(RecentActors, ttl_seconds=settings.provided.actor_cache_seconds)
    recent_documents = providers.Singleton(RecentActors, ttl_seconds=settings.provided.actor_cache_seconds)
    renderer = providers.Object(render_actor)
    group_commit = providers.Resource(_group_commit, engine=engine, turns=write_turns, tracing=tracing)
    uow = providers.Factory(
        SqlUnitOfWork,
        session_factory=session_factory,
        recent=providers.List(recent_actors, recent_documents),
        render=renderer,
        reads=read_engine,
        group=group_commit,
    )
    # GetActor, ListActors and ListStoryCast past SQLAlchemy's Connection, straight on the driver.
    direct_reads = providers.Resource(_direct_reads, settings=settings, engine=engine, tracing=tracing)
    actor_documents = providers.Singleton(
        SqlActorDocuments, engine=engine, direct=direct_reads, render=renderer
    )

    blobs = providers.Singleton(blob_store_from_url, settings.provided.blob_url)
    # Untrusted images are decoded here: threads of their own, a memory budget they share.
    decoding = providers.Resource(_decoding_pool, settings=settings)
    codec = providers.Singleton(PillowImageCodec, pool=decoding)
    # Model prices: Google's published ones, with the operator's CASTING_MODEL_PRICES over them.
    prices = providers.Singleton(PriceTable, settings.provided.model_prices)
    # One library for the generator and the judge: it loads and compiles every template when made.
    # Passed as its provider, so that the offline drawing, which renders none, never makes it.
    prompts = providers.Singleton(PromptLibrary)
    model = providers.Resource(_image_model, settings=settings, prices=prices, prompts=prompts.provider)
    observed_model = providers.Singleton(
        ObservedGenerator,
        inner=model,
        generator=settings.provided.chosen_generator,
        model=providers.Callable(_model_name, settings),
        observer=metrics,
        tracer=tracing.provided.get_tracer.call("casting.generators"),
    )
    shared_slots = providers.Resource(_shared_slots, settings=settings)
    generator = providers.Singleton(
        _bounded, inner=observed_model, settings=settings, shared=shared_slots, metrics=metrics
    )
    metrics_port = providers.Resource(
        metrics_endpoint,
        metrics=metrics,
        host=settings.provided.metrics_host,
        port=settings.provided.metrics_port,
    )

    keeper = providers.Singleton(ImageKeeper, blobs=blobs, ids=ids, clock=clock)
    judge = providers.Resource(_judge, settings=settings, prices=prices, prompts=prompts.provider)
    verifying = providers.Singleton(
        Verifying,
        enabled=providers.Callable(lambda s: s.verify == "on", settings),
        min_identity_score=settings.provided.min_identity_score,
        max_draws=settings.provided.max_draws,
    )
    budgets = providers.Singleton(BudgetsFile, settings.provided.budgets_file)
    spending = providers.Singleton(
        Spending,
        uow=uow.provider,
        budgets=budgets,
        ids=ids,
        clock=clock,
        observer=metrics.provided.spent,
    )
    painter = providers.Singleton(
        SheetPainter,
        generator=generator,
        codec=codec,
        keeper=keeper,
        spending=spending,
        judge=judge,
        verifying=verifying,
        estimate_micros=providers.Callable(
            drawing_estimate, providers.Callable(_priced_model, settings), prices
        ),
        time_limit_seconds=settings.provided.generation_timeout_seconds,
    )
    idempotency_ttl = providers.Callable(timedelta, seconds=settings.provided.idempotency_ttl_seconds)
    idempotency = providers.Singleton(Idempotency, clock=clock, ttl=idempotency_ttl)
    sheet_ttl = providers.Callable(timedelta, seconds=settings.provided.sheet_ttl_seconds)

    list_styles = providers.Singleton(ListStyles)
    generate_sheets = providers.Singleton(
        GenerateSheets,
        uow=uow.provider,
        painter=painter,
        idempotency=idempotency,
        ids=ids,
        clock=clock,
        sheet_ttl=sheet_ttl,
    )
    generate_sheet = providers.Singleton(GenerateSheet, generate_sheets=generate_sheets)
    get_sheet = providers.Singleton(GetSheet, uow=uow.provider, clock=clock)
    save_actor = providers.Singleton(
        SaveActor, uow=uow.provider, idempotency=idempotency, ids=ids, clock=clock
    )
    import_actor = providers.Singleton(
        ImportActor,
        uow=uow.provider,
        codec=codec,
        keeper=keeper,
        idempotency=idempotency,
        ids=ids,
        clock=clock,
        max_upload_bytes=settings.provided.max_upload_bytes,
    )
    get_actor = providers.Singleton(GetActor, uow=uow.provider, recent=recent_actors)
    list_actors = providers.Singleton(ListActors, uow=uow.provider)
    update_actor = providers.Singleton(UpdateActor, uow=uow.provider, clock=clock)
    delete_actor = providers.Singleton(DeleteActor, uow=uow.provider)
    branch_variant = providers.Singleton(
        BranchVariant, uow=uow.provider, painter=painter, idempotency=idempotency, ids=ids, clock=clock
    )
    get_variant = providers.Singleton(GetVariant, uow=uow.provider, recent=recent_actors)
    update_variant = providers.Singleton(UpdateVariant, uow=uow.provider, clock=clock)
    delete_variant = providers.Singleton(DeleteVariant, uow=uow.provider, clock=clock)
    cast_variant = providers.Singleton(CastVariant, uow=uow.provider, clock=clock)
    list_story_cast = providers.Singleton(ListStoryCast, uow=uow.provider)
    # The API's reads: the read side's documents.
    get_actor_document = providers.Singleton(
        GetActorDocument, documents=actor_documents, recent=recent_documents
    )
    list_actor_documents = providers.Singleton(ListActorDocuments, documents=actor_documents)
    list_cast_documents = providers.Singleton(ListCastDocuments, documents=actor_documents)
    read_image = providers.Singleton(ReadImage, uow=uow.provider, blobs=blobs)
    # The console's grid thumbnails: made once, kept in the blob store.
    thumbnailer = providers.Singleton(PillowThumbnailer, pool=decoding)
    read_thumbnail = providers.Singleton(
        ReadThumbnail, uow=uow.provider, blobs=blobs, thumbnailer=thumbnailer
    )
    collect_garbage = providers.Singleton(
        CollectGarbage,
        uow=uow.provider,
        blobs=blobs,
        idempotency=idempotency,
        clock=clock,
        blob_grace=providers.Callable(timedelta, seconds=settings.provided.blob_grace_seconds),
    )
    collect_interval = providers.Callable(timedelta, seconds=settings.provided.collect_interval_seconds)

    # CastStory: an operation per call, its roles' steps run by the casting engine.
    cast_role = providers.Singleton(
        CastRole,
        uow=uow.provider,
        generate_sheets=generate_sheets,
        save_actor=save_actor,
        branch_variant=branch_variant,
        cast_variant=cast_variant,
        clock=clock,
    )
    # Where the steps run; `running` starts and stops it.
    casting_engine = providers.Singleton(_casting_engine, settings=settings, cast_role=cast_role)
    operation_ttl = providers.Callable(timedelta, seconds=settings.provided.operation_ttl_seconds)
    cast_story = providers.Singleton(
        StartCastStory,
        uow=uow.provider,
        engine=casting_engine,
        idempotency=idempotency,
        ids=ids,
        clock=clock,
        operation_ttl=operation_ttl,
    )
    resume_casting = providers.Singleton(ResumeCasting, uow=uow.provider, engine=casting_engine)
    get_operation = providers.Singleton(GetOperation, uow=uow.provider, clock=clock)
    list_operations = providers.Singleton(ListOperations, uow=uow.provider, clock=clock)
    cancel_operation = providers.Singleton(CancelOperation, uow=uow.provider, clock=clock)
    operations_servicer = providers.Singleton(
        OperationsServicer,
        get_operation=get_operation,
        list_operations=list_operations,
        wait_operation=providers.Singleton(WaitOperation, get=get_operation),
        cancel_operation=cancel_operation,
        delete_operation=providers.Singleton(DeleteOperation, uow=uow.provider, clock=clock),
    )

    servicer = providers.Singleton(
        CastingServicer,
        list_styles=list_styles,
        generate_sheet=generate_sheet,
        generate_sheets=generate_sheets,
        get_sheet=get_sheet,
        save_actor=save_actor,
        import_actor=import_actor,
        get_actor=get_actor_document,
        list_actors=list_actor_documents,
        update_actor=update_actor,
        delete_actor=delete_actor,
        branch_variant=branch_variant,
        get_variant=get_variant,
        update_variant=update_variant,
        delete_variant=delete_variant,
        cast_variant=cast_variant,
        list_story_cast=list_cast_documents,
        read_image=read_image,
        cast_story=cast_story,
    )


@asynccontextmanager
async def opened(container: Container) -> AsyncIterator[Container]:
    """Opens the container's resources (the engine, the model client) and closes them after.

    Async resources make every provider built on them return awaitables; once they are open,
    they are switched to synchronous so that the rest of the graph resolves plainly.
    """
    try:
        await container.init_resources()
    except BaseException:
        # Close those that did open. Left to the interpreter's exit, the metrics endpoint's
        # shutdown waited forever for its thread, already stopped: `casting serve` hung.
        await container.shutdown_resources()
        raise
    resources = list(container.traverse(types=[providers.Resource]))
    for resource in resources:
        resource.disable_async_mode()
    try:
        yield container
    finally:
        for resource in resources:
            resource.enable_async_mode()
        await container.shutdown_resources()
