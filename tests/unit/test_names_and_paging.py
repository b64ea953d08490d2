"""Resource names, filters and page tokens: strict parsing with the field named."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from casting.domain import names
from casting.domain.errors import InvalidInput
from casting.domain.pagination import MAX_PAGE_SIZE, Cursor, decode_token, encode_token, page_request
from casting.domain.ports import ActorFilter
from casting.domain.usecases.filters import parse_actor_filter

UUID = "3f2b8c1e-9d4a-4e6b-8f00-123456789abc"


def test_names_parse_to_ids() -> None:
    assert names.parse_project("projects/studio-1", "parent") == "studio-1"
    assert names.parse_actor(f"projects/p/actors/{UUID}", "name") == names.ChildName("p", UUID)
    assert names.parse_variant(f"projects/p/actors/{UUID}/variants/{UUID}", "name") == names.VariantName(
        "p", UUID, UUID
    )
    assert names.parse_story("projects/p/stories/chapter-7", "story") == names.ChildName("p", "chapter-7")
    # UUIDs are canonicalised, so one id has one name
    assert names.parse_actor(f"projects/p/actors/{UUID.upper()}", "name").id == UUID


@pytest.mark.parametrize(
    "value",
    [
        "",
        "projects/",
        "projects/UPPER",
        "projects/p/actors/not-a-uuid",
        f"projects/p/actors/{UUID}/extra",
        f"projects/p/sheets/{UUID}",
        "projects/" + "a" * 64 + f"/actors/{UUID}",
        f"projects/p q/actors/{UUID}",
    ],
)
def test_malformed_names_name_the_field(value: str) -> None:
    with pytest.raises(InvalidInput) as error:
        names.parse_actor(value, "name")
    assert [v.field for v in error.value.violations] == ["name"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ActorFilter()),
        ('display_name="Mi*"', ActorFilter(display_name_prefix="Mi")),
        ('display_name = "Tom AND Jerry"', ActorFilter(display_name="Tom AND Jerry")),
        ('approved=false AND display_name="A\\"b*"', ActorFilter(display_name_prefix='A"b', approved=False)),
        ("verified = false", ActorFilter(verified=False)),
        ('verified=true AND display_name="Mina"', ActorFilter(display_name="Mina", verified=True)),
    ],
)
def test_filters_parse(text: str, expected: ActorFilter) -> None:
    assert parse_actor_filter(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "name=x",
        "approved=yes",
        "display_name=Mina",
        "approved=true OR approved=false",
        "approved=true AND",
        "verified=maybe",
        "verified=false AND verified=true",
    ],
)
def test_bad_filters_are_invalid(text: str) -> None:
    with pytest.raises(InvalidInput) as error:
        parse_actor_filter(text)
    assert [v.field for v in error.value.violations] == ["filter"]


def test_page_sizes_default_and_cap() -> None:
    assert page_request(0, "", "q").size == 50
    assert page_request(10_000, "", "q").size == MAX_PAGE_SIZE
    with pytest.raises(InvalidInput):
        page_request(-1, "", "q")


def test_tokens_round_trip_and_belong_to_their_query() -> None:
    cursor = Cursor(datetime(2026, 5, 1, tzinfo=UTC), UUID)
    token = encode_token(cursor, "actors|p|")
    assert decode_token(token, "actors|p|") == cursor
    with pytest.raises(InvalidInput):
        decode_token(token, "actors|other|")
