"""The compression bench's Python clients: wstether's asyncio API and python-websockets.

One process per client (`--client wstether|websockets`), started pinned by bench.py and kept
for the whole run, so imports, the event loop and wstether's runtime are warm and no other
library's threads or garbage share its CPU time. It reads one JSON command per line on stdin
and answers one JSON line on stdout (the protocol is in bench/compression/README.md):

  {"op": "receive", "url": U, "n": N, "size": S}                  !blast, timed to !blast-done
  {"op": "send", "url": U, "n": N, "size": S, "window": W, "every": K}
                                                                  !sink, at most W unacknowledged
  -> {"ok": true, "secs": wall, "cpu_s": process CPU, "compression": negotiated or null}

Both clients keep their compression defaults: wstether offers 12-bit windows both ways;
websockets offers client_max_window_bits with memLevel 5. Keepalive pings are off in both.

  python worker.py --client NAME PAYLOADS.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any, Dict, List, Optional, Tuple

DEADLINE = 120.0


class Link:
    """What a round needs from a client: send text, next text message, close."""

    compression: Optional[str]

    def send(self, text: str) -> Any: ...

    async def recv(self) -> str: ...

    async def close(self) -> None: ...


class Tether(Link):
    async def open(self, url: str) -> "Tether":
        import wstether

        self._Message = wstether.Message
        self.client = await wstether.connect(url, heartbeat=None, handshake_budget=None)
        async for event in self.client:
            if isinstance(event, wstether.Open):
                self.compression = event.compression
                return self
        raise RuntimeError("wstether: ended before Open")

    def send(self, text: str) -> Any:
        return self.client.send_nowait(text)

    async def recv(self) -> str:
        return await self.client.recv()  # type: ignore[no-any-return]

    async def close(self) -> None:
        await self.client.close()


class Websockets(Link):
    async def open(self, url: str) -> "Websockets":
        import websockets

        # compression="deflate" is the default; max_size lifted for 64 KiB and more.
        self.ws = await websockets.connect(url, max_size=None, ping_interval=None)
        self.compression = self.ws.response.headers.get("Sec-WebSocket-Extensions")
        return self

    def send(self, text: str) -> Any:
        return self.ws.send(text)  # a coroutine: it waits while the socket's buffer is full

    async def recv(self) -> str:
        return await self.ws.recv()  # type: ignore[no-any-return]

    async def close(self) -> None:
        await self.ws.close()


def cpu() -> float:
    return time.process_time()  # every thread of this process, nanosecond clock


async def opened(kind: str, url: str, pool: List[str]) -> Link:
    link: Link = await (Tether().open(url) if kind == "wstether" else Websockets().open(url))
    # One echo first: the server inflated what we compressed and we inflate what it sent back.
    sent = link.send(pool[0])
    if asyncio.iscoroutine(sent):
        await sent
    echo = await link.recv()
    if echo != pool[0]:
        raise RuntimeError(f"{kind}: the echo differs from what was sent ({len(echo)} B)")
    return link


async def receive(kind: str, url: str, n: int, size: int, pool: List[str]) -> Dict[str, Any]:
    link = await opened(kind, url, pool)
    c0, t0 = cpu(), time.perf_counter()
    sent = link.send(f"!blast {n} {size}")
    if asyncio.iscoroutine(sent):
        await sent
    count, bad, first = 0, 0, ""
    while True:
        msg = await link.recv()
        if msg == "!blast-done":
            break
        if not count:
            first = msg
        if len(msg) != size:
            bad += 1
        count += 1
    t1, c1 = time.perf_counter(), cpu()
    await link.close()
    if count != n or bad or (n and first != pool[0]):
        raise RuntimeError(f"{kind}: expected {n} messages of {size} B, got {count} ({bad} of another "
                           f"size, first one from the pool: {first == pool[0]})")
    return {"secs": t1 - t0, "cpu_s": c1 - c0, "compression": link.compression}


async def send(kind: str, url: str, n: int, size: int, window: int, every: int,
               pool: List[str]) -> Dict[str, Any]:
    link = await opened(kind, url, pool)
    c0, t0 = cpu(), time.perf_counter()
    first = link.send(f"!sink {n} {size} {every}")
    if asyncio.iscoroutine(first):
        await first
    sent, acked, done = 0, 0, None
    while done is None:
        while sent < n and sent - acked < window:
            s = link.send(pool[sent % len(pool)])
            if asyncio.iscoroutine(s):
                await s
            sent += 1
        msg = await link.recv()
        if msg.startswith("!ack "):
            acked = int(msg.split()[1])
        elif msg.startswith("!sink-done"):
            done = msg
        else:
            raise RuntimeError(f"{kind}: the server said {msg[:80]!r}")
    t1, c1 = time.perf_counter(), cpu()
    await link.close()
    if done.split()[1:] != [str(n), str(n * size)]:
        raise RuntimeError(f"{kind}: the server counted {done!r}, expected {n} messages of {size} B")
    return {"secs": t1 - t0, "cpu_s": c1 - c0, "compression": link.compression}


def version(kind: str) -> Tuple[str, str]:
    if kind == "wstether":
        from importlib.metadata import version as installed

        return "wstether (Python, asyncio)", installed("wstether")
    import websockets

    return "websockets", websockets.__version__


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--client", choices=["wstether", "websockets"], required=True)
    ap.add_argument("payloads")
    args = ap.parse_args()
    with open(args.payloads) as f:
        pools = {int(k): v for k, v in json.load(f).items()}
    loop = asyncio.new_event_loop()
    name, ver = version(args.client)
    print(json.dumps({"ok": True, "library": name, "version": ver}), flush=True)
    for line in sys.stdin:
        cmd = json.loads(line)
        try:
            if cmd["op"] == "receive":
                work = receive(args.client, cmd["url"], cmd["n"], cmd["size"], pools[cmd["size"]])
            else:
                work = send(args.client, cmd["url"], cmd["n"], cmd["size"], cmd["window"],
                            cmd["every"], pools[cmd["size"]])
            out = loop.run_until_complete(asyncio.wait_for(work, DEADLINE))
            out["ok"] = True
        except Exception as e:  # reported to the driver, which fails the run loudly
            out = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
