#!/usr/bin/env python3
"""permessage-deflate, pinned: wstether's Rust, Python and Node clients against python-websockets'
and ws's clients, every one against the same deflate-capable servers in one run.

Servers (each pinned to the server CPU, compression on, at their defaults): a python-websockets
server and a `ws` server (`perMessageDeflate: true`), both speaking the bench protocol
(`!blast`, `!sink`, echo; see README.md). Clients: one long-lived worker process per client,
pinned to the client CPU: wstether core (default compression, and `Compression::disabled()`),
wstether Python (asyncio), websockets, wstether Node and ws.

Per server, direction and message size (256 B, 2 KiB, 64 KiB of JSON):
  * receive: the server sends N messages (`!blast`), the client counts and checks them;
  * send: the client sends N messages with a bounded window (`!sink`), the server checks them;
  * N calibrated per client so a round takes at least --round-secs; rounds interleaved, the order
    reversed every other round. Per round: msg/s, the client's process CPU time over the round
    (measured in the worker: every thread, ns clock) and the server's (/proc ticks).
  * bytes on the wire: one more round per client through a counting TCP relay (untimed, since
    the relay adds a hop), minus the same round with N = 0, divided by N.

Standard library only. Raw rounds go to --json for bench/report.py.

  bench.py --payloads P.json --python VENV_PYTHON --rust-worker PATH [--node node]
           [--quick] [--unpinned] [--server-cpu 0] [--client-cpu 1] [--rounds 7]
           [--round-secs 0.6] [--clients a,b] [--servers websockets,ws] [--json PATH]
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

HERE = Path(__file__).resolve().parent
SIZES = (256, 2048, 65536)
DIRECTIONS = ("receive", "send")
# Display name -> how to start its worker (filled in from the arguments).
CLIENTS = ("wstether core", "wstether core (Compression::disabled())", "wstether Python asyncio",
           "websockets", "wstether Node", "ws")
# Not run by default (--clients): the default core client on wstether's shared runtime instead of
# the bench's own worker, which tells the cost of sharing the app's worker from compression's.
OPTIONAL_CLIENTS = ("wstether core (shared runtime)",)
SERVERS = ("websockets", "ws")
# Unacknowledged messages a sending client may have in flight: at most 512 KiB, 8 to 256
# messages, so no library's own buffers grow without bound; the server acks every quarter.
WINDOW_BYTES = 512 * 1024


def window(size: int) -> Tuple[int, int]:
    w = max(8, min(256, WINDOW_BYTES // size))
    return w, max(1, w // 4)


# ---------------------------------------------------------------------------- CPUs, processes


def thread_affinity(pid: int) -> Tuple[int, List[str]]:
    lists, threads = set(), 0
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


def cpu_secs(pid: int) -> float:
    """User + system CPU seconds of a process, every thread (USER_HZ ticks)."""
    with open(f"/proc/{pid}/stat") as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return (int(rest[11]) + int(rest[12])) / os.sysconf("SC_CLK_TCK")


def pinned(cmd: List[str], cpu: Optional[int]) -> List[str]:
    return cmd if cpu is None else ["taskset", "-c", str(cpu)] + cmd


class Proc:
    """A child that prints one JSON line when ready and then answers line by line."""

    def __init__(self, name: str, cmd: List[str], cpu: Optional[int], cwd: Optional[Path] = None):
        self.name, self.cpu = name, cpu
        self.proc = subprocess.Popen(pinned(cmd, cpu), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, cwd=cwd)
        self.hello = self.read()
        self.threads, self.cpus = 0, set()  # the most threads seen, every CPU list seen

    def read(self) -> Dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"compression bench: {self.name} exited (code {self.proc.poll()})")
        return json.loads(line)

    def ask(self, cmd: Dict[str, Any]) -> Dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        out = self.read()
        if not out.get("ok"):
            raise SystemExit(f"compression bench: {self.name}: {out.get('error')}")
        return out

    def sample(self) -> None:
        threads, cpus = thread_affinity(self.proc.pid)
        self.threads = max(self.threads, threads)
        self.cpus.update(cpus)

    def record(self, process: str) -> Dict[str, Any]:
        self.sample()
        rec: Dict[str, Any] = {"process": process, "pid": self.proc.pid, "threads": self.threads,
                               "cpus": sorted(self.cpus)}
        if self.cpu is not None:
            rec["expected"] = str(self.cpu)
            rec["ok"] = self.threads > 0 and sorted(self.cpus) == [str(self.cpu)]
        return rec

    def stop(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


# ---------------------------------------------------------------------------- counting relay


class Relay:
    """A TCP relay to one server that counts the bytes of each connection, both ways.

    Counts what crosses TCP between client and server: the upgrade, every frame header and
    mask, compressed payloads, control frames. It sees nothing of either library's own
    accounting, and every client and server goes through the same code."""

    def __init__(self, port: int) -> None:
        self.upstream = ("127.0.0.1", port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.done: List[Dict[str, int]] = []
        self.cond = threading.Condition()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                down, _ = self.listener.accept()
            except OSError:
                return
            self._relay(down, socket.create_connection(self.upstream))

    def _relay(self, down: socket.socket, up: socket.socket) -> None:
        """Copies both ways on two threads; records the counts once both directions ended."""
        for s in (down, up):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        counts = {"up": 0, "down": 0}
        left = [2]

        def pump(src: socket.socket, dst: socket.socket, key: str) -> None:
            try:
                while True:
                    data = src.recv(1 << 16)
                    if not data:
                        break
                    counts[key] += len(data)
                    dst.sendall(data)
            except OSError:
                pass
            try:
                dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            with self.cond:
                left[0] -= 1
                if left[0] == 0:
                    down.close()
                    up.close()
                    self.done.append(counts)
                    self.cond.notify_all()

        threading.Thread(target=pump, args=(down, up, "up"), daemon=True).start()
        threading.Thread(target=pump, args=(up, down, "down"), daemon=True).start()

    def finished(self, count: int, timeout: float = 15.0) -> Dict[str, int]:
        """The counts of the `count`-th connection, once both its directions have ended."""
        with self.cond:
            if not self.cond.wait_for(lambda: len(self.done) >= count, timeout):
                raise SystemExit("compression bench: a relayed connection did not end")
            return self.done[count - 1]

    def close(self) -> None:
        self.listener.close()


# ---------------------------------------------------------------------------- rounds


def op(direction: str, url: str, n: int, size: int) -> Dict[str, Any]:
    cmd: Dict[str, Any] = {"op": direction, "url": url, "n": n, "size": size}
    if direction == "send":
        cmd["window"], cmd["every"] = window(size)
    return cmd


def one_round(worker: Proc, server: Proc, direction: str, url: str, n: int,
              size: int) -> Dict[str, Any]:
    s0, w0 = cpu_secs(server.proc.pid), time.perf_counter()
    out = worker.ask(op(direction, url, n, size))
    wall = time.perf_counter() - w0
    out["server_busy"] = (cpu_secs(server.proc.pid) - s0) / wall
    worker.sample()
    return out


def calibrate(worker: Proc, server: Proc, direction: str, url: str, size: int, secs: float) -> int:
    """Warms the client up; returns a count whose round takes about `secs`."""
    n = 100
    while True:
        out = one_round(worker, server, direction, url, n, size)
        if out["secs"] >= secs / 10 or n >= 50_000_000:
            return max(100, int(n / out["secs"] * secs * 1.1))
        n *= 2


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--payloads", required=True)
    ap.add_argument("--python", required=True, help="the venv's python (wstether, websockets)")
    ap.add_argument("--rust-worker", required=True, help="wstether-bench-compression")
    ap.add_argument("--node", default="node")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--unpinned", action="store_true")
    ap.add_argument("--server-cpu", type=int, default=0)
    ap.add_argument("--client-cpu", type=int, default=1)
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--round-secs", type=float)
    ap.add_argument("--clients", default=",".join(CLIENTS))
    ap.add_argument("--servers", default=",".join(SERVERS))
    ap.add_argument("--sizes", default=",".join(map(str, SIZES)))
    ap.add_argument("--json")
    ap.add_argument("--idle", help=argparse.SUPPRESS)  # bench/run.sh passes it to every bench
    a = ap.parse_args()
    rounds = a.rounds or (3 if a.quick else 7)
    round_secs = a.round_secs or (0.1 if a.quick else 0.6)
    server_cpu = None if a.unpinned else a.server_cpu
    client_cpu = None if a.unpinned else a.client_cpu
    if server_cpu is not None and server_cpu == client_cpu:
        sys.exit("compression bench: --server-cpu and --client-cpu must differ")
    clients = [c for c in a.clients.split(",") if c]
    servers = [s for s in a.servers.split(",") if s]
    sizes = [int(s) for s in a.sizes.split(",") if s]
    for c in clients:
        if c not in CLIENTS + OPTIONAL_CLIENTS:
            sys.exit(f"compression bench: unknown client {c!r} "
                     f"(known: {', '.join(CLIENTS + OPTIONAL_CLIENTS)})")
    with open(a.payloads) as f:
        pool_len = {int(k): len(v) for k, v in json.load(f).items()}

    worker_cmd = {
        "wstether core": [a.rust_worker, "--client", "core", a.payloads],
        "wstether core (Compression::disabled())": [a.rust_worker, "--client", "core-disabled", a.payloads],
        "wstether core (shared runtime)": [a.rust_worker, "--client", "core-shared-runtime", a.payloads],
        "wstether Python asyncio": [a.python, str(HERE / "worker.py"), "--client", "wstether", a.payloads],
        "websockets": [a.python, str(HERE / "worker.py"), "--client", "websockets", a.payloads],
        "wstether Node": [a.node, str(HERE / "worker.mjs"), "--client", "wstether", a.payloads],
        "ws": [a.node, str(HERE / "worker.mjs"), "--client", "ws", a.payloads],
    }
    server_cmd = {
        "websockets": [a.python, str(HERE / "server_websockets.py"), a.payloads],
        "ws": [a.node, str(HERE / "server_ws.mjs"), a.payloads],
    }
    print("compression bench, " + (f"pinned: servers on CPU {server_cpu}, clients on CPU {client_cpu}"
                                    if server_cpu is not None else "UNPINNED (not comparable with pinned figures)"))
    print(f"{rounds} rounds of >= {round_secs} s per server, direction, size and client\n")

    started = time.time()
    workers = {c: Proc(c, worker_cmd[c], client_cpu, cwd=HERE) for c in clients}
    results: Dict[str, Any] = {}
    server_info: Dict[str, Any] = {}
    affinity: List[Dict[str, Any]] = []
    try:
        for sname in servers:
            server = Proc(f"{sname} server", server_cmd[sname], server_cpu, cwd=HERE)
            url = f"ws://127.0.0.1:{server.hello['port']}"
            server_info[sname] = {"library": server.hello["library"], "version": server.hello["version"]}
            per_server = results.setdefault(sname, {})
            relay = Relay(server.hello["port"])
            relayed = 0
            try:
                for direction in DIRECTIONS:
                    for size in sizes:
                        counts = {c: calibrate(workers[c], server, direction, url, size, round_secs)
                                  for c in clients}
                        rows: Dict[str, Dict[str, Any]] = {
                            c: {"count": counts[c], "msgs_per_s": [], "secs": [], "cpu_s": [],
                                "client_busy": [], "server_busy": []} for c in clients}
                        for r in range(rounds):
                            for c in (clients if r % 2 == 0 else clients[::-1]):
                                out = one_round(workers[c], server, direction, url, counts[c], size)
                                row = rows[c]
                                row["msgs_per_s"].append(counts[c] / out["secs"])
                                row["secs"].append(out["secs"])
                                row["cpu_s"].append(out["cpu_s"])
                                row["client_busy"].append(out["cpu_s"] / out["secs"])
                                row["server_busy"].append(out["server_busy"])
                                row["compression"] = out["compression"]
                                rate = counts[c] / out["secs"]
                                print(f"  {sname:<10} {direction:<7} {size:>5} B  round {r + 1}  {c:<40}"
                                      f" {rate:>9,.0f} msg/s {rate * size / 1e6:>7.1f} MB/s"
                                      f"  CPU {out['cpu_s'] / (counts[c] * size / 1e6) * 1e3:>6.2f} ms/MB"
                                      f"  server {out['server_busy'] * 100:>3.0f}% busy", flush=True)
                        # Bytes on the wire: the pool once through the relay, minus an empty round.
                        relay_url = f"ws://127.0.0.1:{relay.port}"
                        n_wire = pool_len[size]
                        for c in clients:
                            workers[c].ask(op(direction, relay_url, n_wire, size))
                            relayed += 1
                            full = relay.finished(relayed)
                            workers[c].ask(op(direction, relay_url, 0, size))
                            relayed += 1
                            empty = relay.finished(relayed)
                            rows[c]["wire"] = {
                                "n": n_wire,
                                "up_per_msg": (full["up"] - empty["up"]) / n_wire,
                                "down_per_msg": (full["down"] - empty["down"]) / n_wire,
                                "full": full, "empty": empty}
                            w = rows[c]["wire"]
                            print(f"  {sname:<10} {direction:<7} {size:>5} B  wire  {c:<40} "
                                  f"up {w['up_per_msg']:>8.1f} B/msg  down {w['down_per_msg']:>8.1f} B/msg"
                                  f"  ({rows[c]['compression']})", flush=True)
                        per_server.setdefault(direction, {})[str(size)] = rows
                affinity.append(server.record(f"{sname} server"))
            finally:
                relay.close()
                server.stop()
        for c, w in workers.items():
            affinity.append(w.record(f"client: {c}"))
    finally:
        for w in workers.values():
            w.stop()
    ok = all(r.get("ok") is not False for r in affinity)
    for r in affinity:
        print(f"  affinity  {r['process']:<50} {r['threads']:>3} threads on CPUs {','.join(r['cpus'])}"
              + ("" if r.get("ok") is not False else "  NOT CONFINED"))
    doc = {
        "layer": "compression",
        "title": "permessage-deflate: wstether vs python-websockets and ws, same deflate servers",
        "pinned": server_cpu is not None,
        "server_cpu": server_cpu,
        "client_cpu": client_cpu,
        "quick": a.quick,
        "rounds": rounds,
        "round_secs": round_secs,
        "started_unix": int(started),
        "sizes": sizes,
        "servers": server_info,
        "clients": {c: {"library": w.hello.get("library"), "version": w.hello.get("version")}
                    for c, w in workers.items()},
        "results": results,
        "affinity": affinity,
    }
    if a.json:
        with open(a.json, "w") as f:
            json.dump(doc, f, indent=2)
    if not ok:
        print("a thread was not confined to its CPU: these figures are not pinned", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
