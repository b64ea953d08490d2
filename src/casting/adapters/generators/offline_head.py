"""The head: hair behind and in front, the face, and the features each expression moves.

The same functions draw the full figure's head and every headshot, so a face is one face.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from casting.adapters.generators.offline_layout import EyeBox, HeadBox, eye_box
from casting.adapters.generators.offline_look import RGB, Accessory, Expression, HairStyle, Look, mix
from casting.adapters.generators.offline_pen import Pen, Point

WHITE: Final[RGB] = (252, 252, 250)
MOUTH_INSIDE: Final[RGB] = (150, 52, 62)


@dataclass(frozen=True, slots=True)
class Face:
    """How an expression moves the features. Mouth points are in mouth widths from its centre."""

    brow_tilt: float  # + lifts the inner ends (worry), - drops them (anger)
    brow_lift: float
    lid: float  # 0 wide open, up to 0.5 heavy-lidded; 1 closed in a smile
    mouth: tuple[Point, ...]
    open_mouth: bool
    blush: bool


FACES: Final[dict[Expression, Face]] = {
    Expression.NEUTRAL: Face(0.0, 0.0, 0.0, ((-0.5, 0.0), (0.0, 0.05), (0.5, 0.0)), False, False),
    Expression.HAPPY: Face(
        0.15, 0.12, 1.0, ((-0.6, -0.1), (0.6, -0.1), (0.45, 0.3), (0.0, 0.5), (-0.45, 0.3)), True, True
    ),
    Expression.SAD: Face(0.55, 0.05, 0.15, ((-0.5, 0.18), (0.0, -0.04), (0.5, 0.18)), False, False),
    Expression.ANGRY: Face(
        -0.65, -0.05, 0.25, ((-0.5, 0.12), (0.0, -0.06), (0.5, 0.12), (0.4, 0.34), (-0.4, 0.34)), True, False
    ),
    Expression.SHY: Face(
        0.35, 0.05, 0.1, ((-0.35, 0.0), (-0.12, 0.07), (0.12, -0.02), (0.35, 0.05)), False, True
    ),
    Expression.CALM: Face(0.05, 0.0, 0.3, ((-0.55, -0.04), (0.0, 0.14), (0.55, -0.04)), False, False),
    Expression.MYSTERIOUS: Face(-0.2, -0.03, 0.42, ((-0.45, 0.05), (0.2, 0.05), (0.5, -0.12)), False, False),
}


def draw_back_hair(pen: Pen, head: HeadBox, look: Look) -> None:
    """The hair behind the head and shoulders: drawn before the body."""
    style, back = look.hair_style, mix(look.hair, (0, 0, 0), 0.18)
    rx, yc = 0.5 * head.w * look.face.width, head.top + 0.45 * head.h
    if style is HairStyle.LONG:
        bottom = head.top + 2.5 * head.h
        tips = [(head.cx + rx * (0.35 * i - 1.4), bottom + (0.08 * head.h if i % 2 else 0)) for i in range(9)]
        pen.shape(
            [
                *_crown(head, rx, 1.14),
                (head.cx - rx * 1.3, yc + 0.3 * head.h),
                *tips,
                (head.cx + rx * 1.3, yc + 0.3 * head.h),
            ],
            back,
            smooth=1,
        )
    elif style is HairStyle.BOB:
        pen.shape(
            [
                *_crown(head, rx, 1.16),
                (head.cx - rx * 1.3, head.chin),
                (head.cx - rx * 1.1, head.chin + 0.1 * head.h),
                (head.cx + rx * 1.1, head.chin + 0.1 * head.h),
                (head.cx + rx * 1.3, head.chin),
            ],
            back,
        )
    elif style is HairStyle.PONYTAIL:
        pen.shape(
            [
                (head.cx + rx * 0.6, head.top + 0.2 * head.h),
                (head.cx + rx * 1.6, head.top + 0.45 * head.h),
                (head.cx + rx * 1.55, head.top + 1.3 * head.h),
                (head.cx + rx * 1.2, head.top + 1.9 * head.h),
                (head.cx + rx * 1.0, head.top + 1.0 * head.h),
            ],
            back,
        )
    elif style is HairStyle.BUN:
        r = 0.22 * head.h
        pen.ellipse((head.cx - r, head.top - 1.5 * r, head.cx + r, head.top + 0.5 * r), back)
    elif style is HairStyle.CURLY:
        for i in range(12):
            a = math.pi * (0.9 + i * 1.2 / 11)
            x, y = head.cx + 1.3 * rx * math.cos(a), yc + 0.1 * head.h - 0.62 * head.h * math.sin(a - math.pi)
            r = 0.16 * head.h
            pen.ellipse((x - r, y - r, x + r, y + r), back)


def draw_head(pen: Pen, head: HeadBox, look: Look, expression: Expression, eye_scale: float) -> None:
    """Ears, face, features and the hair that falls in front of them."""
    rx, yc = 0.5 * head.w * look.face.width, head.top + 0.45 * head.h
    for side in (-1, 1):
        ear_x = head.cx + side * rx * 0.96
        pen.ellipse(
            (ear_x - 0.07 * head.w, head.top + 0.5 * head.h, ear_x + 0.07 * head.w, head.top + 0.7 * head.h),
            look.skin,
        )
    pen.shape(_face_outline(head, look, rx, yc), look.skin, smooth=3)
    face = FACES[expression]
    if face.blush:
        for side in (-1, 1):
            x, y = head.cx + side * 0.3 * head.w, head.top + 0.72 * head.h
            pen.ellipse(
                (x - 0.1 * head.w, y - 0.03 * head.h, x + 0.1 * head.w, y + 0.03 * head.h),
                mix(look.skin, (240, 110, 120), 0.35),
                outline=False,
            )
    _draw_marks(pen, head, look)
    for side in (-1, 1):
        eye = eye_box(head, side, eye_scale)
        _draw_eye(pen, eye, look, face, side)
        _draw_brow(pen, eye, head, look, face, side)
    line = mix(look.skin, (60, 30, 30), 0.55)
    pen.stroke(
        [
            (head.cx + 0.02 * head.w, head.top + 0.67 * head.h),
            (head.cx - 0.025 * head.w, head.top + 0.72 * head.h),
            (head.cx + 0.01 * head.w, head.top + 0.73 * head.h),
        ],
        line,
        0.014 * head.h,
    )
    _draw_mouth(pen, head, face, line)
    _draw_front_hair(pen, head, look, rx, yc)
    _draw_head_accessories(pen, head, look, eye_scale)


def _face_outline(head: HeadBox, look: Look, rx: float, yc: float) -> list[Point]:
    shape = look.face
    crown = [(head.cx + rx * math.cos(a), yc - 0.45 * head.h * math.sin(a)) for a in _angles(0, math.pi, 9)]
    jaw_y = yc + (head.chin - yc) * shape.jaw_drop
    left = [(head.cx - rx * shape.jaw_width, jaw_y), (head.cx - rx * shape.chin_width, head.chin)]
    right = [(head.cx + rx * shape.chin_width, head.chin), (head.cx + rx * shape.jaw_width, jaw_y)]
    return [*crown, *left, *right]


def _crown(head: HeadBox, rx: float, scale: float) -> list[Point]:
    """The top of the hair mass, from the viewer's right temple over to the left one."""
    yc = head.top + 0.45 * head.h
    return [
        (head.cx + scale * rx * math.cos(a), yc - scale * 0.47 * head.h * math.sin(a))
        for a in _angles(0, math.pi, 11)
    ]


