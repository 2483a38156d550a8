"""wstether: a WebSocket client that stays connected (Rust core, Python API).

Callbacks::

    client = wstether.Client("wss://example.com/ws", heartbeat=wstether.Heartbeat(interval=15.0))
    client.on_message = lambda msg: print(msg)
    client.connect()
    client.send("hi")
    unsent = client.close()

asyncio::

    async with wstether.connect("wss://example.com/ws") as client:
        await client.send("hi")
        async for event in client:
            ...
"""

from __future__ import annotations

import importlib.metadata as _metadata

from ._native import Stats, Transition
from .aio import AsyncClient, connect
from .client import Client
from .errors import (
    ClientClosed,
    ClientFailed,
    CloseReasonTooLong,
    Error,
    EventsTaken,
    InvalidCertificate,
    InvalidCloseCode,
    InvalidHeader,
    InvalidOption,
    InternalError,
    InvalidScheme,
    InvalidType,
    InvalidUrl,
    MessageTooLarge,
    QueueFull,
    Timeout,
)
from .events import (
    Cause,
    Closed,
    Connecting,
    ErrorEvent,
    Event,
    Failed,
    Message,
    Open,
    Pong,
    Reconnecting,
    SendStatus,
    State,
    StateChanged,
)
from .options import LIMITS, AuthRequest, Backoff, Compression, Heartbeat, Limits, Outbox, TerminalPolicy

#: The installed version (the repository's one version, from the workspace Cargo.toml).
__version__: str = _metadata.version("wstether")

__all__ = [
    "AsyncClient",
    "AuthRequest",
    "Backoff",
    "Cause",
    "Client",
    "ClientClosed",
    "ClientFailed",
    "CloseReasonTooLong",
    "Closed",
    "Compression",
    "Connecting",
    "Error",
    "ErrorEvent",
    "Event",
    "EventsTaken",
    "Failed",
    "Heartbeat",
    "InvalidCertificate",
    "InvalidCloseCode",
    "InvalidHeader",
    "InvalidOption",
    "InternalError",
    "InvalidScheme",
    "InvalidType",
    "InvalidUrl",
    "LIMITS",
    "Limits",
    "Message",
    "MessageTooLarge",
    "Open",
    "Outbox",
    "Pong",
    "QueueFull",
    "Reconnecting",
    "SendStatus",
    "State",
    "StateChanged",
    "Stats",
    "TerminalPolicy",
    "Timeout",
    "Transition",
    "connect",
]
