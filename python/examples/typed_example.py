"""A typed tour of the public API; CI checks it with `mypy --strict` (and it runs: pass a URL)."""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from typing import Dict, List, Union

import wstether


def get_headers(request: wstether.AuthRequest) -> Dict[str, str]:
    """Called before every attempt: return fresh credentials."""
    return {"Authorization": f"Bearer token-for-attempt-{request.attempt}"}


def describe(event: wstether.Event) -> str:
    """Every event class, handled by type."""
    if isinstance(event, wstether.Message):
        return f"message of {len(event.data)} {'chars' if isinstance(event.data, str) else 'bytes'}"
    if isinstance(event, wstether.Open):
        return f"open (attempt {event.attempt}, protocol {event.protocol})"
    if isinstance(event, wstether.Closed):
        return f"closed {event.code} by {event.initiator}; reconnect: {event.will_reconnect}"
    if isinstance(event, wstether.Reconnecting):
        return f"retry {event.attempt} in {event.delay:.2f}s because {event.cause.kind}"
    if isinstance(event, wstether.Failed):
        return f"gave up: {event.reason.message}; {len(event.unsent)} unsent"
    if isinstance(event, wstether.ErrorEvent):
        return f"{event.kind} error: {event.message}"
    if isinstance(event, wstether.Connecting):
        return f"connecting (attempt {event.attempt})"
    if isinstance(event, wstether.Pong):
        return f"pong after {event.rtt * 1000:.1f} ms"
    return f"state {event.state}"


def callbacks(url: str) -> List[Union[str, bytes]]:
    opened = threading.Event()
    client = wstether.Client(
        url,
        protocols=["chat"],
        headers={"X-Client": "typed-example"},
        auth=get_headers,
        backoff=wstether.Backoff(initial=0.5, max=10.0, factor=2.0, jitter=0.5),
        max_retries=None,
        heartbeat=wstether.Heartbeat(interval=30.0, timeout=10.0),
        outbox=wstether.Outbox(max_messages=100, max_bytes=1 << 16),
        greeting=["hello again"],
        connect_timeout=5.0,
    )
    client.on_open = lambda event: opened.set()
    client.on_message = lambda data: print("callback got", data)
    client.on_event = lambda event: print(describe(event))
    client.connect()
    status: wstether.SendStatus = client.send("hi")
    print("send:", status)
    opened.wait(5)
    stats: wstether.Stats = client.stats()
    print("attempts so far:", stats.attempts, "state:", client.state)
    try:
        client.send(b"\x00" * 10)
    except wstether.QueueFull:
        print("outbox full")
    except wstether.Error as exc:
        print("send refused:", exc)
    return client.close(1000, "bye")


async def asyncio_tour(url: str) -> None:
    async def async_headers() -> Dict[str, str]:
        await asyncio.sleep(0)
        return {"Authorization": "Bearer from-the-loop"}

    async with wstether.connect(url, auth=async_headers) as client:
        await client.send("hi")
        async for event in client:
            print(describe(event))
            if isinstance(event, wstether.Message):
                break
        reply: Union[str, bytes] = await client.recv() if False else "skipped"
        print(reply)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    target = sys.argv[1] if len(sys.argv) > 1 else "ws://127.0.0.1:8765/"
    print("unsent:", callbacks(target))
    asyncio.run(asyncio_tour(target))
