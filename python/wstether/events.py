"""Event types and the small literal types shared by both APIs."""

from __future__ import annotations

from typing import Literal, Union

from ._native import (
    Cause,
    Closed,
    Connecting,
    ErrorEvent,
    Failed,
    Message,
    Open,
    Pong,
    Reconnecting,
    StateChanged,
)

__all__ = [
    "Event",
    "SendStatus",
    "State",
    "Cause",
    "Closed",
    "Connecting",
    "ErrorEvent",
    "Failed",
    "Message",
    "Open",
    "Pong",
    "Reconnecting",
    "StateChanged",
]

Event = Union[StateChanged, Connecting, Open, Message, Pong, Closed, Reconnecting, ErrorEvent, Failed]
"""Any event a client delivers; match on the class (``isinstance`` or ``match``)."""

SendStatus = Literal["sent", "queued"]
"""What ``send`` did: written now, or queued for the next open."""

State = Literal["idle", "connecting", "open", "waiting", "paused", "closing", "closed", "failed"]
"""A client's lifecycle state."""
