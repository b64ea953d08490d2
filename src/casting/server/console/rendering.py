"""Server-side HTML: the Jinja environment of the console's templates, and page responses."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from casting.domain.model import Variant
from casting.domain.usecases.candidates import MAX_CANDIDATES
from casting.domain.usecases.styles import ListStyles
from casting.domain.usecases.thumbnails import THUMBNAIL_WIDTHS
from casting.domain.values import Image, Usage
from casting.server.console.forms import TRAIT_FIELDS, TRAIT_LABELS, described
from casting.server.console.sessions import csrf_field, visit
from casting.server.console.words import Said

# The sheet rules a judge checks, as a person reads them (a failed look names them).
RULE_NAMES = {
    "identity": "not surely the same person",
    "aspect_9_16": "not a 9:16 sheet",
    "full_body": "no full body at about 70% of the height",
    "expression_insets": "not 2–3 expression insets",
    "clean_background": "background not clean",
    "no_text": "text on the sheet",
    "no_watermark": "a watermark",
    "no_speech_bubbles": "speech bubbles",
}


def cost_in_words(usage: Usage) -> str:
    """What a drawing cost, for a person: "$0.0391 · 1 model call · 1,400 tokens in, 1,295 out"."""
    calls = f"{usage.model_calls} model call{'' if usage.model_calls == 1 else 's'}"
    tokens = f"{usage.input_tokens:,} tokens in, {usage.output_tokens:,} out"
    return f"${usage.cost_micros / 1e6:.4f} · {calls} · {tokens}"


def sheet_of(look: Variant) -> Image:
    """The look's profile sheet: the first image drawn (or imported) for it."""
    return look.images[0]


_ENV = Environment(
    loader=PackageLoader("casting.server.console", "templates"),
    autoescape=select_autoescape(default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.globals.update(
    trait_fields=TRAIT_FIELDS,
    trait_labels=TRAIT_LABELS,
    sheet_of=sheet_of,
    small=THUMBNAIL_WIDTHS[0],
    large=THUMBNAIL_WIDTHS[1],
    csrf_field=csrf_field,  # {{ csrf_field() }} in every form that posts (sessions.py)
    rule_names=RULE_NAMES,
    max_candidates=MAX_CANDIDATES,
    viewer=lambda: visit().viewer,
)
_ENV.filters["described"] = described
_ENV.filters["cost"] = cost_in_words


def render(template: str, *, status: int = 200, **context: Any) -> web.Response:
    """The template rendered with `context`; every page gets `project` for its header."""
    html = _ENV.get_template(template).render(**context)
    return web.Response(text=html, status=status, content_type="text/html")


async def style_names(list_styles: ListStyles) -> dict[str, str]:
    """Story and image style ids -> the names a person reads."""
    story_styles, image_styles = await list_styles()
    return {s.id: s.display_name for s in story_styles + image_styles}


async def form_page(
    template: str, list_styles: ListStyles, said: Said | None, **context: Any
) -> web.Response:
    """A page with a form: the styles to pick from, the error of the last try in plain words
    (the form shows what was typed), and a fresh request id, so that a double submit makes
    one thing, not two."""
    story_styles, image_styles = await list_styles()
    return render(
        template,
        status=said.status if said else 200,
        error=said.message if said else None,
        story_styles=story_styles,
        image_styles=image_styles,
        style_names={s.id: s.display_name for s in story_styles + image_styles},
        request_id=str(uuid.uuid4()),
        **context,
    )
