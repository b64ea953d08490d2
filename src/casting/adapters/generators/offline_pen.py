"""A pen that draws in sheet coordinates with an image style's line weight and shading.

Shapes are drawn at SCALE times the sheet's size and the sheet is reduced afterwards: that is
the anti-aliasing ImageDraw itself does not do.
"""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image, ImageDraw

from casting.adapters.generators.offline_look import RGB, Render, mix

SCALE = 2
Point = tuple[float, float]


class Pen:
    def __init__(
        self, image: Image.Image, render: Render, shadow_tint: RGB, origin: Point = (0.0, 0.0)
    ) -> None:
        self._draw = ImageDraw.Draw(image)
        self._render = render
        self._shadow_tint = shadow_tint
        self._origin = origin

    def shape(self, points: Sequence[Point], fill: RGB, *, smooth: int = 2, outline: bool = True) -> None:
        """A filled outline, its corners rounded by `smooth` passes of corner cutting."""
        width = round(self._render.outline * SCALE) if outline else 0
        self._draw.polygon(
            self._xy(rounded(points, smooth)),
            fill=fill,
            outline=self.ink(fill) if width else None,
            width=width,
        )

    def ellipse(self, box: tuple[float, float, float, float], fill: RGB, *, outline: bool = True) -> None:
        width = round(self._render.outline * SCALE) if outline else 0
        (x0, y0), (x1, y1) = self._xy([(box[0], box[1]), (box[2], box[3])])
        self._draw.ellipse(
            (x0, y0, x1, y1), fill=fill, outline=self.ink(fill) if width else None, width=width
        )

    def stroke(self, points: Sequence[Point], colour: RGB, width: float) -> None:
        """A line of `width` sheet pixels (features: lashes, brows, mouths), whatever the style."""
        self._draw.line(
            self._xy(rounded(points, 2, closed=False)),
            fill=colour,
            width=max(1, round(width * SCALE)),
            joint="curve",
        )

    def shadow(self, points: Sequence[Point], base: RGB) -> None:
        """A shadow over a part filled with `base`: hard cel shapes, or a lighter soft wash."""
        dark = mix(mix(base, (0, 0, 0), 0.2), self._shadow_tint, 0.15)
        fill = dark if self._render.cel_shadow else mix(base, dark, 0.55)
        self._draw.polygon(self._xy(rounded(points, 2)), fill=fill)

    def ink(self, fill: RGB) -> RGB:
        return self._render.ink or mix(fill, (20, 12, 24), 0.6)

    def _xy(self, points: Sequence[Point]) -> list[tuple[float, float]]:
        ox, oy = self._origin
        return [((x - ox) * SCALE, (y - oy) * SCALE) for x, y in points]


def rounded(points: Sequence[Point], passes: int, *, closed: bool = True) -> list[Point]:
    """Chaikin's corner cutting: each pass replaces every corner by two points a quarter of the
    way along its edges, which converges on a smooth curve through the shape."""
    result = list(points)
    for _ in range(passes):
        pairs = zip(result, result[1:] + result[:1] if closed else result[1:], strict=False)
        cut: list[Point] = [] if closed else [result[0]]
        for (ax, ay), (bx, by) in pairs:
            cut += [
                (0.75 * ax + 0.25 * bx, 0.75 * ay + 0.25 * by),
                (0.25 * ax + 0.75 * bx, 0.25 * ay + 0.75 * by),
            ]
        result = cut if closed else [*cut, result[-1]]
    return result
