"""Pydantic validation errors worded as ``key.path: problem``.

The config, the model cards and the MQTT messages are all pydantic models; this one
wording makes every error name the key path it is about, in the same words.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from .errors import ConfigError

M = TypeVar("M", bound=BaseModel)


def validated(model: type[M], data: Any, heading: str) -> M:
    """*data* validated as *model*.

    Raises:
        ConfigError: ``heading:`` followed by one ``key.path: problem`` line per error.
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        lines = [describe(e) for e in exc.errors()]
        raise ConfigError(f"{heading}:\n  " + "\n  ".join(lines)) from None


def describe(err: Mapping[str, Any]) -> str:
    """One error of ``ValidationError.errors()`` as ``key.path: problem`` (``<root>`` for the whole)."""
    loc = ".".join(str(p) for p in err.get("loc", ()) if not str(p).startswith("function-after"))
    msg = err.get("msg", "invalid")
    kind = err.get("type", "")
    if kind == "extra_forbidden":
        msg = "unknown key"
    elif kind == "missing":
        msg = "required key is missing"
    elif kind == "path_type":
        msg = f"must be a path (a string), not {_kind_of(err.get('input'))}"
    else:
        msg = msg.removeprefix("Value error, ")
        msg = msg.replace("Input should be", "must be")
        if kind.endswith("_type") and "input" in err:
            msg += f", not {_kind_of(err['input'])}"
        # Model validators report nested keys as "key: problem"; fold them into the path.
        head, sep, tail = msg.partition(": ")
        if sep and all(part.isidentifier() for part in head.split(".")):
            loc = f"{loc}.{head}" if loc else head
            msg = tail
    return f"{loc or '<root>'}: {msg}"


_TOML_KINDS = {str: "the string", bool: "the boolean", int: "the integer", float: "the number"}


def _kind_of(value: Any) -> str:
    """``the string '500'``: what a value of the wrong type was, as TOML would call it."""
    for kind, name in _TOML_KINDS.items():
        if type(value) is kind:
            text = repr(value)
            return f"{name} {text if len(text) <= 40 else text[:37] + '...'}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return f"a {type(value).__name__}"
