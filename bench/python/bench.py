"""wstether (callback and asyncio APIs) against websockets, websocket-client, picows and aiohttp.

Same testkit server for every library, one library at a time, in this process:
  * receive: the server sends `!blast N 64` (N 64-byte text messages, then `!blast-done`);
    we count messages until `!blast-done` and report messages per second;
  * echo: R sequential round trips of a 64-byte text message; p50/p99 latency.
Each measurement runs `--repeat` times and the best run is kept (less scheduler noise on a
shared machine). Usage: python bench.py [--messages 200000] [--trips 10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

REPO = Path(__file__).resolve().parents[2]
PAYLOAD = "x" * 64


# ---------------------------------------------------------------------------- the server


def testd_path() -> str:
    if os.environ.get("WSTETHER_TESTD"):
        return os.environ["WSTETHER_TESTD"]
    for profile in ("release", "debug"):
        p = REPO / "target" / profile / "wstether-testd"
        if p.exists():
            return str(p)
    sys.exit("build the testkit first: cargo build --release -p wstether-testkit --bin wstether-testd")


def start_server() -> Tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([testd_path()], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdout is not None
    port = json.loads(proc.stdout.readline())["control"]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/server/start", data=b"") as r:
        return proc, json.load(r)["url"]


def check_blast(count: int, n: int, first: str) -> None:
    if count != n or not first.startswith("0:"):
        raise RuntimeError(f"expected {n} messages starting with '0:', got {count} ({first[:8]!r})")


# ---------------------------------------------------------------------------- wstether


def wstether_callback_receive(url: str, n: int) -> float:
    import wstether

    done = threading.Event()
    opened = threading.Event()
    state = {"count": 0, "first": "", "t0": 0.0, "t1": 0.0}

    def on_message(msg: Any) -> None:
        if msg == "!blast-done":
            state["t1"] = time.perf_counter()
            done.set()
            return
        if not state["count"]:
            state["first"] = msg
        state["count"] += 1

    client = wstether.Client(url, heartbeat=None, on_open=lambda e: opened.set())
    client.on_message = on_message
    client.connect()
    opened.wait(5)
    state["t0"] = time.perf_counter()
    client.send(f"!blast {n} 64")
    if not done.wait(120):
        raise RuntimeError("wstether callback: blast did not finish")
    client.close()
    check_blast(state["count"], n, state["first"])
    return n / (state["t1"] - state["t0"])


def wstether_callback_echo(url: str, trips: int) -> List[float]:
    import wstether

    done = threading.Event()
    opened = threading.Event()
    lat: List[float] = []
    sent_at = [0.0]

    def on_message(msg: Any) -> None:
        now = time.perf_counter()
        lat.append(now - sent_at[0])
        if len(lat) == trips:
            done.set()
            return
        sent_at[0] = time.perf_counter()
        client.send(PAYLOAD)

    client = wstether.Client(url, heartbeat=None, on_open=lambda e: opened.set(), on_message=on_message)
    client.connect()
    opened.wait(5)
    sent_at[0] = time.perf_counter()
    client.send(PAYLOAD)
    if not done.wait(120):
        raise RuntimeError("wstether callback: echo did not finish")
    client.close()
    return lat


async def wstether_asyncio_receive(url: str, n: int) -> float:
    import wstether

    async with wstether.connect(url, heartbeat=None) as client:
        async for event in client:
            if isinstance(event, wstether.Open):
                break
        t0 = time.perf_counter()
        await client.send(f"!blast {n} 64")
        count, first = 0, ""
        Message = wstether.Message
        async for event in client:
            if type(event) is Message:
                data = event.data
                if data == "!blast-done":
                    break
                if not count:
                    first = data  # type: ignore[assignment]
                count += 1
        t1 = time.perf_counter()
    check_blast(count, n, first)
    return n / (t1 - t0)


async def wstether_asyncio_echo(url: str, trips: int) -> List[float]:
    import wstether

    lat = []
    async with wstether.connect(url, heartbeat=None) as client:
        async for event in client:
            if isinstance(event, wstether.Open):
                break
        for _ in range(trips):
            t0 = time.perf_counter()
            await client.send(PAYLOAD)
            await client.recv()
            lat.append(time.perf_counter() - t0)
    return lat


# ---------------------------------------------------------------------------- websockets


async def websockets_receive(url: str, n: int) -> float:
    import websockets

    async with websockets.connect(url, max_size=None, compression=None, ping_interval=None) as ws:
        t0 = time.perf_counter()
        await ws.send(f"!blast {n} 64")
        count, first = 0, ""
        async for msg in ws:
            if msg == "!blast-done":
                break
            if not count:
                first = msg  # type: ignore[assignment]
            count += 1
        t1 = time.perf_counter()
    check_blast(count, n, first)
    return n / (t1 - t0)


async def websockets_echo(url: str, trips: int) -> List[float]:
    import websockets

    lat = []
    async with websockets.connect(url, compression=None, ping_interval=None) as ws:
        for _ in range(trips):
            t0 = time.perf_counter()
            await ws.send(PAYLOAD)
            await ws.recv()
            lat.append(time.perf_counter() - t0)
    return lat


# ---------------------------------------------------------------------------- websocket-client


def websocket_client_receive(url: str, n: int) -> float:
    import websocket

    ws = websocket.create_connection(url, enable_multithread=False)
    t0 = time.perf_counter()
    ws.send(f"!blast {n} 64")
    count, first = 0, ""
    while True:
        msg = ws.recv()
        if msg == "!blast-done":
            break
        if not count:
            first = msg
        count += 1
    t1 = time.perf_counter()
    ws.close()
    check_blast(count, n, first)
    return n / (t1 - t0)


def websocket_client_echo(url: str, trips: int) -> List[float]:
    import websocket

    ws = websocket.create_connection(url, enable_multithread=False)
    lat = []
    for _ in range(trips):
        t0 = time.perf_counter()
        ws.send(PAYLOAD)
        ws.recv()
        lat.append(time.perf_counter() - t0)
    ws.close()
    return lat


# ---------------------------------------------------------------------------- picows


async def picows_receive(url: str, n: int) -> float:
    import picows

    loop = asyncio.get_running_loop()
    done = loop.create_future()
    state = {"count": 0, "first": ""}

    class Listener(picows.WSListener):  # type: ignore[misc]
        def on_ws_frame(self, transport: Any, frame: Any) -> None:
            if frame.msg_type != picows.WSMsgType.TEXT:
                return
            if not state["count"]:
                msg = frame.get_payload_as_ascii_text()
                if msg == "!blast-done":
                    done.set_result(time.perf_counter())
                    return
                state["first"] = msg
                state["count"] += 1
                return
            # The cheap check picows users write: look at the payload length first.
            if frame.payload_size == 11 and frame.get_payload_as_ascii_text() == "!blast-done":
                done.set_result(time.perf_counter())
                return
            frame.get_payload_as_ascii_text()
            state["count"] += 1

    transport, _ = await picows.ws_connect(Listener, url, max_frame_size=1 << 24)
    t0 = time.perf_counter()
    transport.send(picows.WSMsgType.TEXT, f"!blast {n} 64".encode())
    t1 = await asyncio.wait_for(done, 120)
    transport.disconnect()
    await transport.wait_disconnected()
    check_blast(state["count"], n, state["first"])
    return n / (t1 - t0)


async def picows_echo(url: str, trips: int) -> List[float]:
    import picows

    loop = asyncio.get_running_loop()
    done = loop.create_future()
    lat: List[float] = []
    sent_at = [0.0]
    payload = PAYLOAD.encode()

    class Listener(picows.WSListener):  # type: ignore[misc]
        def on_ws_frame(self, transport: Any, frame: Any) -> None:
            lat.append(time.perf_counter() - sent_at[0])
            if len(lat) == trips:
                done.set_result(None)
                return
            sent_at[0] = time.perf_counter()
            transport.send(picows.WSMsgType.TEXT, payload)

    transport, _ = await picows.ws_connect(Listener, url)
    sent_at[0] = time.perf_counter()
    transport.send(picows.WSMsgType.TEXT, payload)
    await asyncio.wait_for(done, 120)
    transport.disconnect()
    await transport.wait_disconnected()
    return lat


# ---------------------------------------------------------------------------- aiohttp


async def aiohttp_receive(url: str, n: int) -> float:
    import aiohttp

    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(url, max_msg_size=0, autoping=False) as ws:
            t0 = time.perf_counter()
            await ws.send_str(f"!blast {n} 64")
            count, first = 0, ""
            async for msg in ws:
                data = msg.data
                if data == "!blast-done":
                    break
                if not count:
                    first = data
                count += 1
            t1 = time.perf_counter()
    check_blast(count, n, first)
    return n / (t1 - t0)


async def aiohttp_echo(url: str, trips: int) -> List[float]:
    import aiohttp

    lat = []
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(url, autoping=False) as ws:
            for _ in range(trips):
                t0 = time.perf_counter()
                await ws.send_str(PAYLOAD)
                await ws.receive()
                lat.append(time.perf_counter() - t0)
    return lat


# ---------------------------------------------------------------------------- driver

Case = Tuple[str, Callable[..., Any], Callable[..., Any]]
CASES: List[Case] = [
    ("wstether (callbacks)", wstether_callback_receive, wstether_callback_echo),
    ("wstether (asyncio)", wstether_asyncio_receive, wstether_asyncio_echo),
    ("picows", picows_receive, picows_echo),
    ("websockets", websockets_receive, websockets_echo),
    ("aiohttp", aiohttp_receive, aiohttp_echo),
    ("websocket-client", websocket_client_receive, websocket_client_echo),
]


def run(fn: Callable[..., Any], *args: Any) -> Any:
    if asyncio.iscoroutinefunction(fn):
        return asyncio.run(fn(*args))
    return fn(*args)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=200_000)
    ap.add_argument("--trips", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", default="")
    ap.add_argument("--json", default="")
    args = ap.parse_args()

    proc, url = start_server()
    results: Dict[str, Dict[str, Optional[float]]] = {}
    try:
        for name, receive, echo in CASES:
            if args.only and args.only not in name:
                continue
            try:
                rate = max(run(receive, url, args.messages) for _ in range(args.repeat))
                lats = min((run(echo, url, args.trips) for _ in range(args.repeat)),
                           key=lambda l: statistics.median(l))
                lats.sort()
                results[name] = {
                    "msgs_per_s": rate,
                    "p50_us": statistics.median(lats) * 1e6,
                    "p99_us": lats[int(len(lats) * 0.99) - 1] * 1e6,
                }
            except ImportError as exc:
                print(f"{name}: skipped ({exc})")
                continue
            r = results[name]
            print(f"{name:22} receive {r['msgs_per_s']:>10,.0f} msg/s   echo p50 {r['p50_us']:7.1f} us"
                  f"   p99 {r['p99_us']:7.1f} us", flush=True)
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(10)

    def ratio(a: str, b: str, key: str) -> Optional[float]:
        if a in results and b in results:
            return results[a][key] / results[b][key]  # type: ignore[operator]
        return None

    print("\nTargets:")
    checks = [
        ("callback receive vs picows", ratio("wstether (callbacks)", "picows", "msgs_per_s"), 1.0, "≥"),
        ("asyncio receive vs websockets", ratio("wstether (asyncio)", "websockets", "msgs_per_s"), 3.0, "≥"),
        ("asyncio p50 RTT vs websockets", ratio("wstether (asyncio)", "websockets", "p50_us"), 1.0, "≤"),
        ("callback p50 RTT vs websockets", ratio("wstether (callbacks)", "websockets", "p50_us"), 1.0, "≤"),
    ]
    for label, value, target, op in checks:
        if value is None:
            print(f"  {label:34} n/a")
            continue
        ok = value >= target if op == "≥" else value <= target
        print(f"  {label:34} {value:5.2f}x  (target {op} {target}x)  {'met' if ok else 'MISSED'}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
