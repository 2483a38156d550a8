"""Type checks for option values, then the native layer and the core check the ranges.

Wrong types raise :class:`InvalidType` (a ``TypeError``). Values are passed on unrounded:
seconds as ``float`` (an int too large for a float becomes ``inf``, which the core refuses
naming its longest duration), counts as ``int`` clamped to 64 bits (the core refuses what is
over an option's limit, naming it).
"""

from __future__ import annotations

import math
import numbers
from typing import Optional, Union

from .errors import InvalidType

_I64_MIN = -(1 << 63)
_I64_MAX = (1 << 63) - 1


def _kind(value: object) -> str:
    return type(value).__name__


def seconds(option: str, value: object) -> float:
    """A duration in seconds: an int or a float (not a bool, not a str)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidType(f"{option} must be a number of seconds (int or float), not {_kind(value)}")
    try:
        return float(value)
    except OverflowError:  # an int beyond a float's range
        return math.inf if value > 0 else -math.inf  # type: ignore[operator]


def optional_seconds(option: str, value: object) -> Optional[float]:
    """:func:`seconds`, or ``None`` for "never"."""
    return None if value is None else seconds(option, value)


def number(option: str, value: object) -> float:
    """A plain number (backoff factor, jitter)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidType(f"{option} must be a number (int or float), not {_kind(value)}")
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf  # type: ignore[operator]


def count(option: str, value: object) -> int:
    """A count or size: an int (not a bool, not a float), clamped to 64 bits."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidType(f"{option} must be an int, not {_kind(value)}")
    return max(_I64_MIN, min(_I64_MAX, int(value)))


def optional_count(option: str, value: object) -> Optional[int]:
    """:func:`count`, or ``None`` for "no limit" / "off"."""
    return None if value is None else count(option, value)


def text(option: str, value: object) -> str:
    """A str."""
    if not isinstance(value, str):
        raise InvalidType(f"{option} must be a str, not {_kind(value)}")
    return value


def payload(option: str, value: object) -> Union[str, bytes]:
    """A message given in an option: str (text) or bytes (binary)."""
    if not isinstance(value, (str, bytes)):
        raise InvalidType(f"{option} must be str or bytes, not {_kind(value)}")
    return value
