"""From a spec (and a parent's identity, for a variant) to every choice the drawing makes.

Keywords in the free-text traits pick colours and shapes; anything they leave open is picked
from a seed hashed from the traits, so the same spec always gives the same look.
"""

from __future__ import annotations

import enum
import hashlib
import random
import re
from dataclasses import dataclass
from typing import Final, TypeVar

from casting.domain.ports import GenerationSpec
from casting.domain.values import AgeRange, Gender, Traits

T = TypeVar("T")

RGB = tuple[int, int, int]


class Expression(enum.Enum):
    NEUTRAL = "neutral"
    HAPPY = "happy"
    SAD = "sad"
    ANGRY = "angry"
    SHY = "shy"
    CALM = "calm"
    MYSTERIOUS = "mysterious"


class HairStyle(enum.Enum):
    SHORT = "short"
    LONG = "long"
    PONYTAIL = "ponytail"
    BOB = "bob"
    CURLY = "curly"
    BALD = "bald"
    SPIKY = "spiky"
    BUN = "bun"


class Top(enum.Enum):
    TEE = "tee"
    SUIT = "suit"
    HOODIE = "hoodie"
    ARMOR = "armor"
    UNIFORM = "uniform"
    COAT = "coat"
    DRESS = "dress"


class Bottom(enum.Enum):
    PANTS = "pants"
    SKIRT = "skirt"
    DRESS = "dress"


class Accessory(enum.Enum):
    GLASSES = "glasses"
    EARRINGS = "earrings"
    NECKLACE = "necklace"
    SCARF = "scarf"
    HAIRCLIP = "hairclip"
    FRECKLES = "freckles"
    SCAR = "scar"
    BRACELET = "bracelet"
    BAG = "bag"
    CANE = "cane"


@dataclass(frozen=True, slots=True)
class Identity:
    """The features a variant keeps from its parent's sheet unless its changes name them.
    `hair` is None where the parent shows no hair (bald, or a picture without any)."""

    skin: RGB
    eyes: RGB
    hair: RGB | None
    outfit: RGB


@dataclass(frozen=True, slots=True)
class Render:
    """How an image style draws: line weight, shading and proportions."""

    outline: float  # line width in sheet pixels; 0 draws no outlines
    ink: RGB | None  # one line colour for everything, or None for a darker tone of each fill
    cel_shadow: bool  # hard-edged shadow shapes (else soft, lighter ones)
    soften: float  # blur radius over the finished drawing (a wash), 0 for crisp
    paper: bool  # paper grain on the background
    eye_scale: float
    heads_scale: float  # longer bodies for realistic proportions
    chibi: bool  # a super-deformed figure: a huge head on a small body


@dataclass(frozen=True, slots=True)
class FaceShape:
    width: float
    jaw_width: float
    jaw_drop: float
    chin_width: float
    brow_weight: float


@dataclass(frozen=True, slots=True)
class Build:
    heads: float
    height: float  # of the standard adult figure
    shoulders: float  # half widths, in head heights
    waist: float
    hips: float
    stoop: bool


@dataclass(frozen=True, slots=True)
class Look:
    skin: RGB
    eyes: RGB
    hair: RGB
    hair_style: HairStyle
    outfit: RGB
    outfit_second: RGB
    accent: RGB
    shoes: RGB
    top: Top
    bottom: Bottom
    expression: Expression
    insets: tuple[Expression, Expression, Expression]
    build: Build
    face: FaceShape
    accessories: tuple[Accessory, ...]
    background: tuple[RGB, RGB]  # top and bottom of the backdrop gradient
    shadow_tint: RGB  # the mood's warmth, mixed into every shadow
    render: Render


