"""How a refusal of the operator's settings names what to fix."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from casting.server.settings import Settings, problems


def refusal(**settings: object) -> list[str]:
    with pytest.raises(ValidationError) as refused:
        Settings(**settings)  # type: ignore[arg-type]
    return problems(refused.value)


def test_problems_name_the_variables_an_operator_sets() -> None:
    assert refusal(port="not-a-port", model_prices={"mine": {"input": 1}}) == [
        "CASTING_PORT: Input should be a valid integer, unable to parse string as an integer",
        "CASTING_MODEL_PRICES.mine.output: Field required",
    ]
