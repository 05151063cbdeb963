"""Checked conversion of the figures found in files (numbers, fractions, JSON shapes).

Every figure a benchmark reports is a count, a duration, a rate or a size, so it must be a
finite number >= 0. Anything else (text, NaN, a negative value, a JSON list where an
object belongs) raises ParseError with a message that says where the bad value was.
The ``what`` argument describes the location, e.g. ``'line 5, column “Request Count”'``.
"""

from __future__ import annotations

import math
from typing import Any

from app.parsers.model import ParseError

NOT_AVAILABLE = frozenset({"", "N/A", "n/a", "-"})
MAX_COUNT = 2**53  # the largest whole number a float holds exactly; no real run counts more


def to_float(raw: Any, what: str, *, optional: bool = False) -> float | None:
    """A finite number >= 0 from a JSON number or numeric text.

    ``optional``: None and the "not available" markers (``''``, ``N/A``, ``-``) give None.
    Raises ParseError for anything else that is not a finite non-negative number.
    """
    if optional and (raw is None or (isinstance(raw, str) and raw.strip() in NOT_AVAILABLE)):
        return None
    if isinstance(raw, bool):
        raise ParseError(f"{what} is {raw!r}, but it must be a number.")
    if isinstance(raw, int | float):
        try:
            value = float(raw)
        except OverflowError:  # a JSON integer with hundreds of digits
            raise ParseError(f"{what} is {_show(raw)}, a number too large to be a figure.") from None
    elif isinstance(raw, str):
        try:
            value = float(raw.strip())
        except ValueError:
            raise ParseError(f"{what} is {_show(raw)}, but it must be a number.") from None
    else:
        raise ParseError(f"{what} is {_show(raw)}, but it must be a number.")
    if not math.isfinite(value) or value < 0:
        raise ParseError(f"{what} is {_show(raw)}, but it must be a finite number >= 0.")
    return value


def fast_float(text: str) -> float | None:
    """``float(text)`` when it is a finite number >= 0, else None (hot loops use this first
    and call :func:`req_float` only to raise the detailed error)."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if 0 <= value < math.inf else None


def req_float(raw: Any, what: str) -> float:
    """Like :func:`to_float` but the figure must be present."""
    value = to_float(raw, what)
    assert value is not None
    return value


def to_int(raw: Any, what: str, *, optional: bool = False) -> int | None:
    """A whole count >= 0 (``12`` or ``12.0`` are fine, ``12.5`` is not); raises ParseError."""
    value = to_float(raw, what, optional=optional)
    if value is None:
        return None
    if not value.is_integer():
        raise ParseError(f"{what} is {_show(raw)}, but it must be a whole number.")
    if value > MAX_COUNT:  # sums and ratios of such counts would overflow a float
        raise ParseError(f"{what} is {_show(raw)}, too large to be a count.")
    return int(value)


def req_int(raw: Any, what: str) -> int:
    """Like :func:`to_int` but the count must be present."""
    value = to_int(raw, what)
    assert value is not None
    return value


def to_fraction(raw: Any, what: str, *, optional: bool = False) -> float | None:
    """A ratio in [0, 1]; raises ParseError when outside."""
    value = to_float(raw, what, optional=optional)
    if value is not None and value > 1:
        raise ParseError(f"{what} is {_show(raw)}, but it must be a fraction between 0 and 1.")
    return value


def scaled(value: float | None, factor: float) -> float | None:
    """``value * factor`` keeping None (unit conversion, e.g. seconds to milliseconds).

    Rounded to 9 decimals so conversions do not show binary noise such as 1006.9999999999999.
    """
    if value is None:
        return None
    result = value * factor
    if not math.isfinite(result):  # e.g. 1e308 seconds in milliseconds
        raise ParseError(f"has a figure ({value:.4g}) too large to be a measurement.")
    return round(result, 9)


def as_dict(raw: Any, what: str) -> dict[str, Any]:
    """``raw`` if it is a JSON object; raises ParseError naming ``what`` otherwise."""
    if not isinstance(raw, dict):
        raise ParseError(f"{what} must be a JSON object, but it is {_kind(raw)}.")
    return raw


def as_list(raw: Any, what: str) -> list[Any]:
    """``raw`` if it is a JSON array; raises ParseError naming ``what`` otherwise."""
    if not isinstance(raw, list):
        raise ParseError(f"{what} must be a JSON array, but it is {_kind(raw)}.")
    return raw


def as_text(raw: Any, what: str, *, optional: bool = False) -> str | None:
    """``raw`` if it is a string (numbers are accepted and printed); raises ParseError."""
    if raw is None and optional:
        return None
    if isinstance(raw, str):
        return raw
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return str(raw)
    raise ParseError(f"{what} must be text, but it is {_kind(raw)}.")


def _kind(raw: Any) -> str:
    names = {dict: "an object", list: "an array", str: "text", bool: "true/false"}
    if raw is None:
        return "null"
    return names.get(type(raw), "a number")


def _show(raw: Any) -> str:
    try:
        text = repr(raw)
    except ValueError:  # an integer beyond Python's str conversion limit
        return "a number with thousands of digits"
    return text if len(text) <= 40 else text[:37] + "..."