_HAIR_COLOURS: Final[dict[str, RGB]] = {
    "black": (34, 30, 38),
    "raven": (34, 30, 38),
    "dark": (52, 40, 36),
    "brown": (104, 68, 42),
    "brunette": (104, 68, 42),
    "chestnut": (124, 70, 40),
    "blonde": (234, 198, 112),
    "blond": (234, 198, 112),
    "golden": (228, 180, 70),
    "red": (184, 58, 36),
    "ginger": (200, 96, 40),
    "auburn": (150, 60, 40),
    "copper": (186, 98, 50),
    "silver": (200, 204, 214),
    "white": (238, 238, 240),
    "grey": (158, 158, 164),
    "gray": (158, 158, 164),
    "blue": (62, 104, 200),
    "pink": (238, 132, 172),
    "green": (66, 150, 96),
    "purple": (128, 84, 180),
    "violet": (128, 84, 180),
    "lavender": (176, 150, 214),
    "orange": (232, 130, 48),
}
_EYE_COLOURS: Final[dict[str, RGB]] = {
    "brown": (112, 66, 36),
    "blue": (50, 112, 204),
    "green": (54, 142, 80),
    "grey": (118, 130, 142),
    "gray": (118, 130, 142),
    "hazel": (142, 110, 50),
    "amber": (206, 150, 40),
    "gold": (210, 164, 48),
    "golden": (210, 164, 48),
    "black": (40, 34, 38),
    "dark": (52, 38, 34),
    "red": (190, 40, 52),
    "purple": (130, 70, 182),
    "violet": (130, 70, 182),
    "pink": (222, 110, 160),
    "silver": (170, 176, 190),
}
_SKIN_TONES: Final[dict[str, RGB]] = {
    "pale": (250, 228, 214),
    "fair": (248, 222, 200),
    "porcelain": (252, 232, 222),
    "light": (242, 208, 182),
    "tan": (206, 160, 118),
    "tanned": (206, 160, 118),
    "olive": (196, 164, 120),
    "brown": (158, 108, 76),
    "dark": (112, 74, 52),
    "deep": (100, 66, 46),
    "ebony": (88, 58, 42),
}
_SKIN_PALETTE: Final[tuple[RGB, ...]] = (
    (250, 224, 206),
    (242, 206, 178),
    (228, 184, 148),
    (200, 152, 112),
    (156, 106, 74),
    (114, 76, 54),
)
_EYE_PALETTE: Final[tuple[RGB, ...]] = (
    (112, 66, 36),
    (52, 38, 34),
    (50, 112, 204),
    (54, 142, 80),
    (118, 130, 142),
    (142, 110, 50),
)
_HAIR_PALETTE: Final[tuple[RGB, ...]] = (
    (34, 30, 38),
    (52, 40, 36),
    (104, 68, 42),
    (150, 60, 40),
    (234, 198, 112),
)
_OUTFIT_COLOURS: Final[dict[str, RGB]] = {
    "black": (44, 44, 52),
    "white": (240, 240, 236),
    "grey": (128, 130, 138),
    "gray": (128, 130, 138),
    "red": (196, 52, 56),
    "crimson": (170, 30, 50),
    "scarlet": (210, 40, 40),
    "blue": (52, 92, 186),
    "navy": (36, 48, 92),
    "green": (60, 140, 84),
    "olive": (112, 118, 62),
    "yellow": (236, 200, 60),
    "orange": (232, 128, 48),
    "purple": (124, 72, 168),
    "violet": (124, 72, 168),
    "pink": (236, 140, 176),
    "brown": (120, 80, 50),
    "beige": (214, 194, 156),
    "khaki": (190, 170, 120),
    "cream": (240, 228, 200),
    "teal": (40, 140, 140),
    "maroon": (120, 36, 50),
    "gold": (214, 170, 60),
    "golden": (214, 170, 60),
    "silver": (190, 194, 204),
    "denim": (74, 104, 150),
}
_OUTFIT_PALETTE: Final[tuple[RGB, ...]] = (
    (52, 92, 186),
    (196, 52, 56),
    (60, 140, 84),
    (236, 200, 60),
    (124, 72, 168),
    (40, 140, 140),
    (232, 128, 48),
    (236, 140, 176),
)
_HAIR_STYLES: Final[tuple[tuple[HairStyle, tuple[str, ...]], ...]] = (
    # in priority order: "long hair in a ponytail" is a ponytail
    (HairStyle.BALD, ("bald", "shaved", "hairless")),
    (HairStyle.PONYTAIL, ("ponytail", "pony")),
    (HairStyle.BUN, ("bun", "updo")),
    (HairStyle.BOB, ("bob", "bobbed")),
    (HairStyle.CURLY, ("curly", "curls", "afro", "wavy", "frizzy")),
    (HairStyle.SPIKY, ("spiky", "spikes", "messy")),
    (HairStyle.LONG, ("long", "flowing")),
    (HairStyle.SHORT, ("short", "cropped", "buzz", "crew")),
)
_TOPS: Final[tuple[tuple[Top, tuple[str, ...]], ...]] = (
    (Top.ARMOR, ("armor", "armour", "plate", "knight")),
    (Top.SUIT, ("suit", "blazer", "tuxedo", "tux")),
    (Top.HOODIE, ("hoodie", "sweatshirt", "hood")),
    (Top.UNIFORM, ("uniform", "military", "sailor")),
    (Top.COAT, ("coat", "trench", "jacket", "cloak", "robe")),
    (Top.DRESS, ("dress", "gown", "sundress")),
)
_MOODS: Final[tuple[tuple[Expression, tuple[str, ...]], ...]] = (
    (Expression.HAPPY, ("happy", "cheerful", "joyful", "bright", "smiling", "playful", "excited")),
    (Expression.SAD, ("sad", "melancholy", "melancholic", "gloomy", "lonely", "tearful", "tired")),
    (Expression.ANGRY, ("angry", "fierce", "furious", "stern", "grumpy", "determined", "serious")),
    (Expression.SHY, ("shy", "timid", "nervous", "bashful", "awkward")),
    (Expression.CALM, ("calm", "serene", "gentle", "peaceful", "kind", "warm", "relaxed")),
    (Expression.MYSTERIOUS, ("mysterious", "cold", "aloof", "enigmatic", "cool", "sly")),
)
_ACCESSORY_WORDS: Final[dict[str, Accessory]] = {
    "glasses": Accessory.GLASSES,
    "spectacles": Accessory.GLASSES,
    "earring": Accessory.EARRINGS,
    "earrings": Accessory.EARRINGS,
    "necklace": Accessory.NECKLACE,
    "pendant": Accessory.NECKLACE,
    "scarf": Accessory.SCARF,
    "hairclip": Accessory.HAIRCLIP,
    "clip": Accessory.HAIRCLIP,
    "freckles": Accessory.FRECKLES,
    "freckled": Accessory.FRECKLES,
    "scar": Accessory.SCAR,
    "bracelet": Accessory.BRACELET,
    "bag": Accessory.BAG,
    "satchel": Accessory.BAG,
    "cane": Accessory.CANE,
}
# Small details that free text nobody matched may add; picked by hashing that text.
_SEEDED_DETAILS: Final = (
    Accessory.EARRINGS,
    Accessory.NECKLACE,
    Accessory.HAIRCLIP,
    Accessory.BRACELET,
    Accessory.FRECKLES,
    Accessory.BAG,
)
_MOOD_TINTS: Final[dict[Expression, RGB]] = {
    Expression.NEUTRAL: (236, 234, 232),
    Expression.HAPPY: (255, 236, 196),
    Expression.SAD: (206, 220, 244),
    Expression.ANGRY: (250, 208, 196),
    Expression.SHY: (250, 220, 232),
    Expression.CALM: (214, 240, 224),
    Expression.MYSTERIOUS: (222, 212, 246),
}
_MOOD_SHADOWS: Final[dict[Expression, RGB]] = {
    Expression.NEUTRAL: (110, 100, 120),
    Expression.HAPPY: (190, 110, 60),
    Expression.SAD: (60, 80, 150),
    Expression.ANGRY: (170, 40, 40),
    Expression.SHY: (190, 90, 130),
    Expression.CALM: (60, 130, 110),
    Expression.MYSTERIOUS: (90, 50, 150),
}
_STORY_TINTS: Final[dict[str, RGB]] = {
    "slice-of-life": (246, 238, 222),
    "romance": (252, 222, 228),
    "action": (250, 226, 200),
    "fantasy": (228, 218, 250),
    "thriller": (210, 218, 228),
    "comedy": (255, 244, 196),
    "horror": (206, 212, 204),
}
_RENDERS: Final[dict[str, Render]] = {
    "webtoon": Render(3.0, None, True, 0.0, False, 1.0, 1.0, False),
    "anime": Render(2.5, (40, 32, 44), True, 0.0, False, 1.25, 1.0, False),
    "semi-realistic": Render(1.5, (70, 56, 56), False, 0.0, False, 0.8, 1.08, False),
    "watercolor": Render(0.0, None, False, 1.0, True, 1.0, 1.0, False),
    "chibi": Render(4.0, (52, 40, 48), True, 0.0, False, 1.35, 1.0, True),
}
_AGES: Final[dict[AgeRange, tuple[float, float]]] = {  # heads tall, height of the standard adult
    AgeRange.CHILD: (4.4, 0.74),
    AgeRange.TEEN: (6.4, 0.94),
    AgeRange.YOUNG_ADULT: (7.0, 1.0),
    AgeRange.UNSPECIFIED: (7.0, 1.0),
    AgeRange.MIDDLE_AGED: (7.0, 0.99),
    AgeRange.ELDERLY: (6.6, 0.93),
}
_BUILDS: Final[dict[Gender, tuple[float, float, float]]] = {  # shoulders, waist, hips
    Gender.FEMALE: (0.80, 0.50, 0.78),
    Gender.MALE: (1.0, 0.70, 0.72),
    Gender.NONBINARY: (0.90, 0.60, 0.74),
    Gender.UNSPECIFIED: (0.90, 0.60, 0.74),
}
_GREY: Final[RGB] = (214, 214, 218)