def _angles(start: float, stop: float, count: int) -> list[float]:
    return [start + (stop - start) * i / (count - 1) for i in range(count)]


def _draw_front_hair(pen: Pen, head: HeadBox, look: Look, rx: float, yc: float) -> None:
    style = look.hair_style
    if style is HairStyle.BALD:
        return
    h = head.h
    crown = _crown(head, rx, 1.1)
    if style is HairStyle.SPIKY:
        crown = [
            (head.cx + (x - head.cx) * (1.18 if i % 2 else 1.0), yc + (y - yc) * (1.22 if i % 2 else 1.0))
            for i, (x, y) in enumerate(crown)
        ]
    pulled_back = style in (HairStyle.PONYTAIL, HairStyle.BUN)
    tip, notch = head.top + (0.3 if pulled_back else 0.37) * h, head.top + 0.24 * h
    locks = 6
    fringe = [
        (head.cx - rx * 0.98 + i * 1.96 * rx / locks, tip if i % 2 else notch) for i in range(locks + 1)
    ]
    temple = yc + 0.1 * h
    pen.shape(
        [*crown, (head.cx - rx * 1.08, temple), *fringe, (head.cx + rx * 1.08, temple)], look.hair, smooth=1
    )
    shine = mix(look.hair, (255, 255, 255), 0.35)
    # low on the crown: the top of it is where a variant reads the hair colour back
    pen.stroke(
        [
            (head.cx - rx * 0.55, head.top + 0.2 * h),
            (head.cx - rx * 0.1, head.top + 0.15 * h),
            (head.cx + rx * 0.35, head.top + 0.19 * h),
        ],
        shine,
        0.035 * h,
    )
    if style is HairStyle.CURLY:
        for i in range(locks + 1):
            x = head.cx - rx * 0.98 + i * 1.96 * rx / locks
            pen.ellipse((x - 0.09 * h, notch - 0.05 * h, x + 0.09 * h, tip), look.hair)
    side_end = {HairStyle.LONG: head.top + 1.75 * h, HairStyle.BOB: head.chin + 0.05 * h}.get(style)
    if side_end is not None:
        for side in (-1, 1):
            pen.shape(
                [
                    (head.cx + side * rx * 1.12, yc - 0.1 * h),
                    (head.cx + side * rx * 0.8, yc - 0.05 * h),
                    (head.cx + side * rx * 0.84, side_end - 0.1 * h),
                    (head.cx + side * rx * 1.02, side_end),
                    (head.cx + side * rx * 1.2, side_end - 0.2 * h),
                ],
                look.hair,
            )


