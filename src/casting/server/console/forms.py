"""HTML forms <-> domain values: traits, trait changes, ids from paths, the library's filter.

Forms post strings; what a string means (an enum member, "unchanged", a story id) is decided
here once, and a value no form offers is InvalidInput naming its field, like any bad request.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

from casting.domain import names
from casting.domain.errors import InvalidInput
from casting.domain.values import TEXT_TRAITS, AgeRange, Gender, TraitChanges, Traits

E = TypeVar("E", bound=enum.Enum)

Form = Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Choice:
    value: str
    label: str


@dataclass(frozen=True, slots=True)
class TraitField:
    name: str
    label: str
    hint: str
    choices: tuple[Choice, ...] = ()  # an enum's members; empty for free text
    long: bool = False


def _choices(members: type[enum.Enum]) -> tuple[Choice, ...]:
    return tuple(
        Choice(m.value, m.value.replace("_", " ").capitalize()) for m in members if m.name != "UNSPECIFIED"
    )


# Every Traits field, in the order the forms show them.
TRAIT_FIELDS = (
    TraitField("gender", "Gender", "", _choices(Gender)),
    TraitField("age_range", "Age", "", _choices(AgeRange)),
    TraitField("face_traits", "Face", "e.g. round face, freckles, green eyes"),
    TraitField("hair_traits", "Hair", "e.g. long red hair in a braid"),
    TraitField("outfit", "Outfit", "e.g. school uniform with a yellow cardigan"),
    TraitField("mood", "Mood", "e.g. cheerful, a little shy"),
    TraitField("custom_prompt", "Anything else", "anything the fields above do not cover", long=True),
)
TRAIT_LABELS = {f.name: f.label for f in TRAIT_FIELDS}


def _member(members: type[E], form: Form, field: str) -> E | None:
    """The enum member a select picked; None for its empty first option."""
    value = form.get(field, "")
    if not value:
        return None
    try:
        return members(value)
    except ValueError:
        raise InvalidInput.field(field, "is not one of the choices offered") from None


def traits_from(form: Form) -> Traits:
    """The traits a form describes; an empty field is unspecified."""
    return Traits(
        gender=_member(Gender, form, "gender") or Gender.UNSPECIFIED,
        age_range=_member(AgeRange, form, "age_range") or AgeRange.UNSPECIFIED,
        **{name: form.get(name, "").strip() for name in TEXT_TRAITS},
    )


def changes_from(form: Form) -> TraitChanges:
    """The changes a branch form asks for; an empty field is unchanged."""
    texts = {name: form[name].strip() for name in TEXT_TRAITS if form.get(name, "").strip()}
    return TraitChanges(
        gender=_member(Gender, form, "gender"),
        age_range=_member(AgeRange, form, "age_range"),
        **texts,
    )


def trait_values(traits: Traits | TraitChanges) -> dict[str, str]:
    """The form fields that say `traits`: a member's value, "" for unspecified or unchanged."""
    values = {}
    for f in TRAIT_FIELDS:
        value = getattr(traits, f.name)
        if isinstance(value, enum.Enum):
            value = "" if value.name == "UNSPECIFIED" else value.value
        values[f.name] = value or ""
    return values


def described(traits: Traits | TraitChanges) -> list[tuple[str, str]]:
    """(label, value) of every trait that says something, for showing a look."""
    values = trait_values(traits)
    labels = {c.value: c.label for f in TRAIT_FIELDS for c in f.choices}
    return [(f.label, labels.get(values[f.name], values[f.name])) for f in TRAIT_FIELDS if values[f.name]]


def project_id(value: str) -> str:
    """A project id from a URL, as the story pipeline makes them."""
    try:
        return names.parse_project(names.project(value), "project")
    except InvalidInput:
        raise InvalidInput.field("project", _OWNER_ID_RULE) from None


def story_id(project: str, value: str) -> str | None:
    """A story id typed or picked in a form; empty is no story."""
    if not value.strip():
        return None
    try:
        return names.parse_story(names.story(project, value.strip()), "story").id
    except InvalidInput:
        raise InvalidInput.field("story", _OWNER_ID_RULE) from None


_OWNER_ID_RULE = "must be 1 to 63 lowercase letters, digits or dashes (or a UUID)"


def name_filter(prefix: str) -> str:
    """ListActors' filter for display names starting with `prefix` ("" for all)."""
    if not prefix:
        return ""
    quoted = prefix.replace("\\", "\\\\").replace('"', '\\"')
    return f'display_name="{quoted}*"'
