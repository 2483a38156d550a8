#!/usr/bin/env python3
"""Prints the benches' results: one section per layer and one table of targets for all of them.

Every bench (core, python, node, kotlin, compression) writes a JSON file with its raw rounds;
this script is the one place that turns rounds into medians, ranges and ratios and checks them
against the targets of issue 13. The compression bench (issue 14, item 7) has no targets: its
table puts wstether next to python-websockets and ws on the same deflate servers. Standard
library only.

  report.py show FILE...                 sections and the target table
  report.py busy                         % of all CPUs busy over the next second, and loadavg
  report.py stamp FILE key=value...      records machine facts (load before/after) in FILE
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

KIB_TARGET = 24.0
SIZE_NAMES = {"64": "64 B", "65536": "64 KiB"}
# A machine busier than this (other processes, before or after the bench) makes a noisy run.
QUIET_BUSY_PCT = 10.0
# A server using this share of its CPU in a client's rounds was the bottleneck, not the client.
SERVER_BOUND_SHARE = 0.9
SERVER_BOUND = " (server-bound)"

# Per layer: the peer the targets are against, then rows
# (measure, size, subject, peer or None for the layer's peer, op, target).
# measure: "receive" (msg/s, higher is better), "rtt" (same-core p50, lower is better),
# "idle" (RSS KiB per idle client; the target is absolute, on the subject); "idle_more" (the
# same for n more clients with the first n still open, where a bench measures it: the JVM's).
LAYERS: Dict[str, Dict[str, Any]] = {
    "core": {
        "peer": "raw tokio-tungstenite",
        "rows": [
            ("receive", "64", "wstether next()", None, ">=", 0.9),
            ("receive", "65536", "wstether next()", None, ">=", 0.9),
            ("receive", "64", "wstether next_batch(1024)", None, ">=", 0.9),
            ("receive", "65536", "wstether next_batch(1024)", None, ">=", 0.9),
            ("rtt", "64", "wstether next()", None, None, None),
            ("idle", None, "wstether", None, "<=", KIB_TARGET),
        ],
    },
    "python": {
        "peer": "picows",
        "rows": [
            ("receive", "64", "wstether callbacks", None, ">=", 1.0),
            ("receive", "65536", "wstether callbacks", None, ">=", 1.0),
            ("receive", "64", "wstether asyncio", None, ">=", 1.0),
            ("receive", "65536", "wstether asyncio", None, None, None),
            ("receive", "64", "wstether asyncio", "websockets", None, None),
            ("receive", "65536", "wstether asyncio", "websockets", None, None),
            ("rtt", "64", "wstether callbacks", None, None, None),
            ("rtt", "64", "wstether asyncio", None, None, None),
            ("idle", None, "wstether callbacks", None, "<=", KIB_TARGET),
            ("idle", None, "wstether asyncio", None, "<=", KIB_TARGET),
        ],
    },
    "node": {
        "peer": "ws",
        "rows": [
            ("receive", "64", "wstether", None, ">=", 1.0),
            ("receive", "65536", "wstether", None, ">=", 1.0),
            ("receive", "64", "wstether", "partysocket", None, None),
            ("receive", "64", "wstether", "reconnecting-websocket", None, None),
            ("rtt", "64", "wstether", None, "<=", 1.1),
            ("idle", None, "wstether", None, "<=", KIB_TARGET),
        ],
    },
    "kotlin": {
        "peer": "okhttp",
        "rows": [
            ("receive", "64", "wstether listener", None, ">=", 1.0),
            ("receive", "65536", "wstether listener", None, ">=", 1.0),
            ("receive", "64", "wstether Flow", None, None, None),
            ("receive", "65536", "wstether Flow", None, None, None),
            ("rtt", "64", "wstether listener", None, None, None),
            ("idle", None, "wstether listener", None, "<=", KIB_TARGET),
            ("idle_more", None, "wstether listener", None, "<=", KIB_TARGET),
        ],
    },
}
ORDER = ["core", "python", "node", "kotlin", "compression"]

# The compression bench: (wstether client, the client it is compared with), every pair measured
# against the same server in the same run. The last pair shows what enabling compression costs
# (and saves on the wire) against a server that accepts it.
COMPRESSION_OFF = "wstether core (Compression::disabled())"
COMPRESSION_PAIRS = [
    ("wstether core", "websockets"),
    ("wstether core", "ws"),
    ("wstether Python asyncio", "websockets"),
    ("wstether Node", "ws"),
    ("wstether core", COMPRESSION_OFF),
    ("wstether core", "wstether core (shared runtime)"),  # only with --clients naming it
]
COMPRESSION_SIZES = {"256": "256 B", "2048": "2 KiB", "65536": "64 KiB"}


def median(v: Sequence[float]) -> float:
    return statistics.median(v) if v else float("nan")


def rate_text(msgs: float, size: int) -> str:
    return f"{msgs / 1e6:.2f} M/s" if msgs >= 1e5 else f"{msgs / 1e3:.1f} k/s"


def mb_text(msgs: float, size: int) -> str:
    return f"{msgs * size / 1e6:,.0f} MB/s"


def cpu_per_msg(c: Dict[str, Any]) -> str:
    """Median CPU time per message of the client process and of the server, in ns: less moved by
    a busy machine than msg/s (a process that gets half a CPU still spends the same per message)."""
    rates = c.get("msgs_per_s", [])
    out = []
    for key in ("client_busy", "server_busy"):
        busy = c.get(key)
        if not busy or len(busy) != len(rates):
            return ""
        out.append(median([b / r * 1e9 for b, r in zip(busy, rates) if r]))
    return f"{out[0]:,.0f}, {out[1]:,.0f}"


def paired(a: Sequence[float], b: Sequence[float]) -> List[float]:
    """Ratios of rounds run side by side (round i of a over round i of b)."""
    return [x / y for x, y in zip(a, b) if y]


def met(value: float, op: Optional[str], target: Optional[float]) -> str:
    if op is None or target is None or value != value:
        return "—"
    ok = value >= target if op == ">=" else value <= target
    return "yes" if ok else "NO"


def affinity_lines(doc: Dict[str, Any]) -> Tuple[List[str], bool]:
    lines, ok = [], True
    for a in doc.get("affinity", []):
        cpus = ",".join(a.get("cpus", [])) or "?"
        flag = ""
        if a.get("ok") is False:
            ok, flag = False, f"  NOT CONFINED (expected CPU {a.get('expected')})"
        lines.append(f"  {a.get('process', '?'):<30} pid {a.get('pid', '?'):<8} "
                     f"{a.get('threads', '?'):>4} threads, CPUs {cpus}{flag}")
    return lines, ok


def section(doc: Dict[str, Any]) -> None:
    layer = doc["layer"]
    peer = LAYERS[layer]["peer"]
    mode = (f"pinned: server CPU {doc.get('server_cpu')}, client CPU {doc.get('client_cpu')}"
            if doc.get("pinned") else "UNPINNED: not comparable with pinned figures")
    print(f"\n== {doc.get('title', layer)} ({mode})")
    print(f"   {doc.get('rounds')} interleaved rounds of >= {doc.get('round_secs')} s; "
          f"{'quick (smoke) run' if doc.get('quick') else 'full run'}")
    for size, clients in doc.get("throughput", {}).items():
        n = int(size)
        base = clients.get(peer, {}).get("msgs_per_s", [])
        print(f"\n   receive {SIZE_NAMES.get(size, size + ' B')}:"
              f"{'':<18}{'median':>11}{'':>12}{'range (msg/s)':>22}  {'vs ' + peer:>18}"
              f"  server busy  CPU ns/msg client, server")
        for name, c in clients.items():
            r = c.get("msgs_per_s", [])
            ratio = ""
            if name != peer and base:
                pr = paired(r, base)
                ratio = (f"{median(r) / median(base):.2f}x "
                         f"({min(pr):.2f}-{max(pr):.2f})") if pr else ""
            busy = c.get("server_busy")
            busy_text = f"{median(busy) * 100:.0f}%" if busy else ""
            print(f"     {name:<32}{rate_text(median(r), n):>11}{mb_text(median(r), n):>12}"
                  f"{(f'{min(r):,.0f}-{max(r):,.0f}' if r else ''):>22}  {ratio:>18}  {busy_text:>11}"
                  f"  {cpu_per_msg(c):>22}")
    rtt = doc.get("rtt_same_core", {})
    if rtt:
        label = "same-core round trip" if doc.get("pinned") else "round trip (UNPINNED, not same-core)"
        base50 = rtt.get(peer, {}).get("p50_us", [])
        print(f"\n   {label}, 64 B:{'':<8}{'p50 µs':>10}{'p99 µs':>10}{'p50 range':>16}  {'vs ' + peer:>18}")
        for name, c in rtt.items():
            p50, p99 = c.get("p50_us", []), c.get("p99_us", [])
            ratio = ""
            if name != peer and base50:
                pr = paired(p50, base50)
                ratio = f"{median(p50) / median(base50):.2f}x ({min(pr):.2f}-{max(pr):.2f})" if pr else ""
            rng = f"{min(p50):.1f}-{max(p50):.1f}" if p50 else ""
            print(f"     {name:<32}{median(p50):>10.1f}{median(p99):>10.1f}{rng:>16}  {ratio:>18}")
    idle = doc.get("idle", {})
    if idle:
        n = next(iter(idle.values())).get("clients", "?")
        print(f"\n   idle open clients ({n} each, fresh process per library): KiB per client")
        for name, c in idle.items():
            heap = c.get("heap_kib")
            total = c.get("rss_kib", float("nan"))
            if "native_rss_kib" in c:  # the JVM: pre-touched heap, so RSS growth is native only
                print(f"     {name:<32} {total:>7.1f} = native RSS {c['native_rss_kib']:.1f} "
                      f"+ live Java heap {heap:.1f}")
                if c.get("more_rss_kib") is not None:
                    print(f"     {name + f' ({n} more)':<32} {c['more_rss_kib']:>7.1f} = native RSS "
                          f"{c['more_native_rss_kib']:.1f} + live Java heap {c['more_heap_kib']:.1f}")
                continue
            heap_text = f"   (heap {heap:.1f})" if isinstance(heap, (int, float)) else ""
            print(f"     {name:<32} {total:>7.1f} RSS{heap_text}")
    lines, _ = affinity_lines(doc)
    if lines:
        print("\n   thread affinity, read from /proc while running:")
        print("\n".join("   " + l for l in lines))


def rows(doc: Dict[str, Any]) -> List[List[str]]:
    layer = doc["layer"]
    spec = LAYERS[layer]
    out = []
    for measure, size, subject, peer, op, target in spec["rows"]:
        peer = peer or spec["peer"]
        if measure == "receive":
            clients = doc.get("throughput", {}).get(size, {})
            if subject not in clients or peer not in clients:
                continue
            a, b = clients[subject]["msgs_per_s"], clients[peer]["msgs_per_s"]
            n = int(size)
            ratio = median(a) / median(b)
            pr = paired(a, b)
            # A server near a full CPU caps the faster client: the ratio is then understated.
            busy = max(median(clients[c].get("server_busy") or [0.0]) for c in (subject, peer))
            capped = SERVER_BOUND if busy >= SERVER_BOUND_SHARE else ""
            out.append([layer, f"receive {SIZE_NAMES[size]}", subject, peer,
                        f"{rate_text(median(a), n)} {mb_text(median(a), n)}",
                        f"{rate_text(median(b), n)} {mb_text(median(b), n)}",
                        f"{ratio:.2f}x ({min(pr):.2f}-{max(pr):.2f})",
                        f"{op} {target}x" if op else "—", met(ratio, op, target) + capped])
        elif measure == "rtt":
            rtt = doc.get("rtt_same_core", {})
            if subject not in rtt or peer not in rtt:
                continue
            a, b = median(rtt[subject]["p50_us"]), median(rtt[peer]["p50_us"])
            label = "same-core p50 64 B" if doc.get("pinned") else "p50 64 B (unpinned)"
            out.append([layer, label, subject, peer, f"{a:.1f} µs", f"{b:.1f} µs",
                        f"{a / b:.2f}x", f"{op} {target}x" if op else "—", met(a / b, op, target)])
        elif measure in ("idle", "idle_more"):
            idle = doc.get("idle", {})
            key = "rss_kib" if measure == "idle" else "more_rss_kib"
            if subject not in idle or idle[subject].get(key) is None:
                continue
            a = idle[subject][key]
            b = idle.get(peer, {}).get(key)
            b = float("nan") if b is None else b
            label = "idle memory/client" if measure == "idle" else "idle, n more/client"
            out.append([layer, label, subject, peer, f"{a:.1f} KiB", f"{b:.1f} KiB",
                        f"{a / b:.2f}x" if b == b and b else "—",
                        f"{op} {target:g} KiB", met(a, op, target)])
    return out


def cpu_ms_per_mb(c: Dict[str, Any], size: int) -> float:
    """Median client CPU time (every thread of its process) per MB (10^6 B) of payload, in ms."""
    cpu, count = c.get("cpu_s", []), c.get("count", 0)
    if not cpu or not count:
        return float("nan")
    return median([x / (count * size / 1e6) * 1e3 for x in cpu])


def wire_per_msg(c: Dict[str, Any], direction: str) -> float:
    """Bytes on the wire per message in the direction the payload went (receive: down)."""
    w = c.get("wire") or {}
    return w.get("down_per_msg" if direction == "receive" else "up_per_msg", float("nan"))


def wire_text(c: Dict[str, Any], direction: str, size: int) -> str:
    b = wire_per_msg(c, direction)
    return "—" if b != b else f"{b:,.0f} B ({b / size:.0%})"


def compression_section(doc: Dict[str, Any]) -> None:
    mode = (f"pinned: server CPU {doc.get('server_cpu')}, client CPU {doc.get('client_cpu')}"
            if doc.get("pinned") else "UNPINNED: not comparable with pinned figures")
    print(f"\n== {doc.get('title', 'compression')} ({mode})")
    print(f"   {doc.get('rounds')} interleaved rounds of >= {doc.get('round_secs')} s; "
          f"{'quick (smoke) run' if doc.get('quick') else 'full run'}")
    servers = ", ".join(f"{k} server: {v.get('library')} {v.get('version')}"
                        for k, v in doc.get("servers", {}).items())
    clients = ", ".join(f"{v.get('library')} {v.get('version')}" for v in doc.get("clients", {}).values())
    print(f"   {servers}\n   clients: {clients}")
    for server, directions in doc.get("results", {}).items():
        negotiated: Dict[str, str] = {}
        for direction, sizes in directions.items():
            for size, clients_ in sizes.items():
                n = int(size)
                print(f"\n   {server} server, {direction} {COMPRESSION_SIZES.get(size, size + ' B')}:"
                      f"{'':<14}{'median':>11}{'':>11}{'range (msg/s)':>20}{'CPU ms/MB':>11}"
                      f"{'server busy':>13}  wire per message (of payload)")
                for name, c in clients_.items():
                    r = c.get("msgs_per_s", [])
                    busy = c.get("server_busy")
                    negotiated.setdefault(name, c.get("compression") or "none (uncompressed)")
                    print(f"     {name:<40}{rate_text(median(r), n):>11}{mb_text(median(r), n):>11}"
                          f"{(f'{min(r):,.0f}-{max(r):,.0f}' if r else ''):>20}"
                          f"{cpu_ms_per_mb(c, n):>11.2f}"
                          f"{(f'{median(busy) * 100:.0f}%' if busy else ''):>13}  {wire_text(c, direction, n)}")
        print(f"\n   negotiated with the {server} server:")
        for name, ext in negotiated.items():
            print(f"     {name:<40} {ext}")
    lines, _ = affinity_lines(doc)
    if lines:
        print("\n   thread affinity, read from /proc while running:")
        print("\n".join("   " + l for l in lines))


def compression_rows(doc: Dict[str, Any]) -> List[List[str]]:
    """One row per server, direction, size and pair: msg/s, CPU per MB and wire bytes, as
    wstether's figure, the peer's and their ratio."""
    out = []
    for server, directions in doc.get("results", {}).items():
        for direction, sizes in directions.items():
            for size, clients in sizes.items():
                n = int(size)
                for subject, peer in COMPRESSION_PAIRS:
                    if subject not in clients or peer not in clients:
                        continue
                    a, b = clients[subject], clients[peer]
                    ra, rb = a["msgs_per_s"], b["msgs_per_s"]
                    pr = paired(ra, rb)
                    busy = max(median(c.get("server_busy") or [0.0]) for c in (a, b))
                    capped = SERVER_BOUND if busy >= SERVER_BOUND_SHARE else ""
                    ca, cb = cpu_ms_per_mb(a, n), cpu_ms_per_mb(b, n)
                    wa, wb = wire_per_msg(a, direction), wire_per_msg(b, direction)
                    out.append([
                        server, f"{direction} {COMPRESSION_SIZES.get(size, size + ' B')}", subject,
                        "same, disabled()" if peer == COMPRESSION_OFF else peer,
                        f"{rate_text(median(ra), n)}", f"{rate_text(median(rb), n)}",
                        f"{median(ra) / median(rb):.2f}x ({min(pr):.2f}-{max(pr):.2f}){capped}" if pr else "—",
                        f"{ca:.2f} / {cb:.2f}", f"{ca / cb:.2f}x" if cb == cb and cb else "—",
                        f"{wa:,.0f} / {wb:,.0f}" if wa == wa and wb == wb else "—",
                    ])
    return out


def print_table(head: List[str], table: List[List[str]]) -> None:
    widths = [max(len(str(r[i])) for r in table + [head]) for i in range(len(head))]
    line = "  ".join("-" * w for w in widths)
    print("  ".join(h.ljust(w) for h, w in zip(head, widths)))
    print(line)
    for r in table:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)))
    print(line)


def machine_notes(docs: List[Dict[str, Any]]) -> List[str]:
    notes = []
    for d in docs:
        m = d.get("machine", {})
        before, after = m.get("busy_before"), m.get("busy_after")
        if before is None:
            continue
        noisy = max(float(before), float(after or 0)) > QUIET_BUSY_PCT
        notes.append(f"{d['layer']}: machine {before}% busy in the second before, {after}% after; "
                     f"loadavg {m.get('loadavg_before', '?')} -> {m.get('loadavg_after', '?')}"
                     + ("  NOISY" if noisy else ""))
    return notes


def show(paths: List[str]) -> int:
    docs = []
    for p in paths:
        try:
            with open(p) as f:
                docs.append(json.load(f))
        except (OSError, ValueError) as e:
            print(f"report: cannot read {p}: {e}", file=sys.stderr)
    docs.sort(key=lambda d: ORDER.index(d["layer"]) if d.get("layer") in ORDER else 99)
    for d in docs:
        if d.get("layer") == "compression":
            compression_section(d)
        else:
            section(d)
    table = [r for d in docs if d.get("layer") != "compression" for r in rows(d)]
    ctable = [r for d in docs if d.get("layer") == "compression" for r in compression_rows(d)]
    for d in docs:
        if not d.get("pinned"):  # no verdict from an unpinned run
            for r in table:
                if r[0] == d["layer"] and r[-1] != "—":
                    r[-1] = "n/a (unpinned)"
    if not table and not ctable:
        return 1
    if table:
        print("\n\n== targets (issue 13, item 4)")
        print_table(["layer", "measure", "wstether client", "peer", "wstether", "peer",
                     "ratio (paired range)", "target", "met?"], table)
    if ctable:
        print("\n\n== compression (issue 14, item 7): permessage-deflate on both sides unless "
              "disabled(), same server, same run; no targets")
        print_table(["server", "measure", "wstether client", "peer", "wstether", "peer",
                     "msg/s ratio (paired range)", "CPU ms/MB", "CPU ratio",
                     "wire B/msg"], ctable)
        print("CPU ms/MB: client CPU time (every thread of its process) per MB of payload, "
              "wstether / peer; lower is better.")
        print("wire B/msg: bytes through a counting TCP relay per message in the payload's "
              "direction (frames, masks, compressed payload), wstether / peer.")
    unpinned = [d["layer"] for d in docs if not d.get("pinned")]
    quick = [d["layer"] for d in docs if d.get("quick")]
    confined = all(affinity_lines(d)[1] for d in docs)
    notes = machine_notes(docs)
    print("ratios: median over median; in brackets the range of ratios of rounds run side by side.")
    if any(SERVER_BOUND in r[-1] for r in table):
        print(f"(server-bound): the server used >= {SERVER_BOUND_SHARE:.0%} of its CPU in those rounds, "
              "so the faster client was held back and the ratio is closer to 1 than the clients are.")
    for n in notes:
        print(n)
    warnings = []
    if unpinned:
        warnings.append(f"UNPINNED ({', '.join(unpinned)}): not comparable with pinned figures")
    if quick:
        warnings.append(f"SMOKE RUN (--quick: {', '.join(quick)}): short rounds, not a measurement")
    if any("NOISY" in n for n in notes):
        warnings.append(f"NOISY MACHINE (> {QUIET_BUSY_PCT:g}% busy around the run): not a result")
    if not confined:
        warnings.append("a thread ran outside its CPU: not a pinned run")
    for w in warnings:
        print(f"*** {w}")
    if not warnings:
        print("pinned, full-length run on a quiet machine.")
    return 0


def cpu_times() -> Tuple[int, int]:
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields[:8]), idle


def busy() -> int:
    t0, i0 = cpu_times()
    time.sleep(1.0)
    t1, i1 = cpu_times()
    pct = 100.0 * (1 - (i1 - i0) / max(1, t1 - t0))
    with open("/proc/loadavg") as f:
        load = f.read().split()[0]
    print(f"{pct:.0f} {load}")
    return 0


def stamp(path: str, pairs: List[str]) -> int:
    with open(path) as f:
        doc = json.load(f)
    machine = doc.setdefault("machine", {})
    for p in pairs:
        key, _, value = p.partition("=")
        machine[key] = value
    with open(path, "w") as f:
        json.dump(doc, f, indent=2)
    return 0


def main(argv: List[str]) -> int:
    if len(argv) >= 2 and argv[0] == "show":
        return show(argv[1:])
    if argv == ["busy"]:
        return busy()
    if len(argv) >= 2 and argv[0] == "stamp":
        return stamp(argv[1], argv[2:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
