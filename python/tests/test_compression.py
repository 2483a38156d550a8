"""permessage-deflate (``compression=``) against python-websockets, which negotiates it by
default, and ``require_protocol=`` against the testkit server (which selects no subprotocol
unless started with ``protocols=``)."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any, Callable, Iterator, List, Optional

import pytest

import wstether

from .conftest import FAST, Recorder, Server

pytestmark = pytest.mark.timeout(30)

# JSON-like and compressible, as market data or chat history is: about 120 KB.
BIG = json.dumps([{"id": i, "symbol": "ABC", "price": 100 + i % 7, "side": "buy"} for i in range(2000)])


class OfferRecorder:
    """A python-websockets echo server on a thread that records each handshake's
    ``Sec-WebSocket-Extensions`` offer (None when absent)."""

    def __init__(self) -> None:
        from websockets.asyncio.server import serve

        self.offers: List[Optional[str]] = []
        self.url = ""
        started = threading.Event()
        self._stop: Optional[asyncio.Future[None]] = None

        def record(connection: Any, request: Any) -> None:
            self.offers.append(request.headers.get("Sec-WebSocket-Extensions"))

        async def echo(ws: Any) -> None:
            async for message in ws:
                await ws.send(message)

        async def main() -> None:
            async with serve(echo, "127.0.0.1", 0, process_request=record) as server:
                self.url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
                self._loop = asyncio.get_running_loop()
                self._stop = self._loop.create_future()
                started.set()
                await self._stop

        self._thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
        self._thread.start()
        assert started.wait(10)

    def close(self) -> None:
        stop = self._stop
        assert stop is not None
        self._loop.call_soon_threadsafe(lambda: stop.done() or stop.set_result(None))
        self._thread.join(10)


@pytest.fixture
def offers() -> Iterator[OfferRecorder]:
    server = OfferRecorder()
    yield server
    server.close()


def echo_client(clients: List[Any], url: str, recorder: Recorder, **options: Any) -> wstether.Client:
    opts = dict(FAST)
    opts.update(options)
    c = wstether.Client(url, on_event=recorder, **opts)
    clients.append(c)
    c.connect()
    return c


def test_deflate_is_negotiated_by_default_and_large_messages_echo_intact(
    echo_url: str, recorder: Recorder, clients: List[Any]
) -> None:
    c = echo_client(clients, echo_url, recorder)
    opened = recorder.wait_count(wstether.Open, 1)
    assert opened.compression is not None and opened.compression.startswith("permessage-deflate"), opened
    assert opened.address is not None and opened.address.startswith("127.0.0.1:")
    c.send(BIG)
    c.send(BIG.encode())
    c.send("small")
    recorder.wait_count(wstether.Message, 3)
    assert [m.data for m in recorder.of(wstether.Message)] == [BIG, BIG.encode(), "small"]


def test_the_default_offer_and_compression_off(
    offers: OfferRecorder, recorder: Recorder, clients: List[Any]
) -> None:
    on = echo_client(clients, offers.url, recorder)
    assert recorder.wait_count(wstether.Open, 1).compression is not None
    on.close()
    off_events = Recorder()
    off = echo_client(clients, offers.url, off_events, compression=False)
    opened = off_events.wait_count(wstether.Open, 1)
    assert opened.compression is None
    off.send(BIG)
    assert off_events.wait_count(wstether.Message, 1).data == BIG
    off.close()
    none_events = Recorder()
    echo_client(clients, offers.url, none_events, compression=None)
    assert none_events.wait_count(wstether.Open, 1).compression is None
    default = wstether.Compression()
    assert offers.offers[0] is not None and offers.offers[0].startswith("permessage-deflate")
    assert f"client_max_window_bits={default.client_max_window_bits}" in offers.offers[0]
    assert f"server_max_window_bits={default.server_max_window_bits}" in offers.offers[0]
    assert offers.offers[1:] == [None, None], "compression off offers nothing"


def test_compression_options_reach_the_offer_and_the_answer(
    offers: OfferRecorder, recorder: Recorder, clients: List[Any]
) -> None:
    options = wstether.Compression(
        client_max_window_bits=None,
        server_max_window_bits=None,
        client_no_context_takeover=True,
        server_no_context_takeover=True,
    )
    c = echo_client(clients, offers.url, recorder, compression=options)
    opened = recorder.wait_count(wstether.Open, 1)
    assert opened.compression is not None
    assert "server_no_context_takeover" in opened.compression
    assert "client_no_context_takeover" in opened.compression
    offer = offers.offers[0] or ""
    assert "client_no_context_takeover" in offer and "server_no_context_takeover" in offer
    assert "server_max_window_bits" not in offer
    for _ in range(3):
        c.send(BIG)
    recorder.wait_count(wstether.Message, 3)
    assert all(m.data == BIG for m in recorder.of(wstether.Message))


@pytest.mark.asyncio
async def test_asyncio_client_reports_the_extension(echo_url: str) -> None:
    async with wstether.connect(echo_url, heartbeat=None) as client:
        await client.send(BIG)
        opened = None
        async for event in client:
            if isinstance(event, wstether.Open):
                opened = event
            if isinstance(event, wstether.Message):
                assert event.data == BIG
                break
        assert opened is not None and opened.compression is not None


@pytest.mark.parametrize(
    "make, exc, words",
    [
        (lambda: wstether.Compression(client_max_window_bits=8), wstether.InvalidOption, "compression.client_max_window_bits"),
        (lambda: wstether.Compression(server_max_window_bits=16), wstether.InvalidOption, "compression.server_max_window_bits"),
        (lambda: wstether.Compression(client_max_window_bits=10**6), wstether.InvalidOption, "compression.client_max_window_bits"),
        (lambda: "yes", wstether.InvalidType, "compression"),
        (lambda: wstether.Compression(client_max_window_bits=12.0), wstether.InvalidType, "compression.client_max_window_bits"),
    ],
)
def test_bad_compression_options_are_typed_errors(make: Callable[[], Any], exc: type, words: str) -> None:
    with pytest.raises(exc) as info:
        wstether.Client("ws://127.0.0.1:9/", compression=make())
    assert words in str(info.value)
    if exc is wstether.InvalidOption:
        assert f"{wstether.LIMITS.max_window_bits}" in str(info.value), "names the limit"


def test_limits_and_defaults_come_from_the_core() -> None:
    assert wstether.LIMITS.min_client_window_bits <= wstether.LIMITS.max_window_bits
    assert wstether.LIMITS.min_server_window_bits <= wstether.LIMITS.min_client_window_bits
    d = wstether.Compression()
    assert d.client_max_window_bits is not None and d.server_max_window_bits is not None
    assert not d.client_no_context_takeover and not d.server_no_context_takeover


def test_a_server_selecting_no_protocol_opens_without_one(server: Server, recorder: Recorder, clients: List[Any]) -> None:
    echo_client(clients, server.url, recorder, protocols=["chat"])
    assert recorder.wait_count(wstether.Open, 1).protocol is None
    assert server.stats()["protocols"] == ["chat"]


def test_require_protocol_makes_it_terminal(server: Server, recorder: Recorder, clients: List[Any]) -> None:
    c = echo_client(clients, server.url, recorder, protocols=["chat", "v2"], require_protocol=True)
    failed = recorder.wait_count(wstether.Failed, 1)
    assert failed.reason.kind == "incompatible"
    assert "chat" in failed.reason.message
    assert not recorder.of(wstether.Open)
    assert c.state == "failed"
    assert server.stats()["handshakes"] <= 1


def test_require_protocol_with_a_matching_server(server_factory: Callable[..., Server], recorder: Recorder, clients: List[Any]) -> None:
    server = server_factory(protocols="v2")
    echo_client(clients, server.url, recorder, protocols=["chat", "v2"], require_protocol=True)
    assert recorder.wait_count(wstether.Open, 1).protocol == "v2"


def test_require_protocol_must_be_a_bool() -> None:
    with pytest.raises(wstether.InvalidType):
        wstether.Client("ws://127.0.0.1:9/", require_protocol="yes")  # type: ignore[arg-type]
