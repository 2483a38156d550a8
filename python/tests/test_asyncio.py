"""The asyncio API under pytest-asyncio."""

from __future__ import annotations

import asyncio
import gc
import threading
from typing import Any, Callable, List

import pytest

import wstether

from .conftest import FAST, Server

pytestmark = [pytest.mark.timeout(30), pytest.mark.asyncio]


async def next_of(client: wstether.AsyncClient, cls: type, timeout: float = 5.0) -> Any:
    async def find() -> Any:
        async for event in client:
            if isinstance(event, cls):
                return event
        raise AssertionError(f"stream ended before {cls.__name__}")

    return await asyncio.wait_for(find(), timeout)


async def test_echo_and_iteration(server_factory: Callable[..., Server]) -> None:
    server = server_factory(protocols="chat")
    seen: List[Any] = []
    async with wstether.connect(server.url, protocols=["chat"], **FAST) as client:
        assert await client.send("hi") in ("sent", "queued")
        client.send_nowait(b"\x00\x01")
        async for event in client:
            seen.append(event)
            if isinstance(event, wstether.Message) and event.data == b"\x00\x01":
                break
    names = [type(e).__name__ for e in seen if not isinstance(e, (wstether.StateChanged, wstether.Pong))]
    assert names == ["Connecting", "Open", "Message", "Message"]
    assert seen[-2].data == "hi"
    assert client.state == "closed"
    # After close the stream ends with the remaining events (the Closed event among them).
    rest = [e async for e in client]
    assert any(isinstance(e, wstether.Closed) and e.initiator == "local" for e in rest)
    assert server.stats()["received"] == ["hi", "bin:2"]


async def test_messages_are_left_out_of_the_cycle_collector(server: Server) -> None:
    # A batch holds thousands of messages; tracked, each collection walked them all (a tenth of
    # the loop's time at 64 B). A message holds only a str or bytes, so it can never be in a cycle.
    async with wstether.connect(server.url, **FAST) as client:
        await client.send("!blast 3000 64")
        got: List[Any] = []
        async for event in client:
            if isinstance(event, wstether.Message):
                if event.data == "!blast-done":
                    break
                got.append(event)
    assert len(got) == 3000
    assert not any(gc.is_tracked(m) for m in got)
    gc.collect()
    assert all(len(m.data) == 64 for m in got[:3])


async def test_recv_and_await_connect(server: Server) -> None:
    client = await wstether.connect(server.url, **FAST)
    try:
        await client.send("one")
        await client.send("two")
        assert await asyncio.wait_for(client.recv(), 5) == "one"
        assert await asyncio.wait_for(client.recv(), 5) == "two"
    finally:
        assert await client.close() == []
    with pytest.raises(wstether.ClientClosed):
        await client.recv()


async def test_async_auth_runs_on_the_clients_loop(server_factory: Callable[..., Server]) -> None:
    server = server_factory(token="t1")
    loop = asyncio.get_running_loop()
    ran_on: List[bool] = []
    tokens = iter(["t1", "t1", "t2"])

    async def auth(request: wstether.AuthRequest) -> dict:
        ran_on.append(asyncio.get_running_loop() is loop)
        await asyncio.sleep(0)
        return {"Authorization": f"Bearer {next(tokens, 't2')}"}

    async with wstether.connect(server.url, auth=auth, **FAST) as client:
        await next_of(client, wstether.Open)
        server("token", value="t2")
        server("drop_all")
        error = await next_of(client, wstether.ErrorEvent)
        assert error.kind == "auth"
        await next_of(client, wstether.Open)
    assert ran_on == [True, True, True]
    assert server.stats()["auth_headers"] == ["Bearer t1", "Bearer t1", "Bearer t2"]


async def test_reconnect_after_server_restart(server: Server) -> None:
    async with wstether.connect(server.url, **FAST) as client:
        await next_of(client, wstether.Open)
        server("stop", code=1012)
        closed = await next_of(client, wstether.Closed)
        assert (closed.code, closed.initiator, closed.will_reconnect) == (1012, "remote", True)
        await next_of(client, wstether.ErrorEvent)
        server("restart")
        opened = await next_of(client, wstether.Open)
        assert opened.attempt >= 2


