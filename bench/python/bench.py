"""wstether (callback and asyncio APIs) against picows and websockets, pinned.

The testkit servers (`wstether-testd`, release) run under `taskset` on their own CPU; this
process pins itself to the client CPU before any thread exists, so every thread wstether or a
peer starts later shares that one CPU, as in a busy app. Measured, for every library:
  * receive: `!blast N SIZE` at 64 B and 64 KiB, counted until `!blast-done`; interleaved rounds
    of at least --round-secs each (N is calibrated per library);
  * same-core round trip: 64 B echoes against a second server pinned to the client's CPU;
  * idle memory: N open idle clients in a fresh process per library, RSS growth per client.
Raw rounds go to --json for bench/report.py. --extra adds aiohttp and websocket-client.

  python bench.py [--quick] [--unpinned] [--server-cpu 0] [--client-cpu 1] [--rounds 7]
                  [--round-secs 0.6] [--idle 1000] [--only NAME] [--extra] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import glob
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
SIZES = (64, 64 * 1024)
DEADLINE = 120.0


# ---------------------------------------------------------------------------- CPUs and servers


def thread_affinity(pid: int) -> Tuple[int, List[str]]:
    """Threads of `pid` and the distinct CPU lists they may run on, from /proc."""
    lists = set()
    threads = 0
    for status in glob.glob(f"/proc/{pid}/task/*/status"):
        try:
            with open(status) as f:
                for line in f:
                    if line.startswith("Cpus_allowed_list:"):
                        lists.add(line.split(":", 1)[1].strip())
                        threads += 1
        except OSError:
            pass  # the thread ended meanwhile
    return threads, sorted(lists)


def affinity_record(process: str, pid: int, expected: Optional[int]) -> Dict[str, Any]:
    threads, cpus = thread_affinity(pid)
    rec: Dict[str, Any] = {"process": process, "pid": pid, "threads": threads, "cpus": cpus}
    if expected is not None:
        rec["expected"] = str(expected)
        rec["ok"] = threads > 0 and cpus == [str(expected)]
    return rec


class Sampler:
    """Reads this process's threads' affinity while clients are open (their threads exist)."""

    def __init__(self) -> None:
        self.threads = 0
        self.cpus: set = set()

    def sample(self) -> None:
        threads, cpus = thread_affinity(os.getpid())
        self.threads = max(self.threads, threads)
        self.cpus.update(cpus)

    def record(self, expected: Optional[int]) -> Dict[str, Any]:
        rec: Dict[str, Any] = {"process": "client (most threads seen)", "pid": os.getpid(),
                               "threads": self.threads, "cpus": sorted(self.cpus)}
        if expected is not None:
            rec["expected"] = str(expected)
            rec["ok"] = self.threads > 0 and sorted(self.cpus) == [str(expected)]
        return rec


SAMPLER = Sampler()


def cpu_secs(pid: int) -> float:
    """User + system CPU seconds of a process, all threads (USER_HZ ticks)."""
    with open(f"/proc/{pid}/stat") as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return (int(rest[11]) + int(rest[12])) / os.sysconf("SC_CLK_TCK")


def testd_path() -> str:
    if os.environ.get("WSTETHER_TESTD"):
        return os.environ["WSTETHER_TESTD"]
    p = REPO / "target" / "release" / "wstether-testd"
    if p.exists():
        return str(p)
    sys.exit("build the testkit first: cargo build --release -p wstether-testkit --bin wstether-testd")


class Server:
    """A wstether-testd with one test server, pinned to `cpu` (None: anywhere)."""

    def __init__(self, cpu: Optional[int]) -> None:
        cmd = [testd_path()]
        if cpu is not None:
            cmd = ["taskset", "-c", str(cpu)] + cmd
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert self.proc.stdout is not None
        port = json.loads(self.proc.stdout.readline())["control"]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/server/start", data=b"") as r:
            self.url: str = json.load(r)["url"]
        self.cpu = cpu

    def stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(10)


def check_blast(name: str, count: int, n: int, first: str, size: int) -> None:
    if count != n or not first.startswith("0:") or len(first) != max(size, 2):
        raise RuntimeError(f"{name}: expected {n} messages of {size} B starting with '0:', "
                           f"got {count} (first {len(first)} B: {first[:8]!r})")


# ---------------------------------------------------------------------------- wstether


def wstether_callback_receive(url: str, n: int, size: int) -> float:
    import wstether

    done = threading.Event()
    opened = threading.Event()
    state: Dict[str, Any] = {"count": 0, "first": "", "t1": 0.0}

    def on_message(msg: Any) -> None:
        if msg == "!blast-done":
            state["t1"] = time.perf_counter()
            done.set()
            return
        if not state["count"]:
            state["first"] = msg
        state["count"] += 1

    client = wstether.Client(url, heartbeat=None, handshake_budget=None,
                             on_open=lambda e: opened.set(), on_message=on_message)
    client.connect()
    if not opened.wait(10):
        raise RuntimeError("wstether callbacks: did not open")
    t0 = time.perf_counter()
    client.send(f"!blast {n} {size}")
    if not done.wait(DEADLINE):
        raise RuntimeError("wstether callbacks: blast did not finish")
    SAMPLER.sample()
    client.close()
    check_blast("wstether callbacks", state["count"], n, state["first"], size)
    return n / (state["t1"] - t0)


def wstether_callback_echo(url: str, trips: int) -> List[float]:
    import wstether

    done = threading.Event()
    opened = threading.Event()
    lat: List[float] = []
    sent_at = [0.0]

    def on_message(msg: Any) -> None:
        lat.append(time.perf_counter() - sent_at[0])
        if len(lat) == trips:
            done.set()
            return
        sent_at[0] = time.perf_counter()
        client.send(PAYLOAD)

    client = wstether.Client(url, heartbeat=None, handshake_budget=None,
                             on_open=lambda e: opened.set(), on_message=on_message)
    client.connect()
    if not opened.wait(10):
        raise RuntimeError("wstether callbacks: did not open")
    sent_at[0] = time.perf_counter()
    client.send(PAYLOAD)
    if not done.wait(DEADLINE):
        raise RuntimeError("wstether callbacks: echo did not finish")
    SAMPLER.sample()
    client.close()
    return lat


async def wstether_open(url: str) -> Any:
    import wstether

    client = await wstether.connect(url, heartbeat=None, handshake_budget=None)
    async for event in client:
        if isinstance(event, wstether.Open):
            return client
    raise RuntimeError("wstether asyncio: ended before Open")


async def wstether_asyncio_receive(url: str, n: int, size: int) -> float:
    import wstether

    client = await wstether_open(url)
    t0 = time.perf_counter()
    await client.send(f"!blast {n} {size}")
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
    SAMPLER.sample()
    await client.close()
    check_blast("wstether asyncio", count, n, first, size)
    return n / (t1 - t0)


async def wstether_asyncio_echo(url: str, trips: int) -> List[float]:
    client = await wstether_open(url)
    lat = []
    for _ in range(trips):
        t0 = time.perf_counter()
        await client.send(PAYLOAD)
        await client.recv()
        lat.append(time.perf_counter() - t0)
    SAMPLER.sample()
    await client.close()
    return lat


# ---------------------------------------------------------------------------- picows


async def picows_receive(url: str, n: int, size: int) -> float:
    import picows

    loop = asyncio.get_running_loop()
    done = loop.create_future()
    state = {"count": 0, "first": ""}

    class Listener(picows.WSListener):  # type: ignore[misc]
        def on_ws_frame(self, transport: Any, frame: Any) -> None:
            if frame.msg_type != picows.WSMsgType.TEXT:
                return
            msg = frame.get_payload_as_ascii_text()
            if msg == "!blast-done":
                done.set_result(time.perf_counter())
                return
            if not state["count"]:
                state["first"] = msg
            state["count"] += 1

    transport, _ = await picows.ws_connect(Listener, url, max_frame_size=1 << 24)
    t0 = time.perf_counter()
    transport.send(picows.WSMsgType.TEXT, f"!blast {n} {size}".encode())
    t1 = await asyncio.wait_for(done, DEADLINE)
    transport.disconnect()
    await transport.wait_disconnected()
    check_blast("picows", state["count"], n, state["first"], size)  # type: ignore[arg-type]
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
    await asyncio.wait_for(done, DEADLINE)
    transport.disconnect()
    await transport.wait_disconnected()
    return lat


# ---------------------------------------------------------------------------- websockets


async def websockets_receive(url: str, n: int, size: int) -> float:
    import websockets

    async with websockets.connect(url, max_size=None, compression=None, ping_interval=None) as ws:
        t0 = time.perf_counter()
        await ws.send(f"!blast {n} {size}")
        count, first = 0, ""
        async for msg in ws:
            if msg == "!blast-done":
                break
            if not count:
                first = msg  # type: ignore[assignment]
            count += 1
        t1 = time.perf_counter()
    check_blast("websockets", count, n, first, size)
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


# ---------------------------------------------------------------------------- extras (--extra)


async def aiohttp_receive(url: str, n: int, size: int) -> float:
    import aiohttp

    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(url, max_msg_size=0, autoping=False) as ws:
            t0 = time.perf_counter()
            await ws.send_str(f"!blast {n} {size}")
            count, first = 0, ""
            async for msg in ws:
                data = msg.data
                if data == "!blast-done":
                    break
                if not count:
                    first = data
                count += 1
            t1 = time.perf_counter()
    check_blast("aiohttp", count, n, first, size)
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


def websocket_client_receive(url: str, n: int, size: int) -> float:
    import websocket

    ws = websocket.create_connection(url, enable_multithread=False)
    t0 = time.perf_counter()
    ws.send(f"!blast {n} {size}")
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
    check_blast("websocket-client", count, n, first, size)
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


# ---------------------------------------------------------------------------- idle clients


async def idle_open_all(kind: str, url: str, n: int) -> List[Any]:
    """Opens n idle clients of `kind` on the running loop; returns what keeps them alive."""
    if kind == "wstether asyncio":
        import wstether

        out = []
        for _ in range(n):
            c = await wstether.connect(url, handshake_budget=None)
            async for event in c:
                if isinstance(event, wstether.Open):
                    break
            out.append(c)
        return out
    if kind == "picows":
        import picows

        return [await picows.ws_connect(picows.WSListener, url) for _ in range(n)]
    if kind == "websockets":
        import websockets

        return [await websockets.connect(url) for _ in range(n)]
    raise ValueError(kind)


def idle_callbacks(url: str, n: int) -> List[Any]:
    import wstether

    opened = threading.Semaphore(0)
    clients = []
    for _ in range(n):
        c = wstether.Client(url, handshake_budget=None, on_open=lambda e: opened.release())
        c.connect()
        clients.append(c)
    for _ in range(n):
        if not opened.acquire(timeout=DEADLINE):
            raise RuntimeError("wstether callbacks: idle clients did not all open")
    return clients


def rss_kib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return float(line.split()[1])
    return float("nan")


def idle_child(kind: str, n: int, url: str) -> None:
    """Fresh process: one client opened and closed first (imports, runtime, loop warm), then
    n idle clients; prints RSS growth per client and this process's threads' affinity."""
    loop = asyncio.new_event_loop() if kind != "wstether callbacks" else None
    if loop is not None:
        warm = loop.run_until_complete(idle_open_all(kind, url, 1))
        for c in warm:
            if kind == "picows":
                c[0].disconnect()
            else:
                loop.run_until_complete(c.close())
    else:
        for c in idle_callbacks(url, 1):
            c.close()
    gc.collect()
    time.sleep(0.1)
    before = rss_kib()
    if loop is not None:
        keep = loop.run_until_complete(idle_open_all(kind, url, n))
        loop.run_until_complete(asyncio.sleep(0.2))
    else:
        keep = idle_callbacks(url, n)
        time.sleep(0.2)
    gc.collect()
    after = rss_kib()
    rec = affinity_record(f"idle child ({kind})", os.getpid(), None)
    print(json.dumps({"clients": n, "rss_kib": (after - before) / n, "affinity": rec}), flush=True)
    del keep
    os._exit(0)  # the server sees the connections drop


def idle_in_child(kind: str, n: int, url: str, cpu: Optional[int]) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    out = subprocess.run([sys.executable, __file__, "--idle-child", kind, "--idle", str(n), "--url", url],
                         stdout=subprocess.PIPE, text=True, timeout=600)
    lines = out.stdout.strip().splitlines()
    if out.returncode != 0 or not lines:
        raise RuntimeError(f"idle child {kind} failed ({out.returncode}): {out.stdout[-500:]}")
    figures = json.loads(lines[-1])
    rec = figures.pop("affinity")
    if cpu is not None:
        rec["expected"] = str(cpu)
        rec["ok"] = rec["threads"] > 0 and rec["cpus"] == [str(cpu)]
    return figures, rec


# ---------------------------------------------------------------------------- driver

# name, receive, echo, idle-capable, extra
Case = Tuple[str, Callable[..., Any], Callable[..., Any], bool, bool]
CASES: List[Case] = [
    ("wstether callbacks", wstether_callback_receive, wstether_callback_echo, True, False),
    ("wstether asyncio", wstether_asyncio_receive, wstether_asyncio_echo, True, False),
    ("picows", picows_receive, picows_echo, True, False),
    ("websockets", websockets_receive, websockets_echo, True, False),
    ("aiohttp", aiohttp_receive, aiohttp_echo, False, True),
    ("websocket-client", websocket_client_receive, websocket_client_echo, False, True),
]


def run(fn: Callable[..., Any], *args: Any) -> Any:
    if asyncio.iscoroutinefunction(fn):
        return asyncio.run(fn(*args))
    return fn(*args)


def percentile(v: List[float], p: float) -> float:
    v = sorted(v)
    return v[int((len(v) - 1) * p)]


def calibrate(receive: Callable[..., Any], url: str, size: int, secs: float) -> int:
    """Warms a library up and returns a count whose blast takes about `secs`."""
    n = 1000
    while True:
        rate = run(receive, url, n, size)
        if n / rate >= secs / 10 or n >= 50_000_000:
            return max(1000, int(rate * secs * 1.1))
        n *= 2


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="smoke run: short rounds")
    ap.add_argument("--unpinned", action="store_true", help="no CPU pinning (figures not comparable)")
    ap.add_argument("--server-cpu", type=int, default=0)
    ap.add_argument("--client-cpu", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=0)
    ap.add_argument("--round-secs", type=float, default=0.0)
    ap.add_argument("--idle", type=int, default=0)
    ap.add_argument("--only", default="", help="run only libraries whose name contains this")
    ap.add_argument("--extra", action="store_true", help="also aiohttp and websocket-client")
    ap.add_argument("--json", default="")
    ap.add_argument("--idle-child", default="")
    ap.add_argument("--url", default="")
    args = ap.parse_args()
    if args.idle_child:
        return idle_child(args.idle_child, args.idle, args.url)
    rounds = args.rounds or (3 if args.quick else 7)
    round_secs = args.round_secs or (0.1 if args.quick else 0.6)
    idle_n = args.idle or (200 if args.quick else 1000)
    server_cpu: Optional[int] = None if args.unpinned else args.server_cpu
    client_cpu: Optional[int] = None if args.unpinned else args.client_cpu
    if client_cpu is not None:
        if server_cpu == client_cpu:
            sys.exit("--server-cpu and --client-cpu must differ")
        # Before any thread exists: every thread started later inherits this CPU.
        os.sched_setaffinity(0, {client_cpu})
    cases = [c for c in CASES if (args.extra or not c[4]) and (not args.only or args.only in c[0])]

    far, near = Server(server_cpu), Server(client_cpu)
    mode = (f"pinned: server on CPU {server_cpu}, client on CPU {client_cpu}; same-core server on "
            f"CPU {client_cpu}" if client_cpu is not None else "UNPINNED (not comparable with pinned figures)")
    print(f"python bench, {mode}\n{rounds} rounds of >= {round_secs} s per library and size; "
          f"{idle_n} idle clients\n", flush=True)
    throughput: Dict[str, Dict[str, Any]] = {}
    rtt: Dict[str, Any] = {}
    idle: Dict[str, Any] = {}
    affinity: List[Dict[str, Any]] = []
    try:
        for size in SIZES:
            per: Dict[str, Any] = {}
            counts = {name: calibrate(rx, far.url, size, round_secs) for name, rx, _, _, _ in cases}
            for r in range(rounds):
                order = cases if r % 2 == 0 else list(reversed(cases))
                for name, rx, _, _, _ in order:
                    s0, c0, t0 = cpu_secs(far.proc.pid), cpu_secs(os.getpid()), time.perf_counter()
                    rate = run(rx, far.url, counts[name], size)
                    wall = time.perf_counter() - t0
                    sb, cb = (cpu_secs(far.proc.pid) - s0) / wall, (cpu_secs(os.getpid()) - c0) / wall
                    c = per.setdefault(name, {"count": counts[name], "msgs_per_s": [],
                                              "server_busy": [], "client_busy": []})
                    c["msgs_per_s"].append(rate)
                    c["server_busy"].append(sb)
                    c["client_busy"].append(cb)
                    print(f"  {size:>5} B  round {r + 1}  {name:<20} {rate:>10,.0f} msg/s "
                          f"{rate * size / 1e6:>8.1f} MB/s  server {sb * 100:3.0f}% client {cb * 100:3.0f}% busy",
                          flush=True)
            throughput[str(size)] = per

        trips = {}
        for name, _, echo, _, _ in cases:
            p50 = statistics.median(run(echo, near.url, 200))
            trips[name] = int(min(50_000, max(200, round_secs / p50)))
        for r in range(rounds):
            order = cases if r % 2 == 0 else list(reversed(cases))
            for name, _, echo, _, _ in order:
                lat = run(echo, near.url, trips[name])
                p50, p99 = percentile(lat, 0.5) * 1e6, percentile(lat, 0.99) * 1e6
                c = rtt.setdefault(name, {"trips": trips[name], "p50_us": [], "p99_us": []})
                c["p50_us"].append(p50)
                c["p99_us"].append(p99)
                print(f"  same-core round trip  round {r + 1}  {name:<20} p50 {p50:7.1f} µs  p99 {p99:7.1f} µs",
                      flush=True)

        affinity.append(SAMPLER.record(client_cpu))
        affinity.append(affinity_record("server", far.proc.pid, server_cpu))
        affinity.append(affinity_record("same-core server", near.proc.pid, client_cpu))
        for name, _, _, can_idle, _ in cases:
            if not can_idle:
                continue
            figures, rec = idle_in_child(name, idle_n, far.url, client_cpu)
            idle[name] = figures
            affinity.append(rec)
            print(f"  idle  {name:<20} {figures['rss_kib']:7.1f} KiB RSS per client", flush=True)
    finally:
        far.stop()
        near.stop()

    for a in affinity:
        bad = "  NOT CONFINED" if a.get("ok") is False else ""
        print(f"  affinity  {a['process']:<36} {a['threads']:>4} threads on CPUs {','.join(a['cpus'])}{bad}")
    doc = {
        "layer": "python",
        "title": f"Python {sys.version.split()[0]}: wstether callbacks and asyncio vs picows, websockets",
        "peer": "picows",
        "pinned": client_cpu is not None,
        "server_cpu": server_cpu,
        "client_cpu": client_cpu,
        "quick": args.quick,
        "rounds": rounds,
        "round_secs": round_secs,
        "throughput": throughput,
        "rtt_same_core": rtt,
        "idle": idle,
        "affinity": affinity,
    }
    if args.json:
        Path(args.json).write_text(json.dumps(doc, indent=2))
    if any(a.get("ok") is False for a in affinity):
        sys.exit("a thread was not confined to its CPU: these figures are not pinned")


if __name__ == "__main__":
    main()