def look_for(spec: GenerationSpec, parent: Identity | None) -> Look:
    """Every drawing choice for `spec`. With a parent identity, the features whose traits the
    spec does not change are the parent's; a changed trait that names no colour for a feature
    keeps the parent's colour too (a new hair style alone does not recolour the hair)."""
    traits = spec.traits
    changed = set(spec.changes.as_dict()) if parent else set()
    seed = _seed("identity", traits.gender.value, traits.face_traits, traits.custom_prompt)

    def keep(field: str, named: RGB | None, inherited: RGB | None, default: RGB) -> RGB:
        if inherited is not None and (field not in changed or named is None):
            return inherited
        return named or default

    skin = keep(
        "face_traits",
        _skin_named(traits.face_traits),
        parent.skin if parent else None,
        _choose(_SKIN_PALETTE, seed, "skin"),
    )
    eyes = keep(
        "face_traits",
        _eyes_named(traits.face_traits),
        parent.eyes if parent else None,
        _choose(_EYE_PALETTE, seed, "eyes"),
    )
    hair_named = _first_word(traits.hair_traits, _HAIR_COLOURS)
    hair = keep(
        "hair_traits",
        hair_named,
        parent.hair if parent else None,
        _choose(_HAIR_PALETTE, seed, "hair", traits.hair_traits),
    )
    ageing_now = traits.age_range is AgeRange.ELDERLY and (
        parent is None or parent.hair is None or "age_range" in changed
    )
    if ageing_now:
        hair = mix(hair, _GREY, 0.45 if hair_named else 0.7)
    outfit_words = _words(traits.outfit)
    outfit_named = [_OUTFIT_COLOURS[w] for w in outfit_words if w in _OUTFIT_COLOURS]
    outfit = keep(
        "outfit",
        outfit_named[0] if outfit_named else None,
        parent.outfit if parent else None,
        _choose(_OUTFIT_PALETTE, seed, "outfit", traits.outfit),
    )
    top = _first_match(outfit_words, _TOPS, Top.TEE)
    bottom = _bottom(outfit_words, top)
    expression = _first_match(_words(traits.mood), _MOODS, Expression.NEUTRAL)
    render = _RENDERS.get(spec.image_style.id, _RENDERS["webtoon"])
    outfit = snap(outfit)
    return Look(
        skin=snap(skin),
        eyes=snap(eyes),
        hair=snap(hair),
        hair_style=_hair_style(traits.hair_traits, traits.gender, seed),
        outfit=outfit,
        outfit_second=outfit_named[1] if len(outfit_named) > 1 else _second_colour(outfit, top),
        accent=_choose(_OUTFIT_PALETTE, seed, "accent", traits.outfit),
        shoes=_choose(((52, 40, 36), (34, 34, 40), (120, 80, 50), (236, 236, 232)), seed, "shoes"),
        top=top,
        bottom=bottom,
        expression=expression,
        insets=(
            Expression.NEUTRAL,
            Expression.HAPPY,
            Expression.SAD if expression is Expression.ANGRY else Expression.ANGRY,
        ),
        build=_build(traits.age_range, traits.gender, render),
        face=_face_shape(snap(skin), snap(eyes), traits.gender),
        accessories=_accessories(traits, seed),
        background=_background(spec.story_style.id, expression, render),
        shadow_tint=_MOOD_SHADOWS[expression],
        render=render,
    )