async def test_failed_ends_the_stream_with_unsent(server: Server) -> None:
    server("reject", status=403)
    client = wstether.AsyncClient(server.url, **FAST)
    assert await client.send("never") == "queued"  # accepted before the first attempt
    async with client:
        events = [e async for e in client]
        failed = events[-1]
        assert isinstance(failed, wstether.Failed)
        assert failed.reason.status == 403 and failed.unsent == ["never"]
        with pytest.raises(wstether.ClientFailed):
            await client.send("late")


async def test_close_returns_unsent_without_blocking_the_loop(server: Server) -> None:
    server("stop")
    client = await wstether.connect(server.url, **FAST)
    await client.send("a")
    await client.send(b"b")
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.001)

    t = asyncio.ensure_future(ticker())
    unsent = await client.close(1000, "bye")
    t.cancel()
    assert unsent == ["a", b"b"]
    assert ticks > 0
    assert not any(th.name.startswith("wstether-aio-dispatch") and th.is_alive() for th in threading.enumerate()
                   if th.name.endswith(str(id(client))))


async def until(pred: Callable[[], bool], timeout: float, what: str) -> None:
    """Wait, without blocking the loop, until `pred()` holds; fail after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not pred():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.005)


async def test_slow_consumer_bounded(server: Server) -> None:
    # With nobody iterating, the client reads a full event buffer off the socket and stops
    # there (TCP pushes back on the server) instead of piling the blast up in memory.
    buffer = 64
    async with wstether.connect(server.url, event_buffer=buffer, **FAST) as client:
        await next_of(client, wstether.Open)
        assert client.stats().messages_in == 0
        await client.send("!blast 5000 16")
        # The client has reached its bound once it has read a whole buffer's worth. Nothing has
        # been consumed, so every message read (`messages_in`, counted as the socket is read)
        # is still held. A reader that ignored the bound would have read on: the server writes
        # 256 messages per flush, so such a reader is seen past the bound, not at it.
        await until(lambda: client.stats().messages_in >= buffer, 5.0, "a full event buffer")
        # The fd bridge (Unix) takes events only when asked: the buffer and no more is held. A
        # dispatcher thread (elsewhere) holds one batch besides, at most another buffer.
        limit = buffer if client._fd is not None else 2 * buffer
        held = client.stats().messages_in
        assert held <= limit, f"read {held} messages while nobody consumed (bound {limit})"
        assert len(client._queue) <= limit
        count = 0
        async for event in client:
            if isinstance(event, wstether.Message):
                if event.data == "!blast-done":
                    break
                assert event.data.startswith(f"{count}:")
                count += 1
        assert count == 5000


async def test_close_leaves_the_rest_readable_and_stops_watching(server: Server) -> None:
    # Nobody iterates until after close(): every event is still there, in order, ending with
    # Closed, and the loop no longer watches the client's wake socket (nothing holds it).
    client = await wstether.connect(server.url, **FAST)
    await client.send("hello")
    opened = await next_of(client, wstether.Open)
    assert opened is not None
    first = await next_of(client, wstether.Message)
    assert first.data == "hello"
    await client.send("last")
    await client.close(1000, "bye")
    fd = client._fd
    if fd is not None:
        assert not asyncio.get_running_loop().remove_reader(fd), "the loop still watches the client"
    rest = await asyncio.wait_for(_collect(client), 5.0)
    assert [type(e) for e in rest if not isinstance(e, wstether.StateChanged)][-1] is wstether.Closed, rest


async def test_close_wakes_a_waiting_iterator(server: Server) -> None:
    # A task waiting in `async for` when close() completes sees Closed and the end, even when
    # the loop never read the wake byte the close produced before close() stopped watching
    # (the test stops watching first, so only close() itself can wake the task).
    client = await wstether.connect(server.url, **FAST)
    await next_of(client, wstether.Open)
    waiting = asyncio.ensure_future(_collect(client))
    deadline = asyncio.get_running_loop().time() + 5.0
    while client._waiter is None:  # until the task waits for an event
        assert asyncio.get_running_loop().time() < deadline, "the iterator never waited"
        await asyncio.sleep(0)
    assert not waiting.done()
    if client._fd is not None:
        asyncio.get_running_loop().remove_reader(client._fd)
    await client.close(1000, "bye")
    rest = await asyncio.wait_for(waiting, 5.0)
    assert [type(e) for e in rest if not isinstance(e, wstether.StateChanged)][-1] is wstether.Closed, rest


async def _collect(client: wstether.AsyncClient) -> List[Any]:
    return [e async for e in client]
