"""Python options → the native constructor (shared by Client and AsyncClient)."""

from __future__ import annotations

import asyncio
from typing import Callable, Iterable, Mapping, Optional, Sequence, Tuple, Union

from . import _auth, _native
from .errors import InvalidOption
from .options import Backoff, Heartbeat, Outbox, TerminalPolicy

Payload = Union[str, bytes]
Greeting = Union[Sequence[Payload], Callable[[], Sequence[Payload]], None]
Headers = Union[Mapping[str, str], Iterable[Tuple[str, str]], None]

DEFAULT_MAX_MESSAGE_SIZE = 16 << 20


def _count(option: str, value: object, optional: bool = False) -> Optional[int]:
    """Integer options: bool and floats are type errors, negatives are InvalidOption."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{option} must be an int{' or None' if optional else ''}, not {type(value).__name__}")
    if value < 0 or value >= 1 << 63:
        raise InvalidOption(f"invalid option {option}: must be a non-negative int")
    return value


def native_client(
    url: str,
    *,
    protocols: Sequence[str],
    headers: Headers,
    auth: Optional[_auth.AuthFunction],
    loop_of: Callable[[], Optional[asyncio.AbstractEventLoop]],
    connect_timeout: float,
    backoff: Backoff,
    max_retries: Optional[int],
    max_elapsed: Optional[float],
    heartbeat: Optional[Heartbeat],
    outbox: Outbox,
    handshake_budget: Optional[int],
    greeting: Greeting,
    terminal: TerminalPolicy,
    max_message_size: int,
    ca_pem: Optional[str],
    event_buffer: int,
    close_timeout: float,
) -> _native.NativeClient:
    if not isinstance(url, str):
        raise TypeError(f"url must be a str, not {type(url).__name__}")
    if isinstance(protocols, str):
        raise TypeError("protocols must be a sequence of str, not a str")
    header_items = list(headers.items()) if isinstance(headers, Mapping) else list(headers or ())
    if not isinstance(backoff, Backoff):
        raise TypeError("backoff must be a wstether.Backoff")
    if heartbeat is not None and not isinstance(heartbeat, Heartbeat):
        raise TypeError("heartbeat must be a wstether.Heartbeat or None")
    if auth is not None and not callable(auth):
        raise TypeError("auth must be a function returning headers")
    native_auth = None if auth is None else _auth.wrap(auth, loop_of, timeout=float(connect_timeout))
    fixed_greeting = None if greeting is None or callable(greeting) else list(greeting)
    greeting_provider = greeting if callable(greeting) else None
    hb = None
    if heartbeat is not None:
        hb = (
            float(heartbeat.interval),
            float(heartbeat.timeout),
            heartbeat.app_ping,
            heartbeat.pong,
            bool(heartbeat.pong_contains),
        )
    return _native.NativeClient(
        url,
        protocols=list(protocols),
        headers=header_items,
        auth=native_auth,
        connect_timeout=float(connect_timeout),
        backoff=(
            float(backoff.initial),
            float(backoff.max),
            float(backoff.factor),
            float(backoff.jitter),
            float(backoff.stable_after),
        ),
        max_retries=_count("max_retries", max_retries, optional=True),
        max_elapsed=None if max_elapsed is None else float(max_elapsed),
        heartbeat=hb,
        outbox=(_count("outbox.max_messages", outbox.max_messages), _count("outbox.max_bytes", outbox.max_bytes)),
        handshake_budget=_count("handshake_budget", handshake_budget, optional=True),
        greeting=fixed_greeting,
        greeting_provider=greeting_provider,
        terminal=(list(terminal.close_codes), list(terminal.statuses)),
        max_message_size=_count("max_message_size", max_message_size),
        ca_pem=ca_pem,
        event_buffer=_count("event_buffer", event_buffer),
        close_timeout=float(close_timeout),
    )
