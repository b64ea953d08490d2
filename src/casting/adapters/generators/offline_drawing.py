"""Draws a Look as a profile sheet: a full-body front view and three expression headshots."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from PIL import Image, ImageDraw, ImageFilter

from casting.adapters.generators.offline_head import draw_back_hair, draw_head
from casting.adapters.generators.offline_layout import (
    FIGURE_CX,
    FIGURE_HEIGHT,
    FLOOR_Y,
    HEIGHT,
    INSET_EYE_SCALE,
    PANELS,
    WIDTH,
    HeadBox,
    inset_head,
)
from casting.adapters.generators.offline_look import RGB, Accessory, Bottom, Expression, Look, Top, mix
from casting.adapters.generators.offline_pen import SCALE, Pen, Point

SKIN_SLEEVE = {Top.TEE: 0.45, Top.DRESS: 0.2}  # how far down the arm a short sleeve ends


@dataclass(frozen=True, slots=True)
class Frame:
    """A body's landmarks in sheet pixels: heights down the body and half widths across it."""

    head: HeadBox
    shoulder_y: float
    chest_y: float
    waist_y: float
    hip_y: float
    crotch_y: float
    knee_y: float
    ankle_y: float
    floor: float
    shoulders: float
    waist: float
    hips: float
    slope: float  # how far the shoulder tips drop below the neck


def draw_sheet(look: Look) -> Image.Image:
    canvas = _backdrop(look)
    pen = Pen(canvas, look.render, look.shadow_tint)
    frame = _figure_frame(look)
    _draw_figure(pen, frame, look)
    for panel, expression in zip(PANELS, look.insets, strict=True):
        _draw_inset(canvas, panel, look, expression)
    sheet = canvas.reduce(SCALE)
    if look.render.soften:
        sheet = sheet.filter(ImageFilter.GaussianBlur(look.render.soften))
    return sheet


def _figure_frame(look: Look) -> Frame:
    build = look.build
    height = FIGURE_HEIGHT * build.height
    h = height / build.heads
    ratio = 0.95 if look.render.chibi else 0.8
    head = HeadBox(FIGURE_CX, FLOOR_Y - height, h, ratio * h)
    frame = _body(head, build.heads, build.shoulders, build.waist, build.hips, stoop=build.stoop)
    if build.stoop:
        # a stoop, seen from the front: the head sinks between rounding shoulders
        return replace(frame, head=HeadBox(head.cx, head.top + 0.12 * h, h, head.w))
    return frame


def _body(head: HeadBox, heads: float, shoulders: float, waist: float, hips: float, *, stoop: bool) -> Frame:
    below = (heads - 1) * head.h

    def at(fraction: float) -> float:
        return head.chin + fraction * below

    return Frame(
        head=head,
        shoulder_y=at(0.04),
        chest_y=at(0.2),
        waist_y=at(0.33),
        hip_y=at(0.41),
        crotch_y=at(0.46),
        knee_y=at(0.71),
        ankle_y=at(0.955),
        floor=at(1.0),
        shoulders=shoulders * head.h,
        waist=waist * head.h,
        hips=hips * head.h,
        slope=(0.24 if stoop else 0.14) * head.h,
    )


def _draw_figure(pen: Pen, frame: Frame, look: Look) -> None:
    _draw_floor_shadow(pen, frame, look)
    draw_back_hair(pen, frame.head, look)
    _draw_legs(pen, frame, look)
    _draw_bust(pen, frame, look, look.expression, look.render.eye_scale)
    for side in (-1, 1):
        _draw_arm(pen, frame, look, side)
    if Accessory.BAG in look.accessories:
        _draw_bag(pen, frame, look)
    if Accessory.CANE in look.accessories:
        x = FIGURE_CX + frame.shoulders * 1.25 + 0.1 * frame.head.h
        pen.shape(
            [
                (x - 4, frame.crotch_y - 0.1 * frame.head.h),
                (x + 4, frame.crotch_y - 0.1 * frame.head.h),
                (x + 4, frame.floor),
                (x - 4, frame.floor),
            ],
            (110, 76, 48),
            smooth=0,
        )


