"""One wording for pydantic errors: ``key.path: problem`` in the config, the model cards and MQTT messages."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from plategate.validation import describe


class Inner(BaseModel):
    model_config = ConfigDict(extra="forbid")
    port: int


class Outer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    inner: Inner
    low: int = 0
    high: int = 1

    @model_validator(mode="after")
    def _ordered(self):
        if self.high < self.low:
            raise ValueError("high: must not be below low")
        return self


def problems(data) -> list[str]:
    with pytest.raises(ValidationError) as exc:
        Outer.model_validate(data)
    return [describe(e) for e in exc.value.errors()]


def test_each_problem_names_its_key_path():
    assert problems({"inner": {"port": "x", "extra": 1}}) == [
        "inner.port: must be a valid integer, unable to parse string as an integer",
        "inner.extra: unknown key",
    ]
    assert problems({}) == ["inner: required key is missing"]


def test_a_model_validator_naming_a_key_is_folded_into_the_path():
    assert problems({"inner": {"port": 1}, "low": 5, "high": 2}) == ["high: must not be below low"]


def test_a_problem_of_the_whole_is_at_the_root():
    assert problems([1, 2]) == ["<root>: must be a valid dictionary or instance of Outer, not a list"]
