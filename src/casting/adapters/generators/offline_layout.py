"""Where things sit on an offline profile sheet.

Drawing and reading back share these numbers: a variant reads its parent's identity (skin,
eyes, hair, outfit) from the neutral headshot, which is drawn at the same place and size
whatever the traits or styles, so the sample points below always land on the same feature.
"""

from __future__ import annotations

from dataclasses import dataclass

WIDTH, HEIGHT = 768, 1344
FLOOR_Y = 1140
FIGURE_CX = 272
# A standard adult's height: about 70% of the sheet.
FIGURE_HEIGHT = 950

# The three expression headshots, a column on the right: (left, top, right, bottom).
PANELS: tuple[tuple[int, int, int, int], ...] = tuple(
    (546, 160 + i * 330, 748, 160 + i * 330 + 300) for i in range(3)
)
INSET_HEAD_HEIGHT = 150
INSET_HEAD_TOP = 44
INSET_EYE_SCALE = 1.15


@dataclass(frozen=True, slots=True)
class HeadBox:
    """A head: centre x, top of the skull, height and (face) width, in sheet pixels."""

    cx: float
    top: float
    h: float
    w: float

    @property
    def eye_y(self) -> float:
        return self.top + 0.56 * self.h

    @property
    def chin(self) -> float:
        return self.top + self.h


@dataclass(frozen=True, slots=True)
class EyeBox:
    cx: float
    cy: float
    w: float
    h: float

    @property
    def iris_rx(self) -> float:
        return 0.34 * self.w

    @property
    def iris_ry(self) -> float:
        return 0.46 * self.h


def eye_box(head: HeadBox, side: int, scale: float) -> EyeBox:
    """The eye on `side` (-1 the figure's right, on the viewer's left; +1 the other)."""
    return EyeBox(head.cx + side * 0.22 * head.w, head.eye_y, 0.24 * head.w * scale, 0.16 * head.h * scale)


def inset_head(panel: tuple[int, int, int, int]) -> HeadBox:
    left, top, right, _ = panel
    return HeadBox((left + right) / 2, top + INSET_HEAD_TOP, INSET_HEAD_HEIGHT, 0.8 * INSET_HEAD_HEIGHT)


Point = tuple[float, float]


@dataclass(frozen=True, slots=True)
class SamplePoints:
    """Centres of the patches a variant reads its parent's identity from."""

    skin: Point
    eyes: Point
    hair: Point
    outfit: Point


def sample_points() -> SamplePoints:
    head = inset_head(PANELS[0])
    eye = eye_box(head, -1, INSET_EYE_SCALE)
    return SamplePoints(
        # the cheek below the eye, clear of the nose, the mouth and side locks
        skin=(head.cx - 0.27 * head.w, head.top + 0.75 * head.h),
        # the lower iris, below the pupil and away from the highlight
        eyes=(eye.cx, eye.cy + 0.68 * eye.iris_ry),
        # the crown, which every hair style but bald covers
        hair=(head.cx, head.top + 0.06 * head.h),
        # the shoulder, outside collars, lapels, scarves and side locks
        outfit=(head.cx - 0.62 * head.w, head.chin + 0.58 * head.h),
    )