def _draw_inset(
    canvas: Image.Image, panel: tuple[int, int, int, int], look: Look, expression: Expression
) -> None:
    """One expression headshot: head and shoulders in a framed panel, clipped to its frame."""
    left, top, right, bottom = panel
    size = ((right - left) * SCALE, (bottom - top) * SCALE)
    tile = Image.new("RGB", size, mix(look.background[0], (255, 255, 255), 0.55))
    head = inset_head(panel)
    frame = _body(head, 7.0, max(look.build.shoulders, 0.8), look.build.waist, look.build.hips, stoop=False)
    pen = Pen(tile, look.render, look.shadow_tint, origin=(left, top))
    draw_back_hair(pen, head, look)
    _draw_bust(pen, frame, look, expression, INSET_EYE_SCALE)
    mask = Image.new("L", size, 0)
    ImageDraw.Draw(mask).rounded_rectangle((0, 0, size[0] - 1, size[1] - 1), radius=14 * SCALE, fill=255)
    canvas.paste(tile, (left * SCALE, top * SCALE), mask)
    ImageDraw.Draw(canvas).rounded_rectangle(
        (left * SCALE, top * SCALE, right * SCALE - 1, bottom * SCALE - 1),
        radius=14 * SCALE,
        outline=mix(look.background[1], (60, 56, 70), 0.5),
        width=3 * SCALE,
    )


def _draw_bust(pen: Pen, frame: Frame, look: Look, expression: Expression, eye_scale: float) -> None:
    """Neck, torso with its garment, and the head: what the figure and the headshots share."""
    head = frame.head
    if look.top is Top.HOODIE:
        hood = min(0.6 * head.w, 0.75 * frame.shoulders)
        pen.ellipse(
            (head.cx - hood, head.chin - 0.1 * head.h, head.cx + hood, frame.shoulder_y + 0.3 * head.h),
            mix(look.outfit, (0, 0, 0), 0.2),
        )
    neck = 0.15 * head.w
    pen.shape(
        [
            (head.cx - neck, head.chin - 0.2 * head.h),
            (head.cx + neck, head.chin - 0.2 * head.h),
            (head.cx + neck, frame.shoulder_y + 0.1 * head.h),
            (head.cx - neck, frame.shoulder_y + 0.1 * head.h),
        ],
        look.skin,
        smooth=0,
    )
    pen.shadow(
        [
            (head.cx - neck, head.chin - 0.05 * head.h),
            (head.cx + neck, head.chin - 0.05 * head.h),
            (head.cx + neck, head.chin + 0.06 * head.h),
            (head.cx - neck, head.chin + 0.1 * head.h),
        ],
        look.skin,
    )
    if look.bottom is Bottom.DRESS:
        _draw_skirt(pen, frame, look, flare=1.7, length=frame.knee_y + 0.3 * (frame.ankle_y - frame.knee_y))
    _draw_torso(pen, frame, look)
    if Accessory.SCARF in look.accessories:
        pen.shape(
            [
                (head.cx - 0.32 * head.w, frame.shoulder_y - 0.12 * head.h),
                (head.cx + 0.32 * head.w, frame.shoulder_y - 0.12 * head.h),
                (head.cx + 0.34 * head.w, frame.shoulder_y + 0.12 * head.h),
                (head.cx - 0.08 * head.w, frame.shoulder_y + 0.14 * head.h),
                (head.cx - 0.12 * head.w, frame.chest_y + 0.1 * head.h),
                (head.cx - 0.3 * head.w, frame.chest_y + 0.08 * head.h),
                (head.cx - 0.34 * head.w, frame.shoulder_y + 0.1 * head.h),
            ],
            look.accent,
            smooth=1,
        )
    if Accessory.NECKLACE in look.accessories:
        gold = (222, 184, 72)
        pen.stroke(
            [
                (head.cx - neck * 1.2, frame.shoulder_y - 0.02 * head.h),
                (head.cx, frame.shoulder_y + 0.2 * head.h),
                (head.cx + neck * 1.2, frame.shoulder_y - 0.02 * head.h),
            ],
            gold,
            0.012 * head.h,
        )
        r = 0.035 * head.h
        pen.ellipse(
            (
                head.cx - r,
                frame.shoulder_y + 0.18 * head.h,
                head.cx + r,
                frame.shoulder_y + 0.18 * head.h + 2 * r,
            ),
            look.accent,
        )
    draw_head(pen, head, look, expression, eye_scale)


