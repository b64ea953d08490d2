"""Library size: ListActors (a page of 50), ListStoryCast (20 actors cast in a story) and
GetActor at 100, 2,000 and 20,000 actors of 4 looks each, on SQLite and PostgreSQL, with the
number of SQL statements per call; at the largest size, each list beside one GetActor.

Rows are seeded in bulk through SQLAlchemy core into the migrated schema (the shape the
repository writes: one image per look, which is also its reference; the first look the
default BASE one, the others DERIVED from it), not through thousands of RPCs.
"""

from __future__ import annotations

import random
import tempfile
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.harness import PARENT, PROJECT, Served, sequential, service, sqlite_url
from bench.report import Report
from casting.adapters.sql.migrate import upgrade_to_head
from casting.adapters.sql.models import (
    ActorRow,
    CastRow,
    ImageRow,
    ReferenceImageRow,
    VariantImageRow,
    VariantRow,
)
from casting.v1 import casting_pb2 as pb
from tests.support.statements import counting

SECTION = "library"
LOOKS_PER_ACTOR = 4
BATCH_ACTORS = 1000
STORY = "story-1"
CAST_ACTORS = 20
LIST_ACTORS = "ListActors (page of 50)"
LIST_CAST = f"ListStoryCast ({CAST_ACTORS} cast)"
GET_ACTOR = "GetActor"
# What each list may cost, as a multiple of one GetActor's p50 (bench/README.md).
LIST_TARGETS = {LIST_ACTORS: 3.0, LIST_CAST: 2.0}
TRAITS_JSON = {
    "gender": "female",
    "age_range": "young_adult",
    "face_traits": "round face, freckles",
    "hair_traits": "short silver bob",
    "outfit": "red hoodie, jeans",
    "mood": "cheerful",
    "custom_prompt": "",
}
PROVENANCE = {
    "generator": "bench",
    "model": "stand-in",
    "prompt_version": "sheet.v1",
    "prompt_sha256": "0" * 64,
    "reference_image_ids": [],
    "duration_seconds": 1.0,
}


def _actor_rows(index: int, start: datetime) -> dict[str, list[dict[str, Any]]]:
    """One actor with its looks and their images, as rows for each table."""
    created = start + timedelta(milliseconds=index)
    actor_id = str(uuid.uuid4())
    rows: dict[str, list[dict[str, Any]]] = {"actor": [], "image": [], "look": [], "link": [], "cast": []}
    rows["actor"].append(
        dict(
            id=actor_id, project=PROJECT, display_name=f"Actor {index:06d}", description="seeded",
            traits=TRAITS_JSON, default_story_style="romance", default_image_style="webtoon",
            approved=index % 2 == 0, create_time=created, update_time=created, version=1,
        )
    )  # fmt: skip
    default_id = None
    for look in range(LOOKS_PER_ACTOR):
        look_id, image_id = str(uuid.uuid4()), str(uuid.uuid4())
        sha = uuid.uuid4().hex * 2
        rows["image"].append(
            dict(
                id=image_id, project=PROJECT, blob_key=sha, mime_type="image/png", width=768, height=1344,
                size_bytes=1_600_000, sha256=sha, create_time=created,
            )
        )  # fmt: skip
        rows["look"].append(
            dict(
                id=look_id, character_id=actor_id, story_id=None, kind="base" if look == 0 else "derived",
                display_name="Default" if look == 0 else f"Look {look}", story_style="romance",
                image_style="webtoon", traits=TRAITS_JSON, trait_changes={} if look == 0 else {"mood": "sad"},
                parent_variant_id=default_id, is_default=look == 0,
                create_time=created + timedelta(microseconds=look), update_time=created, **PROVENANCE,
            )
        )  # fmt: skip
        rows["link"].append(dict(variant_id=look_id, position=0, image_id=image_id))
        default_id = default_id or look_id
    if index < CAST_ACTORS:
        cast = dict(character_id=actor_id, story_id=STORY, variant_id=default_id, project=PROJECT)
        rows["cast"].append(cast)
    return rows


