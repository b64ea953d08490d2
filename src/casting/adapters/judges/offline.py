"""The offline judge: measures an offline generator's sheet against its references with image
statistics, no model and no network.

Identity: the three expression headshots sit at the same place and size on every offline
sheet (offline_layout), so each is cropped from the candidate and from the identity anchor
(and the lineage root), the panel's own backdrop is masked out, and what is left — skin, eyes,
hair, the face's outline — is compared twice: by the intersection of the colour histograms
(which colours, how much of each) and by the correlation of the grey levels (where light and
dark sit: hair style, face shape). An outfit or a mood changes neither much; another person
changes both. On pictures of another layout (an imported look) the same crops hold whatever
is there, so the score says little; the gemini judge is the one for those.

Rules it can measure: the 9:16 aspect, a clean background (the margins hold one smooth
gradient), the full figure at about 70% of the height, and 2–3 expression headshots. Text,
watermarks and speech bubbles it cannot see, so it does not claim to have checked them.
"""

from __future__ import annotations

import asyncio
import io
import math
from collections import Counter

from PIL import Image, ImageChops, ImageStat

from casting.adapters.generators.offline_layout import HEIGHT, PANELS, WIDTH, inset_head
from casting.domain.errors import UpstreamUnavailable
from casting.domain.ports import GenerationSpec, Judgement
from casting.domain.values import ImageBytes, VerificationCheck

JUDGE = "offline"
SHEET_ASPECT = 9 / 16
# Colour levels per channel in the histograms: coarse enough that anti-aliasing and a mood's
# shading land in the same bins, fine enough that two skin tones do not.
_LEVEL = 32
# A pixel this close (sum of channel differences) to the panel's backdrop is backdrop.
_BACKDROP_DISTANCE = 36
# The grey-level comparison's resolution per headshot.
_GREY_SIZE = (24, 30)
# Margins count as clean when their grey levels, row by row, vary less than this (paper grain
# and anti-aliasing stay well below; a prop, a pattern or lettering does not).
_CLEAN_SPREAD = 10.0
# Figure height as a share of the sheet: a child stands about 52%, an adult about 71%.
_FULL_BODY = (0.45, 0.85)
# A pixel differing this much from the backdrop's row belongs to the figure or a panel.
_INK = 40
_FIGURE_RIGHT = PANELS[0][0] - 10
# A panel is at least this many rows tall; shorter runs of ink are stray marks.
_PANEL_ROWS = 100


class OfflineJudge:
    """Judge for the offline generator's sheets (the embedded default's)."""

    async def judge(
        self, spec: GenerationSpec, candidate: ImageBytes, references: list[ImageBytes]
    ) -> Judgement:
        # Pure CPU on Pillow, a few milliseconds: off the event loop like the drawing itself.
        return await asyncio.to_thread(self.measure, candidate, references)

    def measure(self, candidate: ImageBytes, references: list[ImageBytes]) -> Judgement:
        sheet, aspect = _decode(candidate)
        score = None
        if references:
            score = min(identity_score(sheet, _decode(r)[0]) for r in references)
        checks = (
            _check("aspect_9_16", abs(aspect - SHEET_ASPECT) / SHEET_ASPECT <= 0.02, f"aspect {aspect:.3f}"),
            _clean_background(sheet),
            _full_body(sheet),
            _expression_insets(sheet),
        )
        return Judgement(identity_score=score, checks=checks, judge=JUDGE)


def identity_score(candidate: Image.Image, reference: Image.Image) -> float:
    """How alike the two sheets' headshots are, in [0, 1]: the mean over the three panels of
    histogram intersection times grey-level correlation (negative correlation counts as 0)."""
    scores = []
    for panel in PANELS:
        a, b = _headshot(candidate, panel), _headshot(reference, panel)
        colours = _intersection(_histogram(*a), _histogram(*b))
        grey = max(0.0, _correlation(_grey(a[0]), _grey(b[0])))
        scores.append(colours * grey)
    return round(sum(scores) / len(scores), 4)


def _decode(image: ImageBytes) -> tuple[Image.Image, float]:
    """The picture at sheet size, and its own aspect before resizing."""
    try:
        with Image.open(io.BytesIO(image.data)) as opened:
            picture = opened.convert("RGB")
    except Exception as exc:  # a stored reference that no longer decodes is a broken upstream
        raise UpstreamUnavailable("REFERENCE_UNREADABLE", "an image to judge could not be read") from exc
    aspect = picture.width / picture.height
    if picture.size != (WIDTH, HEIGHT):
        picture = picture.resize((WIDTH, HEIGHT), Image.Resampling.BILINEAR)
    return picture, aspect


Backdrop = tuple[int, int, int]