def _torso_outline(frame: Frame, hem_y: float, hem: float) -> list[Point]:
    cx, h = frame.head.cx, frame.head.h
    right = [
        (cx + 0.2 * frame.head.w, frame.shoulder_y - 0.02 * h),
        (cx + frame.shoulders * 0.9, frame.shoulder_y + frame.slope * 0.8),
        (cx + frame.shoulders, frame.shoulder_y + frame.slope + 0.25 * h),
        (cx + frame.shoulders * 0.9, frame.chest_y),
        (cx + frame.waist, frame.waist_y),
        (cx + hem, hem_y),
    ]
    return [*right, *[(2 * cx - x, y) for x, y in reversed(right)]]


def _draw_torso(pen: Pen, frame: Frame, look: Look) -> None:
    head, h, cx = frame.head, frame.head.h, frame.head.cx
    hem_y, hem = {
        Top.COAT: (frame.knee_y, frame.hips * 1.2),
        Top.SUIT: (frame.hip_y + 0.3 * (frame.crotch_y - frame.hip_y), frame.hips * 1.05),
        Top.DRESS: (frame.waist_y + 0.02 * h, frame.waist),
    }.get(look.top, (frame.hip_y, frame.hips * 1.02))
    outline = _torso_outline(frame, hem_y, hem)
    pen.shape(outline, look.outfit)
    right = outline[1:6]
    pen.shadow([*right, *[(x - 0.25 * frame.shoulders, y) for x, y in reversed(right)]], look.outfit)
    trim = mix(look.outfit, (0, 0, 0), 0.35)
    neck_top = frame.shoulder_y - 0.02 * h
    if look.top in (Top.TEE, Top.DRESS, Top.HOODIE):
        dip = 0.3 if look.top is Top.DRESS else 0.16
        pen.shape(
            [(cx - 0.2 * head.w, neck_top), (cx + 0.2 * head.w, neck_top), (cx, neck_top + dip * h)],
            look.skin,
            smooth=2,
        )
    if look.top is Top.HOODIE:
        for side in (-1, 1):
            pen.stroke(
                [(cx + side * 0.1 * head.w, neck_top + 0.1 * h), (cx + side * 0.12 * head.w, frame.chest_y)],
                (236, 236, 232),
                0.02 * h,
            )
        pen.shape(
            [
                (cx - frame.waist * 0.7, frame.waist_y + 0.05 * h),
                (cx + frame.waist * 0.7, frame.waist_y + 0.05 * h),
                (cx + frame.waist * 0.85, hem_y - 0.1 * h),
                (cx - frame.waist * 0.85, hem_y - 0.1 * h),
            ],
            trim,
            smooth=1,
        )
    if look.top in (Top.SUIT, Top.COAT, Top.UNIFORM):
        shirt = look.outfit_second if look.top is Top.COAT else (240, 240, 236)
        v_bottom = frame.chest_y + (0.15 if look.top is Top.SUIT else -0.1) * h
        pen.shape(
            [(cx - 0.2 * head.w, neck_top), (cx + 0.2 * head.w, neck_top), (cx, v_bottom)], shirt, smooth=0
        )
        for side in (-1, 1):
            pen.shape(
                [
                    (cx + side * 0.2 * head.w, neck_top),
                    (cx + side * 0.45 * head.w, neck_top + 0.2 * h),
                    (cx + side * 0.03 * head.w, v_bottom),
                ],
                trim,
                smooth=0,
            )
    if look.top is Top.SUIT:
        pen.shape(
            [
                (cx - 0.05 * head.w, neck_top + 0.05 * h),
                (cx + 0.05 * head.w, neck_top + 0.05 * h),
                (cx + 0.07 * head.w, v_bottom - 0.05 * h),
                (cx, v_bottom + 0.05 * h),
                (cx - 0.07 * head.w, v_bottom - 0.05 * h),
            ],
            look.accent,
            smooth=0,
        )
    if look.top in (Top.COAT, Top.UNIFORM, Top.SUIT):
        for i in range(3 if look.top is Top.SUIT else 5):
            y = frame.chest_y + 0.1 * h + i * 0.25 * h
            r = 0.025 * h
            pen.ellipse((cx - r, y - r, cx + r, y + r), (214, 178, 80))
    if look.top in (Top.UNIFORM, Top.COAT, Top.ARMOR, Top.DRESS):
        band = (30, 28, 34) if look.top is not Top.DRESS else look.accent
        pen.shape(
            [
                (cx - frame.waist * 1.04, frame.waist_y - 0.05 * h),
                (cx + frame.waist * 1.04, frame.waist_y - 0.05 * h),
                (cx + frame.waist * 1.06, frame.waist_y + 0.06 * h),
                (cx - frame.waist * 1.06, frame.waist_y + 0.06 * h),
            ],
            band,
            smooth=0,
        )
    if look.top is Top.ARMOR:
        pen.stroke([(cx, neck_top + 0.1 * h), (cx, frame.waist_y - 0.08 * h)], trim, 0.02 * h)
        for i in range(2):
            y = frame.chest_y + (0.25 + 0.3 * i) * h
            pen.stroke(
                [(cx - frame.waist * 0.95, y), (cx, y + 0.08 * h), (cx + frame.waist * 0.95, y)],
                trim,
                0.015 * h,
            )
        for side in (-1, 1):
            x = cx + side * frame.shoulders * 0.95
            pen.ellipse(
                (x - 0.38 * h, frame.shoulder_y - 0.05 * h, x + 0.38 * h, frame.shoulder_y + 0.5 * h),
                look.outfit,
            )


