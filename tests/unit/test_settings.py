"""Operator settings refused at start-up, and how a refusal names what to fix."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from casting.adapters.generators.prices import ModelPrice
from casting.server.settings import Settings, problems


def refusal(**settings: object) -> list[str]:
    with pytest.raises(ValidationError) as refused:
        Settings(**settings)  # type: ignore[arg-type]
    return problems(refused.value)


def test_a_judge_model_without_a_price_is_refused_naming_where_to_price_it() -> None:
    assert refusal(generator="gemini", judge_model="gemini-2.5-pro") == [
        "CASTING_JUDGE_MODEL 'gemini-2.5-pro' has no price; "
        "give it one in CASTING_MODEL_PRICES (USD per million tokens)"
    ]


def test_a_judge_model_the_operator_prices_is_accepted_and_priced() -> None:
    price = ModelPrice(input=1.25, output=10.0)
    settings = Settings(
        generator="gemini", judge_model="gemini-2.5-pro", model_prices={"gemini-2.5-pro": price}
    )
    assert settings.model_prices["gemini-2.5-pro"].output == 10.0


@pytest.mark.parametrize("nothing_judges", [{"verify": "off"}, {"generator": "offline"}])
def test_an_unpriced_judge_model_is_no_concern_when_nothing_calls_it(nothing_judges: dict[str, str]) -> None:
    settings = Settings(**{"generator": "gemini", "judge_model": "gemini-2.5-pro", **nothing_judges})  # type: ignore[arg-type]
    assert settings.judge_model == "gemini-2.5-pro"


def test_problems_name_the_variables_an_operator_sets() -> None:
    assert refusal(port="not-a-port", model_prices={"mine": {"input": 1}}) == [
        "CASTING_PORT: Input should be a valid integer, unable to parse string as an integer",
        "CASTING_MODEL_PRICES.mine.output: Field required",
    ]


def test_a_read_pool_of_no_connections_is_refused() -> None:
    assert refusal(database_read_pool_size=0) == [
        "CASTING_DATABASE_READ_POOL_SIZE: Input should be greater than or equal to 1"
    ]
