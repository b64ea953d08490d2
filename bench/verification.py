"""What verification adds to a drawing, and what candidates cost in wall time.

The service draws with the Gemini adapters through the real google-genai SDK against the
tests' local stand-in of Gemini's REST API (tests/support/fake_gemini.py), which answers an
image call after IMAGE_SECONDS and a judge call (JSON mode) after JUDGE_SECONDS: latencies of
the order of a Flash image model's and a Flash vision model's. Every figure is a ratio
against a baseline measured in the same run:

- per drawing: judge calls per image call, and GenerateSheet's wall time with CASTING_VERIFY
  on against off (what judging adds per drawing);
- a judge that always fails: image calls per candidate (CASTING_MAX_DRAWS) and the wall time
  against one passing drawing;
- candidates: GenerateSheets with 4 candidates against 1 (concurrent would be 1.0x, serial 4x);
- the offline judge: its CPU time per drawing against the offline generator's own drawing;
- the images a model call sends: the calling thread's CPU (the serving loop's, in the service)
  for an image call and a judge call, with and without a ~1.5 MB sheet as a reference, the
  stand-in answering at once. The SDK sends each image inline, base64 in the request's JSON.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from bench.harness import PARENT, TRAITS, service, sheet_png, sqlite_url
from bench.report import Report, ms
from casting.adapters.generators.gemini import GeminiGenerator, gemini_client
from casting.adapters.generators.offline import OfflineGenerator
from casting.adapters.judges.gemini import GeminiJudge
from casting.adapters.judges.offline import OfflineJudge
from casting.domain import styles
from casting.domain.ports import GenerationKind, GenerationSpec
from casting.domain.values import AgeRange, Gender, ImageBytes, TraitChanges, Traits
from casting.v1 import casting_pb2 as pb
from tests.support import fake_gemini as gemini
from tests.support.fake_gemini import FakeGemini

SECTION = "verification"
IMAGE_SECONDS = 4.0
JUDGE_SECONDS = 1.2
MAX_DRAWS = 3


def _sheet() -> pb.GenerateSheetRequest:
    return pb.GenerateSheetRequest(parent=PARENT, story_style="romance", image_style="webtoon", traits=TRAITS)


def _sheets(count: int) -> pb.GenerateSheetsRequest:
    return pb.GenerateSheetsRequest(
        parent=PARENT, story_style="romance", image_style="webtoon", traits=TRAITS, candidate_count=count
    )


async def _median_seconds(
    call: Callable[[], Awaitable[object]], times: int, clock: Callable[[], float] = time.perf_counter
) -> float:
    """The median seconds of `clock` (wall time unless said) over `times` calls made one after
    another, after one unmeasured."""
    await call()
    spent = []
    for _ in range(times):
        started = clock()
        await call()
        spent.append(clock() - started)
    return sorted(spent)[len(spent) // 2]


async def sent_images(report: Report, times: int) -> None:
    """The calling thread's CPU for one model call, by the images it sends: an image call as
    GenerateSheet makes it (no reference) and as a new look's (its anchor), a judge call with the
    drawing alone (a first sheet) and with its anchor. Each is built, sent and read on the event
    loop: in the service, the serving loop, which serves nothing else meanwhile."""
    sheet = ImageBytes(sheet_png(), "image/png")
    story, image = styles.pick("romance", "webtoon")
    spec = GenerationSpec(GenerationKind.SHEET, Traits(Gender.FEMALE, AgeRange.TEEN), story, image)
    fake = FakeGemini()  # answers at once, small: a sheet or a passing verdict (the requests are measured)
    fake.start()
    try:
        async with gemini_client(api_key="bench-not-a-key", base_url=fake.base_url) as client:
            generator, judge = GeminiGenerator(client), GeminiJudge(client)
            calls: dict[str, Callable[[], Awaitable[object]]] = {
                "image call, no reference": lambda: generator.generate(spec, []),
                "image call, one reference": lambda: generator.generate(spec, [sheet]),
                "judge call, the drawing alone": lambda: judge.judge(spec, sheet, []),
                "judge call, the drawing and one reference": lambda: judge.judge(spec, sheet, [sheet]),
            }
            cpu = {
                label: await _median_seconds(call, times, time.thread_time) for label, call in calls.items()
            }
    finally:
        fake.stop()
    for label, seconds in cpu.items():
        report.add(SECTION, f"calling thread's CPU a call: {label}", ms(seconds), "ms", f"median of {times}")
    added = cpu["image call, one reference"] - cpu["image call, no reference"]
    report.add(SECTION, "what a ~1.5 MB image sent costs the calling thread", ms(added), "ms")


def offline_judge(report: Report, times: int) -> None:
    """CPU seconds of the offline judge per drawing, beside drawing it."""
    generator, judge = OfflineGenerator(), OfflineJudge()
    story, image = styles.pick("romance", "webtoon")
    base = Traits(Gender.FEMALE, AgeRange.TEEN, hair_traits="short black bob")
    first = ImageBytes(
        generator.draw(GenerationSpec(GenerationKind.SHEET, base, story, image), []), "image/png"
    )
    changes = TraitChanges(outfit="red winter coat")
    spec = GenerationSpec(
        GenerationKind.VARIANT, base.apply(changes), story, image, base_traits=base, changes=changes
    )
    drawing, judging = [], []
    for _ in range(times):
        started = time.perf_counter()
        look = ImageBytes(generator.draw(spec, [first]), "image/png")
        drawing.append(time.perf_counter() - started)
        started = time.perf_counter()
        judge.measure(look, [first])
        judging.append(time.perf_counter() - started)
    draw_p50, _ = report.latencies(SECTION, "offline generator: one drawing", drawing)
    judge_p50, _ = report.latencies(SECTION, "offline judge: one drawing against its anchor", judging)
    report.add(SECTION, "offline judge / offline drawing", judge_p50 / draw_p50, "x")


async def verification(report: Report, quick: bool) -> None:
    scale = 0.25 if quick else 1.0
    image, judge = IMAGE_SECONDS * scale, JUDGE_SECONDS * scale
    times = 1 if quick else 3
    print(f"\n[{SECTION}] Gemini stand-in: image {image:.1f} s, judge {judge:.1f} s; median of {times}")
    fake = FakeGemini()
    fake.start()
    fake.image_delay = image
    fake.judging = gemini.verdict(delay=judge)
    try:
        walls: dict[str, float] = {}
        for verify in ("off", "on"):
            with tempfile.TemporaryDirectory(prefix="casting-bench-") as tmp:
                directory = Path(tmp)
                async with service(
                    await sqlite_url(directory),
                    directory,
                    generator="gemini",
                    gemini_api_key="bench-not-a-key",
                    gemini_base_url=fake.base_url,
                    verify=verify,
                    max_draws=MAX_DRAWS,
                ) as s:
                    images, judged = len(fake.image_requests), len(fake.judge_requests)
                    walls[f"sheet, verify {verify}"] = await _median_seconds(
                        lambda: s.stub.GenerateSheet(_sheet()), times
                    )
                    if verify == "off":
                        continue
                    report.add(
                        SECTION,
                        "judge calls per drawing",
                        (len(fake.judge_requests) - judged) / (len(fake.image_requests) - images),
                        "x",
                    )
                    for count in (1, 4):
                        walls[f"{count} candidates"] = await _median_seconds(
                            lambda count=count: s.stub.GenerateSheets(_sheets(count)), times
                        )
                    fake.judging = gemini.verdict(delay=judge, same_person_score=0.1, free_of_text=False)
                    images = len(fake.image_requests) + MAX_DRAWS  # past the unmeasured call
                    walls["failing judge"] = await _median_seconds(
                        lambda: s.stub.GenerateSheets(_sheets(1)), times
                    )
                    report.add(
                        SECTION,
                        "always-failing judge: image calls per candidate",
                        (len(fake.image_requests) - images) / times,
                        "calls",
                        f"CASTING_MAX_DRAWS={MAX_DRAWS}",
                    )
    finally:
        fake.stop()
    offline_judge(report, 5 if quick else 20)
    await sent_images(report, 10 if quick else 50)
    off, on = walls["sheet, verify off"], walls["sheet, verify on"]
    report.add(SECTION, "GenerateSheet, verification off", off, "s")
    report.add(SECTION, "GenerateSheet, verification on (judge passes)", on, "s")
    report.add(SECTION, "verification on / off", on / off, "x", f"judge / image latency {judge / image:.2f}")
    report.add(SECTION, "added per drawing", on - off, "s")
    report.add(SECTION, "always-failing judge / one passing drawing", walls["failing judge"] / on, "x")
    report.add(SECTION, "GenerateSheets, 1 candidate", walls["1 candidates"], "s")
    report.add(SECTION, "GenerateSheets, 4 candidates", walls["4 candidates"], "s")
    report.add(
        SECTION,
        "4 candidates / 1 candidate",
        walls["4 candidates"] / walls["1 candidates"],
        "x",
        "target ~1x",
    )
