"""Pydantic validation errors worded as ``key.path: problem``.

The config, the model cards and the MQTT messages are all pydantic models; this one
wording makes every error name the key path it is about, in the same words.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def describe(err: Mapping[str, Any]) -> str:
    """One error of ``ValidationError.errors()`` as ``key.path: problem`` (``<root>`` for the whole)."""
    loc = ".".join(str(p) for p in err.get("loc", ()) if not str(p).startswith("function-after"))
    msg = err.get("msg", "invalid")
    kind = err.get("type", "")
    if kind == "extra_forbidden":
        msg = "unknown key"
    elif kind == "missing":
        msg = "required key is missing"
    else:
        msg = msg.removeprefix("Value error, ")
        msg = msg.replace("Input should be", "must be")
        # Model validators report nested keys as "key: problem"; fold them into the path.
        head, sep, tail = msg.partition(": ")
        if sep and all(part.isidentifier() for part in head.split(".")):
            loc = f"{loc}.{head}" if loc else head
            msg = tail
    return f"{loc or '<root>'}: {msg}"
