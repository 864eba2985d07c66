"""Untrusted JSON text: parsed with bounded nesting into values PostgreSQL can store.

`json.loads` recurses once per level of nesting: a body nested thousands deep raises
RecursionError (not ValueError), and one just under the interpreter's limit makes
every later recursive walk (validation, hashing, JSONB) fail instead. NaN and
Infinity are not JSON, and NUL or a lone surrogate in a string cannot be stored in
PostgreSQL text or JSONB. All of these are refused here as `UnsafeJson` (a ValueError).
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 32  # our bodies nest 4 deep, Stripe's events about 8
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_INT64 = (-(2**63), 2**63 - 1)


class UnsafeJson(ValueError):
    """Text that is JSON but not acceptable; `loc` names where, `reason` says why."""

    def __init__(self, message: str, loc: tuple[int | str, ...] = (), reason: str = "") -> None:
        super().__init__(message)
        self.loc = loc
        self.reason = reason or message


def _no_constant(name: str) -> Any:
    raise UnsafeJson(f"{name} is not a JSON number")


def loads(text: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """Parse `text`; ValueError when it is not JSON or nests deeper than `max_depth`."""
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except RecursionError as exc:
        raise UnsafeJson(f"JSON nested deeper than {max_depth} levels") from exc
    if depth(value) > max_depth:
        raise UnsafeJson(f"JSON nested deeper than {max_depth} levels")
    return value


def depth(value: Any) -> int:
    """How deep arrays and objects nest in `value` (a scalar is 0), without recursion."""
    if not isinstance(value, dict | list):
        return 0
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, level + 1) for child in children if isinstance(child, dict | list))
    return deepest


def refuse_unstorable(value: Any, *, int64: bool = False) -> None:
    """UnsafeJson naming the first string (or key) with NUL or a lone surrogate, and, with
    `int64`, the first integer outside a signed 64-bit column. No recursion."""
    stack: list[tuple[Any, tuple[int | str, ...]]] = [(value, ())]
    while stack:
        item, loc = stack.pop()
        if isinstance(item, str):
            found = _UNSTORABLE.search(item)
            if found is not None:
                what = "a NUL character" if found.group() == "\x00" else "a lone surrogate"
                raise UnsafeJson(f"Text may not contain {what}.", loc, f"contains {what}")
        elif isinstance(item, bool):
            continue
        elif isinstance(item, int):
            if int64 and not _INT64[0] <= item <= _INT64[1]:
                raise UnsafeJson("An integer is out of range.", loc, "out of range")
        elif isinstance(item, dict):
            for key, child in item.items():
                stack.append((key, loc))
                stack.append((child, (*loc, key)))
        elif isinstance(item, list):
            stack.extend((child, (*loc, index)) for index, child in enumerate(item))