def _draw_eye(pen: Pen, eye: EyeBox, look: Look, face: Face, side: int) -> None:
    lash = pen.ink(look.hair) if look.render.ink else mix(look.hair, (20, 12, 24), 0.7)
    if face.lid >= 1:
        pen.stroke(
            [
                (eye.cx - eye.w / 2, eye.cy + 0.1 * eye.h),
                (eye.cx, eye.cy - 0.3 * eye.h),
                (eye.cx + eye.w / 2, eye.cy + 0.1 * eye.h),
            ],
            lash,
            0.14 * eye.h,
        )
        return
    pen.ellipse(
        (eye.cx - eye.w / 2, eye.cy - eye.h / 2, eye.cx + eye.w / 2, eye.cy + eye.h / 2), WHITE, outline=False
    )
    irx, iry = eye.iris_rx, eye.iris_ry
    pen.ellipse((eye.cx - irx, eye.cy - iry, eye.cx + irx, eye.cy + iry), look.eyes, outline=False)
    pen.ellipse(
        (eye.cx - irx * 0.9, eye.cy - iry * 0.95, eye.cx + irx * 0.9, eye.cy - iry * 0.1),
        mix(look.eyes, (0, 0, 0), 0.3),
        outline=False,
    )
    pupil = 0.35
    pen.ellipse(
        (eye.cx - irx * pupil, eye.cy - iry * pupil, eye.cx + irx * pupil, eye.cy + iry * pupil),
        (24, 18, 24),
        outline=False,
    )
    hx, hy = eye.cx + 0.35 * irx, eye.cy - 0.45 * iry
    pen.ellipse((hx - 0.3 * irx, hy - 0.3 * irx, hx + 0.3 * irx, hy + 0.3 * irx), WHITE, outline=False)
    lid_y = eye.cy - eye.h / 2 + face.lid * eye.h
    if face.lid > 0:
        pen.shape(
            [
                (eye.cx - eye.w * 0.6, eye.cy - eye.h * 0.7),
                (eye.cx + eye.w * 0.6, eye.cy - eye.h * 0.7),
                (eye.cx + eye.w * 0.6, lid_y),
                (eye.cx - eye.w * 0.6, lid_y),
            ],
            look.skin,
            smooth=0,
            outline=False,
        )
    outer = eye.cx + side * eye.w * 0.58
    pen.stroke(
        [
            (eye.cx - side * eye.w * 0.55, lid_y + 0.2 * eye.h),
            (eye.cx, lid_y - 0.04 * eye.h),
            (outer, lid_y + 0.12 * eye.h),
            (outer + side * 0.08 * eye.w, lid_y + 0.02 * eye.h),
        ],
        lash,
        0.13 * eye.h,
    )
    pen.stroke(
        [
            (eye.cx + side * eye.w * 0.15, eye.cy + 0.5 * eye.h),
            (outer - side * 0.04 * eye.w, eye.cy + 0.3 * eye.h),
        ],
        lash,
        0.05 * eye.h,
    )


