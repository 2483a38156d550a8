"""Python options → the native constructor (shared by Client and AsyncClient).

Types are checked here (:class:`InvalidType`); every range is checked by the core, whose
:class:`InvalidOption` names the option and its limit.
"""

from __future__ import annotations

import asyncio
from typing import Callable, Iterable, Mapping, Optional, Sequence, Tuple, Union

from . import _auth, _native, _transport, _values
from .errors import InvalidType
from .options import Backoff, Compression, Heartbeat, Outbox, TerminalPolicy

Payload = Union[str, bytes]
Greeting = Union[Sequence[Payload], Callable[[], Sequence[Payload]], None]
Headers = Union[Mapping[str, str], Iterable[Tuple[str, str]], None]
CompressionOption = Union[bool, Compression, None]


def _compression(value: object) -> Optional[Tuple[Optional[int], Optional[int], bool, bool]]:
    """``True`` → the core's default offer, ``False``/``None`` → off, a :class:`Compression` → it."""
    if value is True:
        value = Compression()
    if value is False or value is None:
        return None
    if not isinstance(value, Compression):
        raise InvalidType("compression must be True, False, None or a wstether.Compression")
    return (
        _values.optional_count("compression.client_max_window_bits", value.client_max_window_bits),
        _values.optional_count("compression.server_max_window_bits", value.server_max_window_bits),
        value.client_no_context_takeover,
        value.server_no_context_takeover,
    )

def _header(item: object) -> Tuple[str, str]:
    if not isinstance(item, tuple) or len(item) != 2:
        raise InvalidType(f"a header must be a (name, value) pair of str, not {item!r}")
    return _values.text("header name", item[0]), _values.text("header value", item[1])


def native_client(
    url: _transport.Url,
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
    require_protocol: bool,
    compression: CompressionOption,
    proxy: _transport.ProxySetting = True,
    pinned_cert_pem: Union[str, Sequence[str], None] = None,
    client_cert_pem: Optional[str] = None,
    client_key_pem: Optional[str] = None,
    resolve: Optional[Mapping[str, Sequence[str]]] = None,
) -> _native.NativeClient:
    url, transport = _transport.transport(
        url,
        proxy=proxy,
        pinned_cert_pem=pinned_cert_pem,
        client_cert_pem=client_cert_pem,
        client_key_pem=client_key_pem,
        resolve=resolve,
        loop_of=loop_of,
        timeout=_values.seconds("connect_timeout", connect_timeout),
    )
    if isinstance(protocols, str):
        raise InvalidType("protocols must be a sequence of str, not a str")
    header_items = [_header(item) for item in (headers.items() if isinstance(headers, Mapping) else headers or ())]
    if not isinstance(backoff, Backoff):
        raise InvalidType("backoff must be a wstether.Backoff")
    if heartbeat is not None and not isinstance(heartbeat, Heartbeat):
        raise InvalidType("heartbeat must be a wstether.Heartbeat or None")
    if not isinstance(outbox, Outbox):
        raise InvalidType("outbox must be a wstether.Outbox")
    if not isinstance(terminal, TerminalPolicy):
        raise InvalidType("terminal must be a wstether.TerminalPolicy")
    if not isinstance(require_protocol, bool):
        raise InvalidType("require_protocol must be a bool")
    if auth is not None and not callable(auth):
        raise InvalidType("auth must be a function returning headers")
    connect = _values.seconds("connect_timeout", connect_timeout)
    native_auth = None if auth is None else _auth.wrap(auth, loop_of, timeout=connect)
    fixed_greeting = None if greeting is None or callable(greeting) else list(greeting)
    greeting_provider = greeting if callable(greeting) else None
    hb = None
    if heartbeat is not None:
        hb = (
            _values.seconds("heartbeat.interval", heartbeat.interval),
            _values.seconds("heartbeat.timeout", heartbeat.timeout),
            heartbeat.app_ping,
            heartbeat.pong,
            bool(heartbeat.pong_contains),
        )
    return _native.NativeClient(
        url,
        protocols=[_values.text("protocols[]", p) for p in protocols],
        headers=header_items,
        auth=native_auth,
        connect_timeout=connect,
        backoff=(
            _values.seconds("backoff.initial", backoff.initial),
            _values.seconds("backoff.max", backoff.max),
            _values.number("backoff.factor", backoff.factor),
            _values.number("backoff.jitter", backoff.jitter),
            _values.seconds("backoff.stable_after", backoff.stable_after),
        ),
        max_retries=_values.optional_count("max_retries", max_retries),
        max_elapsed=_values.optional_seconds("max_elapsed", max_elapsed),
        heartbeat=hb,
        outbox=(
            _values.count("outbox.max_messages", outbox.max_messages),
            _values.count("outbox.max_bytes", outbox.max_bytes),
        ),
        handshake_budget=_values.optional_count("handshake_budget", handshake_budget),
        greeting=fixed_greeting,
        greeting_provider=greeting_provider,
        terminal=(
            [_values.count("terminal.close_codes[]", c) for c in terminal.close_codes],
            [_values.count("terminal.statuses[]", c) for c in terminal.statuses],
        ),
        max_message_size=_values.count("max_message_size", max_message_size),
        ca_pem=None if ca_pem is None else _values.text("ca_pem", ca_pem),
        event_buffer=_values.count("event_buffer", event_buffer),
        close_timeout=_values.seconds("close_timeout", close_timeout),
        require_protocol=require_protocol,
        compression=_compression(compression),
        transport=transport,
    )