def snap(colour: RGB) -> RGB:
    """Identity colours live on a coarse grid, so a colour read back from a sheet (which a soft
    style may have nudged by a step or two) is exactly the colour that was drawn."""
    r, g, b = (min(252, (c // 8) * 8 + 4) for c in colour)
    return (r, g, b)


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower())


def _seed(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("\x1f".join(parts).encode()).digest()[:8], "big")


def _choose(options: tuple[RGB, ...], seed: int, *salt: str) -> RGB:
    return options[_seed(str(seed), *salt) % len(options)]


def _first_word(text: str, table: dict[str, RGB]) -> RGB | None:
    return next((table[w] for w in _words(text) if w in table), None)


def _first_match(words: list[str], table: tuple[tuple[T, tuple[str, ...]], ...], default: T) -> T:
    present = set(words)
    return next((value for value, keys in table if present.intersection(keys)), default)


def _skin_named(face: str) -> RGB | None:
    text = face.lower()
    said = re.search(r"([a-z]+)[\s-]+(?:skin|skinned|complexion)\b", text)
    if said:
        word = said.group(1)
        return _SKIN_TONES.get(word) or _OUTFIT_COLOURS.get(word)
    return next((_SKIN_TONES[w] for w in _words(text) if w in ("pale", "fair", "porcelain", "tanned")), None)


def _eyes_named(face: str) -> RGB | None:
    said = re.search(r"([a-z]+)[\s-]+(?:eyes|eye|eyed)\b", face.lower())
    return _EYE_COLOURS.get(said.group(1)) if said else None


def _hair_style(hair: str, gender: Gender, seed: int) -> HairStyle:
    found = _first_match(_words(hair), _HAIR_STYLES, None)
    if found is not None:
        return found
    if gender is Gender.FEMALE:
        return HairStyle.LONG
    if gender is Gender.MALE:
        return HairStyle.SHORT
    return (HairStyle.SHORT, HairStyle.BOB, HairStyle.LONG)[_seed(str(seed), "style") % 3]


def _bottom(words: list[str], top: Top) -> Bottom:
    if top is Top.DRESS:
        return Bottom.DRESS
    return Bottom.SKIRT if "skirt" in words else Bottom.PANTS


def _second_colour(outfit: RGB, top: Top) -> RGB:
    if top in (Top.SUIT, Top.DRESS):
        return outfit
    if top in (Top.ARMOR, Top.UNIFORM, Top.COAT):
        return mix(outfit, (30, 30, 36), 0.45)
    return (70, 82, 110)  # denim, under tees and hoodies


def _build(age: AgeRange, gender: Gender, render: Render) -> Build:
    heads, height = _AGES[age]
    shoulders, waist, hips = _BUILDS[gender]
    if age is AgeRange.CHILD:
        shoulders, waist, hips = 0.72, 0.6, 0.66
    if age is AgeRange.MIDDLE_AGED:
        waist += 0.08
    heads *= render.heads_scale
    if render.chibi:
        heads = 2.4 if age is AgeRange.CHILD else 2.7
        shoulders, waist, hips = shoulders * 0.62, waist * 0.7, hips * 0.7
    return Build(heads, height, shoulders, waist, hips, stoop=age is AgeRange.ELDERLY)


def _face_shape(skin: RGB, eyes: RGB, gender: Gender) -> FaceShape:
    # Seeded from the identity colours only, which a variant reads back from its parent's
    # sheet: the same skin and eyes make the same face, even from an imported picture.
    rng = random.Random(_seed("face", repr(skin), repr(eyes)))
    masculine = 0.06 if gender is Gender.MALE else 0.0
    return FaceShape(
        width=rng.uniform(0.95, 1.04),
        jaw_width=rng.uniform(0.74, 0.88) + masculine,
        jaw_drop=rng.uniform(0.5, 0.72),
        chin_width=rng.uniform(0.14, 0.3) + masculine,
        brow_weight=rng.uniform(0.8, 1.2) + 2 * masculine,
    )


def _accessories(traits: Traits, seed: int) -> tuple[Accessory, ...]:
    named: list[Accessory] = []
    for text in (traits.face_traits, traits.hair_traits, traits.outfit, traits.custom_prompt):
        named += [_ACCESSORY_WORDS[w] for w in _words(text) if w in _ACCESSORY_WORDS]
    if traits.age_range is AgeRange.ELDERLY:
        named.append(Accessory.CANE)
    unmatched = sorted({w for w in _words(traits.custom_prompt) if len(w) > 3} - set(_ACCESSORY_WORDS))
    if unmatched:
        named.append(_SEEDED_DETAILS[_seed(str(seed), *unmatched) % len(_SEEDED_DETAILS)])
    return tuple(dict.fromkeys(named))


def _background(story_style: str, mood: Expression, render: Render) -> tuple[RGB, RGB]:
    tint = mix(_STORY_TINTS.get(story_style, (240, 240, 240)), _MOOD_TINTS[mood], 0.5)
    top = mix(tint, (255, 255, 255), 0.45 if render.paper else 0.35)
    return top, mix(tint, (150, 150, 160), 0.12)


def mix(a: RGB, b: RGB, t: float) -> RGB:
    r, g, bl = (round(x + (y - x) * t) for x, y in zip(a, b, strict=True))
    return (r, g, bl)