def _draw_legs(pen: Pen, frame: Frame, look: Look) -> None:
    h, cx, hips = frame.head.h, frame.head.cx, frame.hips
    trousers = look.bottom is Bottom.PANTS
    cover = look.outfit_second if trousers else look.skin
    for side in (-1, 1):
        hip_x, knee_x, ankle_x = cx + side * hips * 0.5, cx + side * hips * 0.52, cx + side * hips * 0.56
        leg = [
            (hip_x + side * hips * 0.52, frame.hip_y),
            (knee_x + side * hips * 0.28, frame.knee_y),
            (ankle_x + side * hips * 0.3, (frame.knee_y + frame.ankle_y) / 2),
            (ankle_x + side * hips * 0.17, frame.ankle_y),
            (ankle_x - side * hips * 0.15, frame.ankle_y),
            (knee_x - side * hips * 0.25, frame.knee_y),
            (cx + side * hips * 0.02, frame.crotch_y),
        ]
        pen.shape(leg, cover, smooth=2)
        if side == 1:
            pen.shadow(
                [
                    leg[6],
                    leg[5],
                    leg[4],
                    (ankle_x, frame.ankle_y),
                    (knee_x - side * hips * 0.05, frame.knee_y),
                    (cx + side * hips * 0.22, frame.crotch_y),
                ],
                cover,
            )
        shift = side * hips * 0.06
        pen.shape(
            [
                (ankle_x - hips * 0.22 + shift, frame.ankle_y - 0.04 * h),
                (ankle_x + hips * 0.22 + shift, frame.ankle_y - 0.04 * h),
                (ankle_x + hips * 0.3 + shift, frame.floor),
                (ankle_x - hips * 0.3 + shift, frame.floor),
            ],
            look.shoes,
            smooth=2,
        )
    if trousers:
        pen.shape(
            [
                (cx - hips, frame.waist_y),
                (cx + hips, frame.waist_y),
                (cx + hips * 1.02, frame.crotch_y),
                (cx - hips * 1.02, frame.crotch_y),
            ],
            look.outfit_second,
            smooth=1,
        )
    elif look.bottom is Bottom.SKIRT:
        _draw_skirt(
            pen, frame, look, flare=1.45, length=frame.knee_y - 0.04 * (frame.floor - frame.head.chin)
        )


def _draw_skirt(pen: Pen, frame: Frame, look: Look, *, flare: float, length: float) -> None:
    cx = frame.head.cx
    colour = look.outfit if look.bottom is Bottom.DRESS else look.outfit_second
    folds = 5
    hem = [
        (cx + frame.hips * flare * (1 - 2 * i / folds), length + (0.02 * frame.head.h if i % 2 else 0))
        for i in range(folds + 1)
    ]
    pen.shape([(cx - frame.waist, frame.waist_y), (cx + frame.waist, frame.waist_y), *hem], colour, smooth=1)