def _draw_brow(pen: Pen, eye: EyeBox, head: HeadBox, look: Look, face: Face, side: int) -> None:
    base = eye.cy - 0.95 * eye.h - face.brow_lift * head.h * 0.3
    inner, outer = eye.cx - side * 0.45 * eye.w, eye.cx + side * 0.6 * eye.w
    brow = mix(look.hair, (20, 12, 24), 0.35)
    pen.stroke(
        [
            (inner, base - face.brow_tilt * 0.5 * eye.h),
            (eye.cx, base - 0.12 * eye.h),
            (outer, base + 0.1 * eye.h + face.brow_tilt * 0.1 * eye.h),
        ],
        brow,
        0.035 * head.h * look.face.brow_weight,
    )


def _draw_mouth(pen: Pen, head: HeadBox, face: Face, line: RGB) -> None:
    mx, my, width = head.cx, head.top + 0.85 * head.h, 0.2 * head.w
    points = [(mx + dx * width, my + dy * width) for dx, dy in face.mouth]
    if face.open_mouth:
        pen.shape(points, MOUTH_INSIDE, smooth=1)
    else:
        pen.stroke(points, line, 0.018 * head.h)


def _draw_marks(pen: Pen, head: HeadBox, look: Look) -> None:
    """Freckles and scars: marks on the skin, under the features."""
    mark = mix(look.skin, (120, 60, 40), 0.4)
    if Accessory.FRECKLES in look.accessories:
        for side in (-1, 1):
            for dx, dy in ((0.0, 0.0), (0.06, 0.03), (-0.05, 0.035), (0.03, -0.035), (0.09, -0.01)):
                x, y, r = (
                    head.cx + side * (0.3 + dx) * head.w,
                    head.top + (0.68 + dy) * head.h,
                    0.008 * head.h,
                )
                pen.ellipse((x - r, y - r, x + r, y + r), mark, outline=False)
    if Accessory.SCAR in look.accessories:
        x = head.cx + 0.24 * head.w
        pen.stroke(
            [(x - 0.06 * head.w, head.top + 0.38 * head.h), (x + 0.05 * head.w, head.top + 0.66 * head.h)],
            mix(look.skin, (150, 50, 50), 0.45),
            0.016 * head.h,
        )


def _draw_head_accessories(pen: Pen, head: HeadBox, look: Look, eye_scale: float) -> None:
    frame = pen.ink(look.accent)
    if Accessory.GLASSES in look.accessories:
        for side in (-1, 1):
            eye = eye_box(head, side, eye_scale)
            x0, x1 = eye.cx - 0.7 * eye.w, eye.cx + 0.7 * eye.w
            y0, y1 = eye.cy - 0.75 * eye.h, eye.cy + 0.8 * eye.h
            pen.stroke([(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)], frame, 0.012 * head.h)
        inner = 0.22 * head.w - 0.7 * eye_box(head, 1, eye_scale).w
        pen.stroke(
            [(head.cx - inner, head.eye_y - 0.02 * head.h), (head.cx + inner, head.eye_y - 0.02 * head.h)],
            frame,
            0.012 * head.h,
        )
    if Accessory.EARRINGS in look.accessories:
        for side in (-1, 1):
            x, y, r = (
                head.cx + side * 0.5 * head.w * look.face.width,
                head.top + 0.74 * head.h,
                0.025 * head.h,
            )
            pen.ellipse((x - r, y - r, x + r, y + r), (226, 186, 70))
    if Accessory.HAIRCLIP in look.accessories and look.hair_style is not HairStyle.BALD:
        x, y = head.cx + 0.3 * head.w, head.top + 0.22 * head.h
        pen.shape(
            [
                (x - 0.07 * head.w, y - 0.03 * head.h),
                (x + 0.07 * head.w, y - 0.05 * head.h),
                (x + 0.07 * head.w, y + 0.01 * head.h),
                (x - 0.07 * head.w, y + 0.03 * head.h),
            ],
            look.accent,
            smooth=1,
        )
