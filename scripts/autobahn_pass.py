"""Helper of scripts/autobahn.sh: run one pass of kosoku's fuzzing server against the client, or
tally the verdicts of every pass.

  autobahn_pass.py --reports DIR [--include GLOB]... [--exclude GLOB]... -- CLIENT [ARGS]...
  autobahn_pass.py --tally DIR [--elapsed SECONDS] [--allow-unimplemented]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

# Verdicts in the order the tally prints them; the first three pass.
BEHAVIOURS = ["OK", "NON-STRICT", "INFORMATIONAL", "FAILED", "UNIMPLEMENTED"]
PASSING = {"OK", "NON-STRICT", "INFORMATIONAL"}
CLOSE_PASSING = {"OK", "INFORMATIONAL"}
# A whole pass (the 9.x and 12.x performance cases included) must end well within this.
PASS_TIMEOUT = 600


def run_pass(reports: Path, includes: list[str], excludes: list[str], client: list[str]) -> int:
    kosoku = Path(sys.executable).with_name("kosoku")
    cmd = [str(kosoku), "-m", "fuzzingserver", "127.0.0.1:0", "-o", str(reports)]
    for glob in includes:
        cmd += ["--include", glob]
    for glob in excludes:
        cmd += ["--exclude", glob]
    server = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # kosoku binds port 0 and names the real port on its first stderr line.
        line = server.stderr.readline()
        found = re.search(r"ws://([0-9.]+:\d+)", line)
        if not found:
            print(f"kosoku did not start: {line}{server.stderr.read()}", file=sys.stderr)
            return 1
        url = f"ws://{found.group(1)}"
        started = time.monotonic()
        client_rc = subprocess.run(client + [url], timeout=PASS_TIMEOUT).returncode
        # The server writes the reports and exits once the client asked for /updateReports.
        remaining = max(10.0, PASS_TIMEOUT - (time.monotonic() - started))
        out, err = server.communicate(timeout=remaining)
    except subprocess.TimeoutExpired:
        print(f"pass did not finish within {PASS_TIMEOUT}s", file=sys.stderr)
        return 1
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    if client_rc != 0:
        print(f"the client exited with {client_rc}", file=sys.stderr)
        return 1
    if not (reports / "index.json").exists():
        print(f"kosoku wrote no index.json:\n{out}{err}", file=sys.stderr)
        return 1
    return 0


def case_key(case_id: str) -> list[int]:
    return [int(p) for p in case_id.split(".")]


def verdict(result: dict) -> str:
    """A case's behaviour, FAILED when the exchange passed but the closing handshake did not."""
    behaviour = result["behavior"]
    if behaviour == "ERROR":
        return "FAILED"
    if behaviour in PASSING and result.get("behaviorClose") not in CLOSE_PASSING:
        return "FAILED"
    return behaviour


def tally(root: Path, elapsed: str | None, allow_unimplemented: bool) -> int:
    results: dict[str, dict] = {}
    for index in sorted(root.glob("*/index.json")):
        for agent_results in json.loads(index.read_text()).values():
            for case_id, result in agent_results.items():
                result["dir"] = index.parent
                results[case_id] = result
    if not results:
        print(f"no results under {root}", file=sys.stderr)
        return 1
    groups: dict[str, Counter] = defaultdict(Counter)
    bad: list[tuple[str, str, dict]] = []
    for case_id in sorted(results, key=case_key):
        result = results[case_id]
        v = verdict(result)
        groups[case_id.split(".")[0]][v] += 1
        if v not in PASSING:
            bad.append((case_id, v, result))

    width = max(len(b) for b in BEHAVIOURS)
    print("\ngroup  " + "  ".join(b.rjust(width) for b in BEHAVIOURS) + "  total")
    total: Counter = Counter()
    for group in sorted(groups, key=int):
        counts = groups[group]
        total.update(counts)
        row = "  ".join(str(counts[b]).rjust(width) for b in BEHAVIOURS)
        print(f"{group:>5}  {row}  {sum(counts.values()):>5}")
    row = "  ".join(str(total[b]).rjust(width) for b in BEHAVIOURS)
    print(f"{'all':>5}  {row}  {sum(total.values()):>5}")
    passed = sum(total[b] for b in PASSING)
    print(f"\n{passed} of {len(results)} cases pass (OK, NON-STRICT or INFORMATIONAL)")
    if elapsed:
        print(f"run time {elapsed}s")

    failing = [c for c in bad if c[1] != "UNIMPLEMENTED" or not allow_unimplemented]
    for case_id, v, result in failing[:40]:
        detail = case_detail(result)
        print(f"  {case_id}: {v} ({detail})")
    if len(failing) > 40:
        print(f"  ... and {len(failing) - 40} more (see {root})")
    return 1 if failing else 0


def case_detail(result: dict) -> str:
    """The report's own words for why a case did not pass."""
    try:
        case = json.loads((result["dir"] / result["reportfile"]).read_text())
    except (OSError, KeyError, ValueError):
        return f"behavior {result['behavior']}, close {result.get('behaviorClose')}"
    words = case.get("result", "")
    if case.get("behaviorClose") not in CLOSE_PASSING:
        words += f"; close {case.get('behaviorClose')}: {case.get('resultClose', '')}"
    return words.strip("; ")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reports", type=Path)
    parser.add_argument("--include", action="append", default=[])
    parser.add_argument("--exclude", action="append", default=[])
    parser.add_argument("--tally", type=Path)
    parser.add_argument("--elapsed")
    parser.add_argument("--allow-unimplemented", action="store_true")
    parser.add_argument("client", nargs="*")
    args = parser.parse_args()
    if args.tally:
        return tally(args.tally, args.elapsed, args.allow_unimplemented)
    if not args.reports or not args.client:
        parser.error("give --reports DIR and the client command after --")
    os.makedirs(args.reports, exist_ok=True)
    return run_pass(args.reports, args.include, args.exclude, args.client)


if __name__ == "__main__":
    sys.exit(main())