def _draw_arm(pen: Pen, frame: Frame, look: Look, side: int) -> None:
    cx, s = frame.head.cx, frame.shoulders
    joints = [
        (cx + side * s * 0.93, frame.shoulder_y + frame.slope + 0.2 * frame.head.h),
        (cx + side * s * 1.12, frame.waist_y - 0.02 * (frame.floor - frame.head.chin)),
        (cx + side * s * 1.24, frame.crotch_y),
    ]
    widths = [0.24 * s, 0.18 * s, 0.13 * s]
    pen.shape(_limb(joints, widths, side, 1.0), look.skin, smooth=1)
    sleeve = SKIN_SLEEVE.get(look.top, 1.0)
    pen.shape(_limb(joints, [w * 1.15 for w in widths], side, sleeve), look.outfit, smooth=1)
    if side == 1:
        pen.shadow(_limb(joints, [w * 0.45 for w in widths], side, sleeve, offset=0.6), look.outfit)
    wx, wy = joints[-1]
    hand = 0.17 * s
    pen.ellipse((wx - hand, wy - 0.2 * hand, wx + hand, wy + 1.9 * hand), look.skin)
    if Accessory.BRACELET in look.accessories and sleeve < 1:
        pen.stroke([(wx - hand, wy - 0.4 * hand), (wx + hand, wy - 0.3 * hand)], (222, 184, 72), 0.5 * hand)


def _limb(
    joints: list[Point], widths: list[float], side: int, upto: float, offset: float = 0.0
) -> list[Point]:
    """A tapered limb along `joints`, cut at `upto` of its length (0..1); `offset` shifts it
    outward by that share of its width (a shadow band along the outer edge)."""
    spine = _along(joints, upto)
    half = _along([(w, 0.0) for w in widths], upto)
    outer = [(x + side * (1 + offset) * w, y) for (x, y), (w, _) in zip(spine, half, strict=True)]
    inner = [(x - side * (1 - offset) * w, y) for (x, y), (w, _) in zip(spine, half, strict=True)]
    return [*outer, *reversed(inner)]


def _along(points: list[Point], upto: float) -> list[Point]:
    """The polyline through `points` (equally weighted segments) up to `upto` of its length."""
    end = upto * (len(points) - 1)
    whole = int(end)
    kept = points[: whole + 1]
    if end > whole:
        (ax, ay), (bx, by) = points[whole], points[whole + 1]
        t = end - whole
        kept.append((ax + (bx - ax) * t, ay + (by - ay) * t))
    return kept


def _draw_bag(pen: Pen, frame: Frame, look: Look) -> None:
    cx, h = frame.head.cx, frame.head.h
    strap = mix(look.accent, (0, 0, 0), 0.3)
    pen.stroke(
        [(cx + frame.shoulders * 0.6, frame.shoulder_y + 0.05 * h), (cx - frame.hips * 0.9, frame.hip_y)],
        strap,
        0.05 * h,
    )
    x, y = cx - frame.hips * 1.05, frame.hip_y
    pen.shape(
        [
            (x - 0.3 * h, y - 0.1 * h),
            (x + 0.3 * h, y - 0.1 * h),
            (x + 0.32 * h, y + 0.4 * h),
            (x - 0.32 * h, y + 0.4 * h),
        ],
        look.accent,
        smooth=1,
    )


def _draw_floor_shadow(pen: Pen, frame: Frame, look: Look) -> None:
    reach = frame.hips * 2.2
    pen.ellipse(
        (frame.head.cx - reach, frame.floor - 14, frame.head.cx + reach, frame.floor + 14),
        mix(look.background[1], (40, 36, 50), 0.15),
        outline=False,
    )


def _backdrop(look: Look) -> Image.Image:
    """A light vertical gradient in the story style's and mood's tint; paper grain for washes."""
    top, bottom = look.background
    ramp = Image.linear_gradient("L").resize((WIDTH * SCALE, HEIGHT * SCALE))
    canvas = Image.composite(Image.new("RGB", ramp.size, bottom), Image.new("RGB", ramp.size, top), ramp)
    if look.render.paper:
        canvas = Image.blend(canvas, _paper(canvas.size, top), 0.18)
    return canvas


def _paper(size: tuple[int, int], tint: RGB) -> Image.Image:
    # a fixed seed: grain is texture, not identity, and the bytes must not vary between runs
    rng = random.Random(7)
    grain = Image.frombytes("L", (96, 96), bytes(rng.randrange(200, 256) for _ in range(96 * 96)))
    grain = grain.filter(ImageFilter.BoxBlur(1))
    tile = Image.merge("RGB", [grain.point(lambda v, c=c: v * c // 255) for c in tint])
    paper = Image.new("RGB", size)
    for x in range(0, size[0], 96):
        for y in range(0, size[1], 96):
            paper.paste(tile, (x, y))
    return paper
