"""Renders the versioned prompt templates of this package for a GenerationSpec.

Each `*.yaml` file holds one immutable template: `version` (its file name without
`.yaml`) and `template` (Jinja). A template may include another by version. The rendered
text's version and sha256 become the image's provenance, so released files never change:
new wording is a new version, pinned in `CURRENT`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from importlib import resources
from importlib.resources.abc import Traversable

import jinja2
import yaml

from casting.domain.ports import GenerationKind, GenerationSpec
from casting.domain.values import AgeRange, Gender, TraitChanges, Traits

CURRENT: Mapping[GenerationKind, str] = {
    GenerationKind.SHEET: "sheet.v2",
    GenerationKind.VARIANT: "variant.v2",
}
# The prompt that asks a vision model to judge a drawing (adapters/judges/gemini.py).
JUDGE = "judge.v1"

_LABELS = {
    "gender": "Gender",
    "age_range": "Age",
    "face_traits": "Face",
    "hair_traits": "Hair",
    "outfit": "Outfit",
    "mood": "Mood",
    "custom_prompt": "Other details",
}
_GENDERS = {
    Gender.UNSPECIFIED: "",
    Gender.FEMALE: "female",
    Gender.MALE: "male",
    Gender.NONBINARY: "non-binary",
}
_AGES = {
    AgeRange.UNSPECIFIED: "",
    AgeRange.CHILD: "child",
    AgeRange.TEEN: "teenager",
    AgeRange.YOUNG_ADULT: "young adult",
    AgeRange.MIDDLE_AGED: "middle-aged",
    AgeRange.ELDERLY: "elderly",
}
_UNSET = "none"


@dataclass(frozen=True, slots=True)
class RenderedPrompt:
    text: str
    version: str
    sha256: str


@dataclass(frozen=True, slots=True)
class TraitLine:
    label: str
    value: str


@dataclass(frozen=True, slots=True)
class ChangeLine:
    label: str
    old: str
    new: str


class PromptLibrary:
    """The templates of one directory, rendered strictly: a missing variable is an error.
    Each is compiled here, at start-up: one that does not parse is refused before any call,
    and no call pays the compiling (~10 ms of the first drawing's CPU)."""

    def __init__(
        self,
        source: Traversable | None = None,
        current: Mapping[GenerationKind, str] = CURRENT,
        judge: str = JUDGE,
    ) -> None:
        templates = _load(source or resources.files(__package__))
        self._env = jinja2.Environment(
            loader=jinja2.DictLoader(templates),
            undefined=jinja2.StrictUndefined,
            # Plain-text prompts, not HTML: escaping would garble quotes in traits.
            autoescape=False,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        missing = set(current.values()) - templates.keys()
        if missing:
            raise ValueError(f"prompt versions without a template: {sorted(missing)}")
        for version in templates:
            try:
                self._env.get_template(version)
            except jinja2.TemplateSyntaxError as error:
                problem = f"line {error.lineno} of its template: {error.message}"
                raise ValueError(f"{version}.yaml: {problem}") from error
        self._current = dict(current)
        self._judge = judge

    def render(self, spec: GenerationSpec, *, reference_count: int) -> RenderedPrompt:
        """The prompt for `spec`; `reference_count` images go with it (parent, then root)."""
        return self._rendered(self._current[spec.kind], spec, reference_count)

    def render_judgement(self, spec: GenerationSpec, *, reference_count: int) -> RenderedPrompt:
        """The prompt that asks for a verdict on a drawing made from `spec`; `reference_count`
        images (anchor, then root) go before the drawing."""
        return self._rendered(self._judge, spec, reference_count)

    def _rendered(self, version: str, spec: GenerationSpec, reference_count: int) -> RenderedPrompt:
        text = (
            self._env.get_template(version)
            .render(
                traits=_described(spec.traits),
                changes=_changed(spec.base_traits or Traits(), spec.changes),
                reference_count=reference_count,
                has_root_reference=reference_count > 1,
                story_style=spec.story_style,
                image_style=spec.image_style,
            )
            .strip()
        )
        return RenderedPrompt(text, version, hashlib.sha256(text.encode()).hexdigest())


def _load(source: Traversable) -> dict[str, str]:
    templates: dict[str, str] = {}
    for entry in source.iterdir():
        if not entry.name.endswith(".yaml"):
            continue
        document = yaml.safe_load(entry.read_text(encoding="utf-8"))
        version = entry.name.removesuffix(".yaml")
        # The version is stored as provenance: a copied file that kept its old version
        # would make two different texts claim the same one.
        if document.get("version") != version:
            raise ValueError(f"{entry.name}: version must be {version!r}")
        templates[version] = document["template"]
    return templates


def _described(traits: Traits) -> list[TraitLine]:
    """The traits that are set, labelled, in declaration order."""
    lines = (TraitLine(_LABELS[f.name], _shown(getattr(traits, f.name))) for f in fields(traits))
    return [line for line in lines if line.value]


def _changed(base: Traits, changes: TraitChanges) -> list[ChangeLine]:
    """Every field set in `changes`, labelled, with its old and new value."""
    return [
        ChangeLine(_LABELS[name], _shown(getattr(base, name)) or _UNSET, _shown(new) or _UNSET)
        for name, new in changes.as_dict().items()
    ]


def _shown(value: object) -> str:
    if isinstance(value, Gender):
        return _GENDERS[value]
    if isinstance(value, AgeRange):
        return _AGES[value]
    # Collapsed to one line so that free text cannot pose as the prompt's own structure.
    return " ".join(str(value).split())
