"""JSON from outside, parsed without letting its nesting exhaust the parser's recursion.

The one guard for nesting depth wherever JSON (or GeoJSON) from a person or a device is parsed:
request bodies (:mod:`fangxun.api.middleware`), imported files (hazard points, contingency
plans). The depth is counted on the raw bytes before parsing, so a hostile document of a hundred
thousand ``[`` is refused with its depth instead of raising :class:`RecursionError` (a 500).

>>> loads(b'{"type": "Point", "coordinates": [1, 2]}')
{'type': 'Point', 'coordinates': [1, 2]}
>>> loads(b"[" * 100 + b"]" * 100, max_depth=64)
Traceback (most recent call last):
...
fangxun.jsonsafe.JsonTooDeep: nested 100 levels deep; at most 64 are accepted
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

#: Deepest nesting accepted in an imported file: GeoJSON needs about 8 (a FeatureCollection of
#: MultiPolygons), a contingency plan 4.
MAX_FILE_DEPTH: Final = 64

_STRING: Final = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS: Final = bytes(b for b in range(256) if b not in b"[]{}")


class JsonTooDeep(ValueError):
    """A JSON text nested deeper than accepted (``depth``, ``limit``)."""

    def __init__(self, depth: int, limit: int) -> None:
        super().__init__(f"nested {depth} levels deep; at most {limit} are accepted")
        self.depth = depth
        self.limit = limit


def json_depth(body: bytes) -> int:
    """The deepest nesting of arrays and objects in a JSON text (strings ignored).

    Counts brackets without parsing, so a hostile body cannot exhaust the parser's recursion.

    >>> json_depth(b'{"a": [1, {"b": "[[["}]}')
    3
    >>> json_depth(b'"plain"')
    0
    """
    brackets = _STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    depth = deepest = 0
    for byte in brackets:
        if byte in (0x5B, 0x7B):  # [ {
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def loads(data: bytes | str, *, max_depth: int = MAX_FILE_DEPTH) -> Any:
    """``json.loads`` after checking the nesting depth: :class:`JsonTooDeep` (a ``ValueError``)
    when deeper than ``max_depth``; ``json.JSONDecodeError`` (also a ``ValueError``) when not JSON.
    Bytes are read as UTF-8 (a BOM is allowed); ``UnicodeDecodeError`` when they are not."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    depth = json_depth(raw)
    if depth > max_depth:
        raise JsonTooDeep(depth, max_depth)
    text = data if isinstance(data, str) else data.decode("utf-8-sig")
    return json.loads(text)


__all__ = ["MAX_FILE_DEPTH", "JsonTooDeep", "json_depth", "loads"]