def _headshot(sheet: Image.Image, panel: tuple[int, int, int, int]) -> tuple[Image.Image, Backdrop]:
    """The head of one expression panel, from above the hair to the chin, and the panel's
    backdrop colour (read inside its rounded frame, where nothing is drawn)."""
    head = inset_head(panel)
    box = (
        round(head.cx - 0.75 * head.w),
        round(head.top - 0.2 * head.h),
        round(head.cx + 0.75 * head.w),
        round(head.chin),
    )
    left, top = panel[0], panel[1]
    corner = sheet.crop((left + 8, top + 8, left + 16, top + 16))
    r, g, b = ImageStat.Stat(corner).median
    return sheet.crop(box), (r, g, b)


def _histogram(crop: Image.Image, backdrop: Backdrop) -> Counter[tuple[int, int, int]]:
    """Quantised colours of the crop's pixels that are not backdrop, as shares of them."""
    counts: Counter[tuple[int, int, int]] = Counter()
    quantised = crop.point(lambda v: v // _LEVEL * _LEVEL)
    for count, colour in quantised.getcolors(maxcolors=crop.width * crop.height) or []:
        r, g, b = colour
        if abs(r - backdrop[0]) + abs(g - backdrop[1]) + abs(b - backdrop[2]) > _BACKDROP_DISTANCE:
            counts[(r, g, b)] += count
    return counts


def _intersection(a: Counter[tuple[int, int, int]], b: Counter[tuple[int, int, int]]) -> float:
    total_a, total_b = a.total(), b.total()
    if not total_a or not total_b:
        return 0.0
    return sum(min(a[c] / total_a, b[c] / total_b) for c in a.keys() & b.keys())


def _grey(crop: Image.Image) -> list[float]:
    return [float(v) for v in crop.convert("L").resize(_GREY_SIZE, Image.Resampling.BOX).tobytes()]


def _correlation(a: list[float], b: list[float]) -> float:
    """Pearson's correlation of two equally long series (0 when either is flat)."""
    mean_a, mean_b = sum(a) / len(a), sum(b) / len(b)
    da = [x - mean_a for x in a]
    db = [y - mean_b for y in b]
    spread = math.sqrt(sum(x * x for x in da) * sum(y * y for y in db))
    return sum(x * y for x, y in zip(da, db, strict=True)) / spread if spread else 0.0


def _check(rule: str, passed: bool, detail: str) -> VerificationCheck:
    return VerificationCheck(rule=rule, passed=passed, detail=detail)


def _ink(sheet: Image.Image, box: tuple[int, int, int, int]) -> Image.Image:
    """A mask of what is drawn in `box`: pixels far from the backdrop of their own row (the
    backdrop is a vertical gradient, read at the sheet's left edge)."""
    region = sheet.crop(box)
    edge = sheet.crop((0, box[1], 4, box[3])).resize(region.size, Image.Resampling.BOX)
    distance = ImageChops.difference(region, edge).convert("L")
    return distance.point(lambda v: 255 if v > _INK else 0)


def _clean_background(sheet: Image.Image) -> VerificationCheck:
    """The top margin, above the figure and the panels, holds one smooth gradient: each row
    is nearly one colour."""
    margin = sheet.crop((0, 0, WIDTH, PANELS[0][1] - 20)).convert("L")
    spread = max(
        ImageStat.Stat(margin.crop((0, y, WIDTH, y + 1))).stddev[0] for y in range(0, margin.height, 4)
    )
    return _check("clean_background", spread < _CLEAN_SPREAD, f"margin spread {spread:.1f}")


def _full_body(sheet: Image.Image) -> VerificationCheck:
    """The figure, left of the panels, stands whole (not cut by an edge) at about 70%."""
    box = _ink(sheet, (0, 0, _FIGURE_RIGHT, HEIGHT)).getbbox()
    if box is None:
        return _check("full_body", False, "no figure found")
    share = (box[3] - box[1]) / HEIGHT
    whole = box[1] > 0 and box[3] < HEIGHT
    passed = whole and _FULL_BODY[0] <= share <= _FULL_BODY[1]
    return _check("full_body", passed, f"figure {share:.0%} of the height" + ("" if whole else ", cut off"))


def _expression_insets(sheet: Image.Image) -> VerificationCheck:
    """Separate drawn panels in the column right of the figure: runs of rows with ink."""
    mask = _ink(sheet, (_FIGURE_RIGHT, 0, WIDTH, HEIGHT))
    rows = mask.resize((1, mask.height), Image.Resampling.BOX).tobytes()
    runs, length = 0, 0
    for ink in rows:
        length = length + 1 if ink else 0
        if length == _PANEL_ROWS:
            runs += 1
    passed = 2 <= runs <= 3
    return _check("expression_insets", passed, f"{runs} expression panels")
