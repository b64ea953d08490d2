"""Value objects: traits, changes, images and provenance. Immutable, validated on request."""

from __future__ import annotations

import enum
import unicodedata
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any

from casting.domain.errors import FieldViolation

MAX_TRAIT_CHARS = 500
MAX_NAME_CHARS = 128
MAX_DESCRIPTION_CHARS = 500
_LINE_BREAKS = "\t\n\r"  # the only control characters a multi-line text may hold
# Bidi controls (embeddings, overrides, isolates, marks) and zero-width characters: they make a
# name read differently from what it holds (a reversed extension, two names that look the same).
INVISIBLE_CHARACTERS = frozenset(
    "\u061c\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2060\u2066\u2067\u2068\u2069\ufeff"
)


class Gender(enum.Enum):
    UNSPECIFIED = "unspecified"
    FEMALE = "female"
    MALE = "male"
    NONBINARY = "nonbinary"


class AgeRange(enum.Enum):
    UNSPECIFIED = "unspecified"
    CHILD = "child"
    TEEN = "teen"
    YOUNG_ADULT = "young_adult"
    MIDDLE_AGED = "middle_aged"
    ELDERLY = "elderly"


TEXT_TRAITS = ("face_traits", "hair_traits", "outfit", "mood", "custom_prompt")


@dataclass(frozen=True, slots=True)
class Traits:
    """What a character looks like, as described by a person."""

    gender: Gender = Gender.UNSPECIFIED
    age_range: AgeRange = AgeRange.UNSPECIFIED
    face_traits: str = ""
    hair_traits: str = ""
    outfit: str = ""
    mood: str = ""
    custom_prompt: str = ""

    def violations(self, prefix: str) -> list[FieldViolation]:
        return _trait_violations(self, prefix)

    def apply(self, changes: TraitChanges) -> Traits:
        """These traits with every set field of `changes` replacing the one here."""
        return replace(self, **changes.as_dict())


@dataclass(frozen=True, slots=True)
class TraitChanges:
    """The traits a new look changes; None means unchanged."""

    gender: Gender | None = None
    age_range: AgeRange | None = None
    face_traits: str | None = None
    hair_traits: str | None = None
    outfit: str | None = None
    mood: str | None = None
    custom_prompt: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The set fields only, by name, in declaration order."""
        return {name: value for name in _CHANGE_FIELDS if (value := getattr(self, name)) is not None}

    def is_empty(self) -> bool:
        return not self.as_dict()

    def violations(self, prefix: str) -> list[FieldViolation]:
        return _trait_violations(self, prefix)


_CHANGE_FIELDS = tuple(f.name for f in fields(TraitChanges))
NO_CHANGES = TraitChanges()


@dataclass(frozen=True, slots=True)
class Style:
    """A story or image style a sheet can be drawn in."""

    id: str
    display_name: str
    description: str


@dataclass(frozen=True, slots=True)
class ImageFacts:
    """What decoding an image tells: its real format and size."""

    mime_type: str
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class ImageBytes:
    """Image bytes in memory, with their type (references sent to a model)."""

    data: bytes
    mime_type: str


@dataclass(frozen=True, slots=True)
class Image:
    """A stored image: a row that points at a content-addressed blob."""

    id: str
    project: str
    blob_key: str
    mime_type: str
    width: int
    height: int
    size_bytes: int
    sha256: str
    create_time: datetime


@dataclass(frozen=True, slots=True)
class Usage:
    """What model calls cost: calls, tokens and US dollars in millionths. Sums with `+`."""

    model_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_micros: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.model_calls + other.model_calls,
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cost_micros + other.cost_micros,
        )


@dataclass(frozen=True, slots=True)
class VerificationCheck:
    """One sheet rule's verdict (`aspect_9_16`, `full_body`, `identity`, ...)."""

    rule: str
    passed: bool
    detail: str = ""


# Why a stored drawing carries no verdict: it was kept before drawings were judged.
NOT_VERIFIED_BEFORE = "stored before verification existed"


@dataclass(frozen=True, slots=True)
class Verification:
    """The judge's verdict on a drawing. `identity_score` is None for a first sheet (nothing to
    compare with) and for a drawing that was not judged, which says why in `unverified_reason`."""

    passed: bool
    identity_score: float | None
    checks: tuple[VerificationCheck, ...]
    judge: str
    draws: int
    unverified_reason: str = ""

    @classmethod
    def unverified(cls, reason: str, draws: int = 1) -> Verification:
        return cls(False, None, checks=(), judge="", draws=draws, unverified_reason=reason)

    @property
    def judged(self) -> bool:
        return not self.unverified_reason

    @property
    def failed(self) -> bool:
        """Judged and found wanting: the look that carries a warning wherever it is shown."""
        return self.judged and not self.passed


@dataclass(frozen=True, slots=True)
class Provenance:
    """How an image was made: which generator, model and prompt, from which references, how it
    was judged and what it cost."""

    generator: str
    model: str
    prompt_version: str
    prompt_sha256: str
    reference_image_ids: tuple[str, ...] = ()
    duration_seconds: float = 0.0
    verification: Verification = Verification.unverified(NOT_VERIFIED_BEFORE)
    usage: Usage = Usage()


def text_violation(
    field: str, value: str, limit: int, *, required: bool = False, multiline: bool = False
) -> list[FieldViolation]:
    """The violation of a free-text field that is missing, over its limit or carries control or
    invisible characters, if any. Control characters (NUL, escape sequences, C1 codes) are never
    text a person meant, and some stores refuse NUL; a multi-line text may hold tabs and line
    breaks. Bidi and zero-width characters are refused too (INVISIBLE_CHARACTERS)."""
    if required and not value.strip():
        return [FieldViolation(field, "is required")]
    if len(value) > limit:
        return [FieldViolation(field, f"must be at most {limit} characters")]
    allowed = _LINE_BREAKS if multiline else ""
    if any(unicodedata.category(c) == "Cc" and c not in allowed for c in value):
        return [FieldViolation(field, "must not contain control characters")]
    if not INVISIBLE_CHARACTERS.isdisjoint(value):
        return [FieldViolation(field, "must not contain bidi controls or zero-width characters")]
    return []


def _trait_violations(traits: Traits | TraitChanges, prefix: str) -> list[FieldViolation]:
    return [
        violation
        for name in TEXT_TRAITS
        for violation in text_violation(
            f"{prefix}.{name}", getattr(traits, name) or "", MAX_TRAIT_CHARS, multiline=True
        )
    ]
