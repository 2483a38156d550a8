"""Option types for :class:`wstether.Client` and :class:`wstether.AsyncClient` (seconds as float).

Every default and limit comes from the Rust core (``_native._defaults()`` / ``_limits()``), so
no number is restated here. A value of the wrong type, or a duration that is negative, NaN or
longer than :data:`LIMITS.max_duration <Limits.max_duration>`, is refused when the option
object is made; the remaining range checks (zero durations, sizes over their limits, factor,
jitter) happen when the client is built.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple, Union

from . import _native, _values
from .errors import InvalidType

__all__ = ["Backoff", "Compression", "Heartbeat", "Outbox", "TerminalPolicy", "AuthRequest", "Limits", "LIMITS"]

_CORE: Dict[str, Any] = _native._defaults()

DEFAULT_CONNECT_TIMEOUT: float = _CORE["connect_timeout"]
DEFAULT_HANDSHAKE_BUDGET: Optional[int] = _CORE["handshake_budget"]
DEFAULT_MAX_MESSAGE_SIZE: int = _CORE["max_message_size"]
DEFAULT_EVENT_BUFFER: int = _CORE["event_buffer"]
DEFAULT_CLOSE_TIMEOUT: float = _CORE["close_timeout"]


def _duration(option: str, value: object) -> None:
    _native._check_seconds(option, _values.seconds(option, value))


@dataclass(frozen=True)
class Backoff:
    """The reconnect delay curve: ``initial * factor**n`` capped at ``max``, minus up to
    ``jitter`` × delay at random. The curve restarts only after a link stayed open for
    ``stable_after`` seconds, so a server that accepts then drops cannot cause a tight loop."""

    initial: float = _CORE["backoff"]["initial"]
    max: float = _CORE["backoff"]["max"]
    factor: float = _CORE["backoff"]["factor"]
    jitter: float = _CORE["backoff"]["jitter"]
    stable_after: float = _CORE["backoff"]["stable_after"]

    def __post_init__(self) -> None:
        _duration("backoff.initial", self.initial)
        _duration("backoff.max", self.max)
        _duration("backoff.stable_after", self.stable_after)
        _values.number("backoff.factor", self.factor)
        _values.number("backoff.jitter", self.jitter)


@dataclass(frozen=True)
class Heartbeat:
    """Keep-alive: a Ping every ``interval`` seconds; the link is dead after ``interval + timeout``
    seconds of silence. With ``app_ping`` (text or bytes) an application message is sent instead,
    and an inbound text equal to ``pong`` (or containing it, with ``pong_contains=True``) answers it."""

    interval: float = _CORE["heartbeat"]["interval"]
    timeout: float = _CORE["heartbeat"]["timeout"]
    app_ping: Optional[Union[str, bytes]] = None
    pong: Optional[str] = None
    pong_contains: bool = False

    def __post_init__(self) -> None:
        _duration("heartbeat.interval", self.interval)
        _duration("heartbeat.timeout", self.timeout)
        if self.app_ping is not None:
            _values.payload("heartbeat.app_ping", self.app_ping)
        if self.pong is not None:
            _values.text("heartbeat.pong", self.pong)


@dataclass(frozen=True)
class Outbox:
    """Limits on messages waiting for a link; beyond them ``send`` raises :class:`QueueFull`."""

    max_messages: int = _CORE["outbox_max_messages"]
    max_bytes: int = _CORE["outbox_max_bytes"]

    def __post_init__(self) -> None:
        _values.count("outbox.max_messages", self.max_messages)
        _values.count("outbox.max_bytes", self.max_bytes)


@dataclass(frozen=True)
class Compression:
    """permessage-deflate (RFC 7692) offered with these parameters; ``compression=True`` (the
    default) offers ``Compression()``, the core's defaults, and ``False``/``None`` offers nothing.

    The negotiated extension is reported by ``Open.compression``. Window sizes are ``2**bits``
    bytes (:data:`LIMITS` gives the ranges; the core checks them when the client is built).
    """

    client_max_window_bits: Optional[int] = _CORE["compression"]["client_max_window_bits"]
    """Our compressor's window, offered as a hint; ``None`` offers the largest."""
    server_max_window_bits: Optional[int] = _CORE["compression"]["server_max_window_bits"]
    """Ask the server to compress with at most this window; ``None`` lets it choose."""
    client_no_context_takeover: bool = _CORE["compression"]["client_no_context_takeover"]
    """Compress each outgoing message on its own (nothing kept between messages)."""
    server_no_context_takeover: bool = _CORE["compression"]["server_no_context_takeover"]
    """Ask the server to compress each message on its own."""

    def __post_init__(self) -> None:
        for name in ("client_max_window_bits", "server_max_window_bits"):
            value = getattr(self, name)
            if value is not None:
                _values.count(f"compression.{name}", value)
        for name in ("client_no_context_takeover", "server_no_context_takeover"):
            if not isinstance(getattr(self, name), bool):
                raise InvalidType(f"compression.{name} must be a bool")


@dataclass(frozen=True)
class TerminalPolicy:
    """Endings that retrying cannot fix: these close codes and handshake HTTP statuses end in
    ``Failed`` instead of a reconnect."""

    close_codes: Tuple[int, ...] = tuple(_CORE["terminal_close_codes"])
    statuses: Tuple[int, ...] = tuple(_CORE["terminal_statuses"])


@dataclass(frozen=True)
class AuthRequest:
    """What an ``auth`` function is told about the attempt it is called for."""

    attempt: int
    """Attempt number since the last stable link, from 1."""
    after_unauthorized: bool
    """The previous attempt was rejected with 401: return fresh credentials."""


@dataclass(frozen=True)
class Limits:
    """The largest value each option accepts (the core's limits); larger values raise
    :class:`InvalidOption` naming the limit."""

    max_duration: float
    """Every duration option, in seconds (365 days)."""
    max_message_size: int
    """``max_message_size``, in bytes."""
    max_outbox_messages: int
    """``Outbox.max_messages``."""
    max_outbox_bytes: int
    """``Outbox.max_bytes``."""
    max_event_buffer: int
    """``event_buffer``, in messages."""
    max_handshake_budget: int
    """``handshake_budget``, handshakes per second per host."""
    max_retries: int
    """``max_retries`` (``None`` means never give up)."""
    max_window_bits: int
    """Largest ``Compression`` window in either direction, in bits."""
    min_client_window_bits: int
    """Smallest ``Compression.client_max_window_bits``."""
    min_server_window_bits: int
    """Smallest ``Compression.server_max_window_bits``."""


LIMITS = Limits(**_native._limits())
"""The core's limits, read from the native module."""