async def seed(engine: AsyncEngine, first: int, last: int) -> None:
    """Actors number `first` to `last - 1`, in batches of BATCH_ACTORS."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for batch in range(first, last, BATCH_ACTORS):
        rows: dict[str, list[dict[str, Any]]] = {"actor": [], "image": [], "look": [], "link": [], "cast": []}
        for index in range(batch, min(batch + BATCH_ACTORS, last)):
            for table, more in _actor_rows(index, start).items():
                rows[table] += more
        async with engine.begin() as connection:
            await connection.execute(insert(ImageRow.__table__), rows["image"])
            await connection.execute(insert(ActorRow.__table__), rows["actor"])
            await connection.execute(insert(VariantRow.__table__), rows["look"])
            await connection.execute(insert(VariantImageRow.__table__), rows["link"])
            await connection.execute(insert(ReferenceImageRow.__table__), rows["link"])
            if rows["cast"]:
                await connection.execute(insert(CastRow.__table__), rows["cast"])
    async with engine.begin() as connection:
        # Fresh planner statistics, as a database that grew over time has.
        await connection.execute(text("ANALYZE"))


async def measure_level(
    report: Report, served: Served, backend: str, actors: int, calls: int, ids: list[str]
) -> dict[str, float]:
    """p50 (ms) of each probe at this size, and its statements per call."""
    engine, direct = served.container.engine(), served.container.direct_reads()
    chooser = random.Random(actors)
    figures: dict[str, float] = {}
    probes: dict[str, Callable[[], Any]] = {
        LIST_ACTORS: lambda: served.stub.ListActors(pb.ListActorsRequest(parent=PARENT, page_size=50)),
        LIST_CAST: lambda: served.stub.ListStoryCast(
            pb.ListStoryCastRequest(parent=f"{PARENT}/stories/{STORY}", page_size=CAST_ACTORS)
        ),
        GET_ACTOR: lambda: served.stub.GetActor(
            pb.GetActorRequest(name=f"{PARENT}/actors/{chooser.choice(ids)}")
        ),
    }
    for label, call in probes.items():
        await sequential(call, 0, warmup=5)
        with counting(engine, direct) as statements:
            seconds = await sequential(call, calls, warmup=0)
        p50, _ = report.latencies(SECTION, f"{backend} {actors:>6,} actors: {label}", seconds)
        per_call = len(statements) / calls
        report.add(SECTION, f"{backend} {actors:>6,} actors: {label} SQL statements/call", per_call, "")
        figures[label] = p50
        figures[f"{label} statements"] = per_call
    return figures


async def library_on(
    report: Report, backend: str, database_url: str, directory: Path, sizes: tuple[int, ...], calls: int
) -> None:
    # The read cache off: these figures are the database path, which is what grows with the library.
    async with service(database_url, directory, actor_cache_seconds=0) as served:
        engine: AsyncEngine = served.container.engine()
        seeded = 0
        by_size: dict[int, dict[str, float]] = {}
        for size in sizes:
            await seed(engine, seeded, size)
            # As `casting migrate` does for actors the service did not save itself.
            await served.container.actor_documents().render_behind()
            seeded = size
            async with engine.connect() as connection:
                ids = list((await connection.execute(text("SELECT id FROM characters"))).scalars())
            by_size[size] = await measure_level(report, served, backend, size, calls, ids)
    smallest, largest = by_size[sizes[0]], by_size[sizes[-1]]
    for label in (LIST_ACTORS, LIST_CAST, GET_ACTOR):
        report.add(
            SECTION,
            f"{backend} {label}: p50 at {sizes[-1]:,} / p50 at {sizes[0]:,}",
            largest[label] / smallest[label],
            "x",
            f"statements {smallest[label + ' statements']:.0f} -> {largest[label + ' statements']:.0f}",
        )
    for label, target in LIST_TARGETS.items():
        report.add(
            SECTION,
            f"{backend} {sizes[-1]:,} actors: {label} p50 / GetActor p50",
            largest[label] / largest[GET_ACTOR],
            "x",
            f"target <= {target:.0f}x",
        )


async def library(report: Report, sizes: tuple[int, ...], calls: int, postgres_url: str | None) -> None:
    shown = ", ".join(f"{size:,}" for size in sizes)
    print(f"\n[{SECTION}] ListActors and GetActor at {shown} actors, {calls} calls each")
    with tempfile.TemporaryDirectory(prefix="casting-bench-") as tmp:
        directory = Path(tmp)
        await library_on(report, "sqlite", await sqlite_url(directory), directory, sizes, calls)
        if postgres_url is not None:
            await upgrade_to_head(postgres_url)
            await library_on(report, "postgresql", postgres_url, directory / "pg", sizes, calls)
