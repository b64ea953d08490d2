"""CastStory: a whole story in one call, fairness to other projects, and the cap across replicas.

Story: 12 roles (8 new with 2 candidates each, 4 reused library actors with a story look) at a
1 s model stand-in, as one CastStory operation (waited for with WaitOperation), against the same
work as the sequential RPCs a pipeline makes today (GenerateSheet per candidate, SaveActor,
BranchVariant, CastVariant).

Fairness: project B's interactive GenerateSheet latency while project A's 200-call batch (four
CastStory operations of 50 new roles) runs, against B's latency on the idle server.

Cap: two replicas (two servers on one PostgreSQL database, one model stand-in shared by both),
each allowed more model calls than CASTING_MAX_CONCURRENT_GENERATIONS; the peak of calls in
flight at the stand-in, with a burst of GenerateSheet sent to both.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from pathlib import Path

from google.longrunning import operations_pb2, operations_pb2_grpc
from google.protobuf import duration_pb2

from bench.harness import Served, StandInGenerator, generate_request, service, sqlite_url, timed
from bench.report import Report
from casting.adapters.sql.migrate import upgrade_to_head
from casting.domain.ports import GeneratedImage, GenerationSpec
from casting.domain.values import ImageBytes
from casting.v1 import casting_pb2 as pb

SECTION_STORY = "cast story"
SECTION_FAIR = "fairness"
SECTION_CAP = "global cap"
MODEL_SECONDS = 1.0
STORY = "projects/bench/stories/episode-1"


class CountingStandIn(StandInGenerator):
    """The stand-in, counting the calls in flight at once (shared by every replica)."""

    def __init__(self, png: bytes, latency_seconds: float) -> None:
        super().__init__(png, latency_seconds)
        self.in_flight = 0
        self.peak = 0
        self.calls = 0
        self._changed = asyncio.Condition()

    async def generate(self, spec: GenerationSpec, references: list[ImageBytes]) -> GeneratedImage:
        self.in_flight += 1
        self.calls += 1
        self.peak = max(self.peak, self.in_flight)
        async with self._changed:
            self._changed.notify_all()
        try:
            return await super().generate(spec, references)
        finally:
            self.in_flight -= 1

    async def filled(self, calls: int) -> None:
        """Returns once `calls` calls are in flight at once."""
        async with self._changed:
            await self._changed.wait_for(lambda: self.in_flight >= calls)


def _traits(index: int) -> pb.Traits:
    return pb.Traits(gender=pb.GENDER_FEMALE, age_range=pb.AGE_RANGE_TEEN, mood=f"mood {index}")


async def _library_actor(s: Served, project: str, index: int) -> pb.Actor:
    sheet = await s.stub.GenerateSheet(
        pb.GenerateSheetRequest(
            parent=f"projects/{project}", story_style="romance", image_style="webtoon", traits=_traits(index)
        )
    )
    return await s.stub.SaveActor(
        pb.SaveActorRequest(parent=f"projects/{project}", sheet=sheet.name, display_name=f"Actor {index}")
    )


async def _wait(s: Served, name: str) -> operations_pb2.Operation:
    operations = operations_pb2_grpc.OperationsStub(s.channel)
    while True:
        op = await operations.WaitOperation(
            operations_pb2.WaitOperationRequest(name=name, timeout=duration_pb2.Duration(seconds=30))
        )
        if op.done:
            return op


async def story(
    report: Report, png: bytes, new_roles: int = 8, reused_roles: int = 4, candidates: int = 2
) -> None:
    print(
        f"\n[{SECTION_STORY}] {new_roles + reused_roles} roles ({new_roles} new x {candidates} candidates,"
        f" {reused_roles} reused with a look), model stand-in {MODEL_SECONDS:.0f} s"
    )
    roles = new_roles + reused_roles
    with tempfile.TemporaryDirectory(prefix="casting-bench-") as tmp:
        directory = Path(tmp)
        model = CountingStandIn(png, MODEL_SECONDS)
        async with service(await sqlite_url(directory), directory, model, cast_workers=roles) as s:
            actors = [await _library_actor(s, "bench", i) for i in range(reused_roles)]
            before = model.calls

            async def one_call() -> None:
                calls = [
                    pb.CastingCall(
                        role=f"New {i}",
                        traits=_traits(100 + i),
                        story_style="romance",
                        image_style="webtoon",
                        candidate_count=candidates,
                    )
                    for i in range(new_roles)
                ]
                calls += [
                    pb.CastingCall(
                        role=f"Reused {i}", actor=a.name, trait_changes=pb.TraitChanges(outfit="armour")
                    )
                    for i, a in enumerate(actors)
                ]
                started = await s.stub.CastStory(pb.CastStoryRequest(story=STORY, roles=calls))
                await _wait(s, started.name)

            cast_wall = await timed(one_call)
            cast_calls = model.calls - before
            before = model.calls

            async def sequential_rpcs() -> None:
                other_story = "projects/bench/stories/episode-2"
                for i in range(new_roles):
                    sheets = [
                        await s.stub.GenerateSheet(
                            pb.GenerateSheetRequest(
                                parent="projects/bench",
                                story_style="romance",
                                image_style="webtoon",
                                traits=_traits(200 + i),
                            )
                        )
                        for _ in range(candidates)
                    ]
                    actor = await s.stub.SaveActor(
                        pb.SaveActorRequest(
                            parent="projects/bench", sheet=sheets[0].name, display_name=f"Seq {i}"
                        )
                    )
                    await s.stub.CastVariant(
                        pb.CastVariantRequest(variant=actor.default_variant, story=other_story)
                    )
                for actor in actors:
                    look = await s.stub.BranchVariant(
                        pb.BranchVariantRequest(
                            base_variant=actor.default_variant,
                            trait_changes=pb.TraitChanges(outfit="cloak"),
                            story=other_story,
                        )
                    )
                    await s.stub.CastVariant(pb.CastVariantRequest(variant=look.name, story=other_story))

            sequential_wall = await timed(sequential_rpcs)
            sequential_calls = model.calls - before
    report.add(SECTION_STORY, "CastStory, one operation: wall", cast_wall, "s", f"{cast_calls} model calls")
    report.add(
        SECTION_STORY,
        "the same work as sequential RPCs: wall",
        sequential_wall,
        "s",
        f"{sequential_calls} model calls",
    )
    report.add(SECTION_STORY, "sequential wall / CastStory wall", sequential_wall / cast_wall, "x")


async def fairness(report: Report, png: bytes, batch_calls: int = 200, samples: int = 5) -> None:
    print(
        f"\n[{SECTION_FAIR}] project B's GenerateSheet alone, then while project A's {batch_calls}-call"
        f" CastStory batch runs; model stand-in {MODEL_SECONDS:.0f} s, default cap (16, 1 kept for people)"
    )
    with tempfile.TemporaryDirectory(prefix="casting-bench-") as tmp:
        directory = Path(tmp)
        model = CountingStandIn(png, MODEL_SECONDS)
        async with service(await sqlite_url(directory), directory, model, cast_workers=16) as s:

            async def interactive() -> None:
                request = generate_request(str(uuid.uuid4()))
                request.parent = "projects/tenant-b"
                await s.stub.GenerateSheet(request)

            idle = [await timed(interactive) for _ in range(samples)]
            per_operation = 50
            started = []
            for op in range(batch_calls // per_operation):
                calls = [
                    pb.CastingCall(
                        role=f"Extra {i}", traits=_traits(i), story_style="action", image_style="webtoon"
                    )
                    for i in range(per_operation)
                ]
                started.append(
                    await s.stub.CastStory(
                        pb.CastStoryRequest(story=f"projects/tenant-a/stories/s{op}", roles=calls)
                    )
                )
            await model.filled(15)  # the batch holds every slot it may take
            busy = [await timed(interactive) for _ in range(samples)]
            batch_running = model.calls < batch_calls
            for op in started:
                await _wait(s, op.name)
    idle_p50 = sorted(idle)[len(idle) // 2]
    busy_p50 = sorted(busy)[len(busy) // 2]
    report.add(SECTION_FAIR, "B's GenerateSheet on an idle server, median", idle_p50, "s", f"n={samples}")
    report.add(
        SECTION_FAIR,
        f"B's GenerateSheet during A's {batch_calls}-call batch, median",
        busy_p50,
        "s",
        f"max {max(busy):.2f} s; batch still running after: {batch_running}",
    )
    report.add(SECTION_FAIR, "during batch / idle", busy_p50 / idle_p50, "x", "target <= 2x (one model call)")


async def global_cap(report: Report, png: bytes, postgres_url: str, cap: int = 4, calls: int = 24) -> None:
    print(
        f"\n[{SECTION_CAP}] 2 replicas on one PostgreSQL, CASTING_MAX_CONCURRENT_GENERATIONS={cap},"
        f" {calls} concurrent GenerateSheet split between them; model stand-in {MODEL_SECONDS:.0f} s"
    )
    model = CountingStandIn(png, MODEL_SECONDS)
    await upgrade_to_head(postgres_url)
    with tempfile.TemporaryDirectory(prefix="casting-bench-") as tmp:
        directory = Path(tmp)
        async with (
            service(postgres_url, directory, model, max_concurrent_generations=cap) as first,
            service(postgres_url, directory, model, max_concurrent_generations=cap) as second,
        ):
            started = time.perf_counter()
            await asyncio.gather(
                *(
                    (first if i % 2 else second).stub.GenerateSheet(generate_request(str(uuid.uuid4())))
                    for i in range(calls)
                )
            )
            wall = time.perf_counter() - started
    report.add(
        SECTION_CAP,
        "peak model calls in flight, 2 replicas",
        model.peak,
        "calls",
        f"cap {cap}; per-process caps would allow {2 * cap}",
    )
    report.add(
        SECTION_CAP, f"{calls} calls: wall / ideal at the cap", wall / (calls / cap * MODEL_SECONDS), "x"
    )
