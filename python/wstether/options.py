"""Option types for :class:`wstether.Client` and :class:`wstether.AsyncClient` (seconds as float)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple, Union

__all__ = ["Backoff", "Heartbeat", "Outbox", "TerminalPolicy", "AuthRequest"]


@dataclass(frozen=True)
class Backoff:
    """The reconnect delay curve: ``initial * factor**n`` capped at ``max``, minus up to
    ``jitter`` × delay at random. The curve restarts only after a link stayed open for
    ``stable_after`` seconds, so a server that accepts then drops cannot cause a tight loop."""

    initial: float = 1.0
    max: float = 10.0
    factor: float = 2.0
    jitter: float = 0.5
    stable_after: float = 5.0


@dataclass(frozen=True)
class Heartbeat:
    """Keep-alive: a Ping every ``interval`` seconds; the link is dead after ``interval + timeout``
    seconds of silence. With ``app_ping`` (text or bytes) an application message is sent instead,
    and an inbound text equal to ``pong`` (or containing it, with ``pong_contains=True``) answers it."""

    interval: float = 30.0
    timeout: float = 10.0
    app_ping: Optional[Union[str, bytes]] = None
    pong: Optional[str] = None
    pong_contains: bool = False


@dataclass(frozen=True)
class Outbox:
    """Limits on messages waiting for a link; beyond them ``send`` raises :class:`QueueFull`."""

    max_messages: int = 1000
    max_bytes: int = 1 << 20


@dataclass(frozen=True)
class TerminalPolicy:
    """Endings that retrying cannot fix: these close codes and handshake HTTP statuses end in
    ``Failed`` instead of a reconnect."""

    close_codes: Tuple[int, ...] = (1008,)
    statuses: Tuple[int, ...] = (400, 403, 404)


@dataclass(frozen=True)
class AuthRequest:
    """What an ``auth`` function is told about the attempt it is called for."""

    attempt: int
    """Attempt number since the last stable link, from 1."""
    after_unauthorized: bool
    """The previous attempt was rejected with 401: return fresh credentials."""
