"""The asyncio API: :class:`AsyncClient` and :func:`connect`.

How events reach the loop (tokio workers never touch Python, the loop never blocks):
- on Unix, ``async for`` takes events in batches straight from the client's stream on the loop
  thread (reading the socket itself while it has caught up), and only when the consumer asks, so
  a slow consumer slows the socket instead of growing memory; when nothing is ready, the engine
  writes one byte to a socketpair the loop watches (``add_reader``) once there is;
- elsewhere, a dispatcher thread waits for a batch with the GIL released, hands it to the loop
  with one ``call_soon_threadsafe`` and fetches the next only once this one was consumed.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import logging
import threading
from types import TracebackType
from typing import Any, Deque, Generator, List, Mapping, Optional, Sequence, Type, Union

from . import _build, _lifecycle, _logging, _values
from ._auth import AuthFunction
from ._controls import Controls
from ._transport import ProxySetting, Url
from ._native import Message, NativeClient
from .errors import ClientClosed
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

__all__ = ["AsyncClient", "connect"]

# The fd bridge exists on Unix builds of the native module.
_FD_BRIDGE = hasattr(NativeClient, "start_pump")

Payload = Union[str, bytes]
_ids = itertools.count(1)
logger = logging.getLogger("wstether")


class AsyncClient(Controls):
    """A WebSocket client that stays connected, for asyncio.

    ``async with wstether.connect(url) as client`` (or ``client = await wstether.connect(url)``)
    starts it; ``async for event in client`` yields every event in order until the client is
    closed or has failed; ``await client.recv()`` returns the next message payload.
    Options are those of :class:`wstether.Client`; an ``async`` auth function runs on this
    client's event loop.
    """

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
    ) -> None:
        """Validate every option (typed errors now); the client starts on ``await``/``async with``.

        The options are :class:`wstether.Client`'s; an ``async`` ``url`` or ``auth`` function
        runs on the client's event loop.
        """
        _logging.start()
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._native: NativeClient = _build.native_client(
            url,
            protocols=protocols,
            headers=headers,
            auth=auth,
            loop_of=lambda: self._loop,
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
        self._queue: Deque[Event] = collections.deque()
        self._waiter: Optional["asyncio.Future[None]"] = None
        self._ended = False
        self._finished: Optional[asyncio.Event] = None
        # Set when the consumer has taken the last batch (or when closing): the dispatcher may go on.
        self._drained = threading.Event()
        self._closing = False
        self._dispatcher: Optional[threading.Thread] = None
        self._fd: Optional[int] = None
        # The loop watches the fd bridge's socket (from start until the end or close).
        self._watching = False
        self._started = False

    async def start(self) -> "AsyncClient":
        """Start connecting (returns at once; an ``Open`` event follows). Idempotent."""
        if not self._started:
            self._started = True
            self._loop = loop = asyncio.get_running_loop()
            self._finished = asyncio.Event()
            _lifecycle.register(self)
            if _FD_BRIDGE:
                self._fd = self._native.start_pump()
                loop.add_reader(self._fd, self._on_readable)
                self._watching = True
            else:
                self._dispatcher = threading.Thread(
                    target=self._dispatch, name=f"wstether-aio-dispatch-{next(_ids)}", daemon=True
                )
                self._dispatcher.start()
        self._native.connect()
        return self

    async def send(self, data: Union[str, bytes, bytearray, memoryview]) -> SendStatus:
        """Send ``str`` as text or bytes-like as binary; never waits for the network.
        Returns ``"sent"`` or ``"queued"``; raises like :meth:`wstether.Client.send`."""
        return self._native.send(data)  # type: ignore[return-value]

    def send_nowait(self, data: Union[str, bytes, bytearray, memoryview]) -> SendStatus:
        """:meth:`send` without ``await`` (it never blocks)."""
        return self._native.send(data)  # type: ignore[return-value]

    async def recv(self) -> Payload:
        """The next message payload, skipping other events; :class:`ClientClosed` once the
        stream has ended."""
        while True:
            try:
                event = await self.__anext__()
            except StopAsyncIteration:
                raise ClientClosed("the client is closed") from None
            if type(event) is Message:
                return event.data

    async def close(self, code: int = 1000, reason: str = "") -> List[Payload]:
        """Close and wait for the client to stop, without blocking the loop. Returns every
        accepted message never written. Events still buffered stay readable with ``async for``."""
        code = _values.count("code", code)
        reason = _values.text("reason", reason)
        loop = asyncio.get_running_loop()
        done: "asyncio.Future[List[Payload]]" = loop.create_future()

        def work() -> None:
            try:
                unsent = self._native.close(code, reason)
            except BaseException as exc:  # handed to the awaiting task
                loop.call_soon_threadsafe(_settle, done, None, exc)
            else:
                loop.call_soon_threadsafe(_settle, done, unsent, None)

        closer = threading.Thread(target=work, name="wstether-close", daemon=True)
        closer.start()
        try:
            unsent = await done
        finally:
            closer.join()
        self._stop_backpressure()
        if self._fd is not None:
            # The client has stopped: its stream holds the rest and never makes a reader wait
            # again (the core ends it as it queues the last event, before close() returns), so
            # no byte is needed. Stop watching (so nothing holds this client), and wake a
            # waiting reader.
            self._stop_reader()
            self._wake()
        elif self._finished is not None:
            await self._finished.wait()
        if self._dispatcher is not None:
            self._dispatcher.join(5.0)
        _lifecycle.unregister(self)
        return unsent


    def __aiter__(self) -> "AsyncClient":
        return self

    async def __anext__(self) -> Event:
        queue = self._queue
        while not queue:
            if self._ended:
                raise StopAsyncIteration
            if self._loop is None:
                raise RuntimeError("start the client first: `async with` or `await` it")
            if self._fd is not None:
                batch = self._native.drain_pump(4096)
                if batch is None:
                    self._ended = True
                    self._stop_reader()
                    continue
                if batch:
                    queue.extend(batch)
                    break
            waiter = self._loop.create_future()
            self._waiter = waiter
            try:
                await waiter
            finally:
                self._waiter = None
        event = queue.popleft()
        if not queue:
            self._drained.set()
        return event

    async def __aenter__(self) -> "AsyncClient":
        return await self.start()

    async def __aexit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        await self.close()

    def __await__(self) -> Generator[Any, None, "AsyncClient"]:
        return self.start().__await__()

    def __repr__(self) -> str:
        return f"<wstether.AsyncClient url={self.url!r} state={self.state!r}>"

    # -- the fd bridge (Unix) -----------------------------------------------------------------

    def _on_readable(self) -> None:
        self._native.ack_pump()
        self._wake()

    def _stop_reader(self) -> None:
        if not self._watching:
            return
        self._watching = False
        loop, fd = self._loop, self._fd
        if loop is not None and fd is not None and not loop.is_closed():
            loop.remove_reader(fd)

    # -- the dispatcher thread and its hand-off to the loop (other platforms) ------------------

    def _dispatch(self) -> None:
        try:
            self._native.run_batches(self._deliver)
        except Exception:  # pragma: no cover
            logger.exception("wstether dispatcher stopped")
        finally:
            self._call_in_loop(self._finish)

    def _deliver(self, batch: List[Event]) -> None:
        """Dispatcher thread: pass a batch to the loop, then wait until it is consumed."""
        self._drained.clear()
        if not self._call_in_loop(self._push, batch):
            return
        while not self._closing and not self._drained.wait(0.5):
            loop = self._loop
            if loop is None or loop.is_closed():
                return

    def _call_in_loop(self, fn: Any, *args: Any) -> bool:
        loop = self._loop
        if loop is None:
            return False
        try:
            loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            return False
        return True

    def _push(self, batch: List[Event]) -> None:
        self._queue.extend(batch)
        self._wake()

    def _finish(self) -> None:
        self._ended = True
        self._wake()
        if self._finished is not None:
            self._finished.set()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _stop_backpressure(self) -> None:
        self._closing = True
        self._drained.set()

    def _shutdown(self) -> None:
        """At interpreter exit: close without the loop (it may be gone already)."""
        self._stop_backpressure()
        self._native.close(1000, "interpreter exit")
        _lifecycle.unregister(self)
        if self._dispatcher is not None:
            self._dispatcher.join(5.0)


def _settle(future: "asyncio.Future[Any]", result: Any, exc: Optional[BaseException]) -> None:
    if future.done():
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)


def connect(url: str, **options: Any) -> AsyncClient:
    """``async with wstether.connect(url, **options) as client`` or
    ``client = await wstether.connect(url, **options)``: an :class:`AsyncClient`, started."""
    return AsyncClient(url, **options)
