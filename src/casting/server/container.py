"""The one place that wires the service: settings → engine → unit of work → adapters →
use-cases → servicer. Tests replace a collaborator with `container.<provider>.override(...)`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from dependency_injector import containers, providers
from sqlalchemy.ext.asyncio import AsyncEngine

from casting.adapters.blobs import blob_store_from_url
from casting.adapters.generators.bounded import BoundedGenerator
from casting.adapters.generators.gemini import GeminiGenerator
from casting.adapters.generators.offline import OfflineGenerator
from casting.adapters.images import PillowImageCodec
from casting.adapters.sql.engine import create_engine, create_session_factory
from casting.adapters.sql.unit_of_work import SqlUnitOfWork
from casting.adapters.system import SystemClock, UuidFactory
from casting.domain.ports import ImageGenerator
from casting.domain.usecases.actors import (
    DeleteActor,
    GetActor,
    ImportActor,
    ListActors,
    SaveActor,
    UpdateActor,
)
from casting.domain.usecases.cast import CastVariant, ListStoryCast
from casting.domain.usecases.idempotency import Idempotency
from casting.domain.usecases.images import ImageKeeper, ReadImage
from casting.domain.usecases.painting import SheetPainter
from casting.domain.usecases.sheets import GenerateSheet, GetSheet
from casting.domain.usecases.styles import ListStyles
from casting.domain.usecases.variants import BranchVariant, DeleteVariant, GetVariant, UpdateVariant
from casting.server.servicer import CastingServicer
from casting.server.settings import Settings


async def _engine(url: str, pool_size: int, pool_timeout: float) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(url, pool_size=pool_size, pool_timeout=pool_timeout)
    try:
        yield engine
    finally:
        await engine.dispose()


async def _image_model(settings: Settings) -> AsyncIterator[ImageGenerator]:
    """The generator the settings choose; the Gemini client's connections close at shutdown."""
    if settings.chosen_generator == "offline":
        yield OfflineGenerator()
        return
    gemini = GeminiGenerator(
        api_key=settings.gemini_api_key,
        model=settings.gemini_model,
        base_url=settings.gemini_base_url or None,
        max_attempts=settings.gemini_max_attempts,
        timeout_seconds=settings.gemini_timeout_seconds,
    )
    try:
        yield gemini
    finally:
        await gemini.aclose()


class Container(containers.DeclarativeContainer):
    settings = providers.Singleton(Settings)
    clock = providers.Singleton(SystemClock)
    ids = providers.Singleton(UuidFactory)

    engine = providers.Resource(
        _engine,
        url=settings.provided.database_url,
        pool_size=settings.provided.database_pool_size,
        pool_timeout=settings.provided.database_pool_timeout_seconds,
    )
    session_factory = providers.Singleton(create_session_factory, engine=engine)
    uow = providers.Factory(SqlUnitOfWork, session_factory=session_factory)

    blobs = providers.Singleton(blob_store_from_url, settings.provided.blob_url)
    codec = providers.Singleton(PillowImageCodec)
    model = providers.Resource(_image_model, settings=settings)
    generator = providers.Singleton(
        BoundedGenerator, inner=model, max_concurrent=settings.provided.max_concurrent_generations
    )

    keeper = providers.Singleton(ImageKeeper, blobs=blobs, ids=ids, clock=clock)
    painter = providers.Singleton(SheetPainter, generator=generator, codec=codec, keeper=keeper)
    idempotency = providers.Singleton(Idempotency, clock=clock)
    sheet_ttl = providers.Callable(timedelta, seconds=settings.provided.sheet_ttl_seconds)

    list_styles = providers.Singleton(ListStyles)
    generate_sheet = providers.Singleton(
        GenerateSheet,
        uow=uow.provider,
        painter=painter,
        idempotency=idempotency,
        ids=ids,
        clock=clock,
        sheet_ttl=sheet_ttl,
    )
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
    get_actor = providers.Singleton(GetActor, uow=uow.provider)
    list_actors = providers.Singleton(ListActors, uow=uow.provider)
    update_actor = providers.Singleton(UpdateActor, uow=uow.provider, clock=clock)
    delete_actor = providers.Singleton(DeleteActor, uow=uow.provider)
    branch_variant = providers.Singleton(
        BranchVariant, uow=uow.provider, painter=painter, idempotency=idempotency, ids=ids, clock=clock
    )
    get_variant = providers.Singleton(GetVariant, uow=uow.provider)
    update_variant = providers.Singleton(UpdateVariant, uow=uow.provider, clock=clock)
    delete_variant = providers.Singleton(DeleteVariant, uow=uow.provider, clock=clock)
    cast_variant = providers.Singleton(CastVariant, uow=uow.provider, clock=clock)
    list_story_cast = providers.Singleton(ListStoryCast, uow=uow.provider)
    read_image = providers.Singleton(ReadImage, uow=uow.provider, blobs=blobs)

    servicer = providers.Singleton(
        CastingServicer,
        list_styles=list_styles,
        generate_sheet=generate_sheet,
        get_sheet=get_sheet,
        save_actor=save_actor,
        import_actor=import_actor,
        get_actor=get_actor,
        list_actors=list_actors,
        update_actor=update_actor,
        delete_actor=delete_actor,
        branch_variant=branch_variant,
        get_variant=get_variant,
        update_variant=update_variant,
        delete_variant=delete_variant,
        cast_variant=cast_variant,
        list_story_cast=list_story_cast,
        read_image=read_image,
    )


@asynccontextmanager
async def opened(container: Container) -> AsyncIterator[Container]:
    """Opens the container's resources (the engine, the model client) and closes them after.

    Async resources make every provider built on them return awaitables; once they are open,
    they are switched to synchronous so that the rest of the graph resolves plainly.
    """
    await container.init_resources()
    resources = list(container.traverse(types=[providers.Resource]))
    for resource in resources:
        resource.disable_async_mode()
    try:
        yield container
    finally:
        for resource in resources:
            resource.enable_async_mode()
        await container.shutdown_resources()
