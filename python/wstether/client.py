"""The callback API: :class:`Client`."""

from __future__ import annotations

import logging
import threading
from types import TracebackType
from typing import Callable, List, Mapping, Optional, Sequence, Type, Union

from . import _build, _dispatch, _lifecycle, _logging, _values
from ._auth import AuthFunction
from ._controls import Controls
from ._transport import ProxySetting, Url
from ._native import (
    Closed,
    Connecting,
    ErrorEvent,
    Failed,
    NativeClient,
    Open,
    Pong,
    Reconnecting,
    StateChanged,
)
from .events import Event, SendStatus
from .options import (
    DEFAULT_CLOSE_TIMEOUT,
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_EVENT_BUFFER,
    DEFAULT_HANDSHAKE_BUDGET,
    DEFAULT_MAX_MESSAGE_SIZE,
    Backoff,
    Heartbeat,
    Outbox,
    TerminalPolicy,
)

__all__ = ["Client"]

Payload = Union[str, bytes]
logger = logging.getLogger("wstether")


class Client(Controls):
    """A WebSocket client that stays connected, with callbacks.

    Callbacks run on dispatcher threads shared by every client of the process (never on the
    thread that called ``connect()``), one event at a time per client, in event order; a
    callback that blocks delays other clients by at most about 100 ms (another thread takes
    over). An exception in a callback is logged on the ``wstether`` logger with its traceback
    and reported once as ``ErrorEvent(kind="callback")`` to ``on_event`` and ``on_error``, right
    after the event it was handling; the client and later events carry on. An exception while
    handling an ``ErrorEvent`` is only logged (no loop). ``on_message`` receives the payload
    itself: ``str`` for text, ``bytes`` for binary. Assign callbacks as attributes or pass them
    to the constructor.
    """

    on_message: Optional[Callable[[Payload], object]] = None
    """A message arrived (``str`` for text, ``bytes`` for binary)."""
    on_open: Optional[Callable[[Open], object]] = None
    """The link is open."""
    on_close: Optional[Callable[[Closed], object]] = None
    """An open link ended (``will_reconnect`` says whether the client tries again)."""
    on_connecting: Optional[Callable[[Connecting], object]] = None
    """An attempt begins."""
    on_reconnecting: Optional[Callable[[Reconnecting], object]] = None
    """Waiting ``delay`` seconds before the next attempt."""
    on_error: Optional[Callable[[ErrorEvent], object]] = None
    """Something failed and the client is still trying (also: a callback raised)."""
    on_failed: Optional[Callable[[Failed], object]] = None
    """Terminal: the client gave up; ``unsent`` holds the messages never written."""
    on_state: Optional[Callable[[StateChanged], object]] = None
    """The state changed."""
    on_pong: Optional[Callable[[Pong], object]] = None
    """A heartbeat was answered."""
    on_event: Optional[Callable[[Event], object]] = None
    """Every event, typed, before its specific callback (messages as :class:`Message`)."""

    def __init__(
        self,
        url: Url,
        *,
        protocols: Sequence[str] = (),
        headers: _build.Headers = None,
        auth: Optional[AuthFunction] = None,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        backoff: Backoff = Backoff(),
        max_retries: Optional[int] = None,
        max_elapsed: Optional[float] = None,
        heartbeat: Optional[Heartbeat] = Heartbeat(),
        outbox: Outbox = Outbox(),
        handshake_budget: Optional[int] = DEFAULT_HANDSHAKE_BUDGET,
        greeting: _build.Greeting = None,
        terminal: TerminalPolicy = TerminalPolicy(),
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        ca_pem: Optional[str] = None,
        event_buffer: int = DEFAULT_EVENT_BUFFER,
        close_timeout: float = DEFAULT_CLOSE_TIMEOUT,
        require_protocol: bool = False,
        compression: _build.CompressionOption = True,
        proxy: ProxySetting = True,
        pinned_cert_pem: Union[str, Sequence[str], None] = None,
        client_cert_pem: Optional[str] = None,
        client_key_pem: Optional[str] = None,
        resolve: Optional[Mapping[str, Sequence[str]]] = None,
        on_message: Optional[Callable[[Payload], object]] = None,
        on_open: Optional[Callable[[Open], object]] = None,
        on_close: Optional[Callable[[Closed], object]] = None,
        on_connecting: Optional[Callable[[Connecting], object]] = None,
        on_reconnecting: Optional[Callable[[Reconnecting], object]] = None,
        on_error: Optional[Callable[[ErrorEvent], object]] = None,
        on_failed: Optional[Callable[[Failed], object]] = None,
        on_state: Optional[Callable[[StateChanged], object]] = None,
        on_pong: Optional[Callable[[Pong], object]] = None,
        on_event: Optional[Callable[[Event], object]] = None,
    ) -> None:
        """Validate every option (typed errors now, never at first use); call ``connect()`` to start.

        ``auth`` is called before every attempt and returns headers (a mapping or pairs); it may
        take an :class:`AuthRequest` argument and may be ``async`` (run with ``asyncio.run`` on
        a helper thread). ``greeting`` messages (or a function returning them) are sent first on
        every open. Durations are seconds.

        ``url`` may be a function called before every attempt for that attempt's URL (plain or
        ``async``, like ``auth``). ``proxy`` is ``True`` (from the environment: ``HTTP_PROXY``,
        ``HTTPS_PROXY``, ``ALL_PROXY``, ``NO_PROXY``), ``None`` (direct) or a proxy URL
        (``http://user:pass@host:port``, ``https://…``, ``socks5h://…``; credentials are never
        shown). ``pinned_cert_pem`` trusts exactly the given certificate(s), self-signed or
        CA-flagged; ``client_cert_pem`` with ``client_key_pem`` is presented for mutual TLS;
        ``resolve`` maps host names to IP addresses used instead of DNS.

        ``compression`` is ``True`` (offer permessage-deflate with the core's defaults),
        ``False``/``None`` (offer nothing) or a :class:`Compression`.
        With ``require_protocol=True`` a server that selects none of ``protocols`` fails the
        client (terminal); by default the link opens with ``Open.protocol`` None.
        """
        _logging.start()
        self._native: NativeClient = _build.native_client(
            url,
            protocols=protocols,
            headers=headers,
            auth=auth,
            loop_of=lambda: None,
            connect_timeout=connect_timeout,
            backoff=backoff,
            max_retries=max_retries,
            max_elapsed=max_elapsed,
            heartbeat=heartbeat,
            outbox=outbox,
            handshake_budget=handshake_budget,
            greeting=greeting,
            terminal=terminal,
            max_message_size=max_message_size,
            ca_pem=ca_pem,
            event_buffer=event_buffer,
            close_timeout=close_timeout,
            require_protocol=require_protocol,
            compression=compression,
            proxy=proxy,
            pinned_cert_pem=pinned_cert_pem,
            client_cert_pem=client_cert_pem,
            client_key_pem=client_key_pem,
            resolve=resolve,
        )
        for name, cb in (
            ("on_message", on_message),
            ("on_open", on_open),
            ("on_close", on_close),
            ("on_connecting", on_connecting),
            ("on_reconnecting", on_reconnecting),
            ("on_error", on_error),
            ("on_failed", on_failed),
            ("on_state", on_state),
            ("on_pong", on_pong),
            ("on_event", on_event),
        ):
            if cb is not None:
                setattr(self, name, cb)
        self._lock = threading.Lock()
        self._started = False

    def connect(self) -> None:
        """Start connecting (returns at once; watch ``on_open``). Does nothing if already started."""
        with self._lock:
            if not self._started:
                self._started = True
                _lifecycle.register(self)
                _dispatch.ensure_started()
                self._native.dispatch_callbacks(self)
        self._native.connect()

    def send(self, data: Union[str, bytes, bytearray, memoryview]) -> SendStatus:
        """Send ``str`` as text or bytes-like as binary, from any thread, without blocking.

        Returns ``"sent"`` (link open) or ``"queued"`` (waits in the outbox for the next open).
        Raises :class:`QueueFull`, :class:`MessageTooLarge`, :class:`ClientClosed` or
        :class:`ClientFailed`; nothing is dropped silently.
        """
        return self._native.send(data)  # type: ignore[return-value]

    def close(self, code: int = 1000, reason: str = "") -> List[Payload]:
        """Close (code 1000 or 3000–4999) and wait for the client to stop (the GIL is released
        meanwhile). Returns every accepted message that was never written, once the callbacks of
        the last events have run (unless called from one of this client's callbacks). Idempotent."""
        unsent = self._native.close(_values.count("code", code), _values.text("reason", reason))
        _lifecycle.unregister(self)
        self._native.wait_dispatched(10.0)
        return unsent


    def __enter__(self) -> "Client":
        self.connect()
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<wstether.Client url={self.url!r} state={self.state!r}>"

    # -- internals -------------------------------------------------------------------------

    def _dispatch_ended(self) -> None:
        """The dispatcher handled this client's last event."""
        _lifecycle.unregister(self)

    def _log_callback_error(self, message: str, exc: BaseException) -> None:
        logger.error("wstether: %s", message, exc_info=(type(exc), exc, exc.__traceback__))

    def _shutdown(self) -> None:
        self.close(1000, "interpreter exit")
