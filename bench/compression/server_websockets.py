"""The compression bench's python-websockets server (permessage-deflate on, its defaults).

Listens on 127.0.0.1 (an ephemeral port), prints one JSON line with the port, library and
version, and serves until stdin closes. Run it pinned (`taskset -c 0`): it is single-threaded
(asyncio). Every connection speaks the bench protocol (see bench/compression/README.md):

  !blast N SIZE    sends the first N messages of the SIZE pool (wrapping), then "!blast-done"
  !sink N SIZE K   reads N messages, checks each against the pool, answers "!ack COUNT" after
                   every K and "!sink-done N BYTES" after the last ("!sink-error ..." on a bad one)
  anything else    echoed

  python server_websockets.py PAYLOADS.json
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any, Dict, List

import websockets
from websockets.asyncio.server import serve


def load(path: str) -> Dict[int, List[str]]:
    with open(path) as f:
        return {int(k): v for k, v in json.load(f).items()}


async def main(path: str) -> None:
    pools = load(path)

    async def handler(ws: Any) -> None:
        sink = None  # [expected, size, every, count, bytes] while a sink runs
        async for msg in ws:
            if sink is not None:
                n, size, every, count, total = sink
                pool = pools[size]
                if msg != pool[count % len(pool)]:
                    await ws.send(f"!sink-error message {count} differs from the pool")
                    sink = None
                    continue
                count += 1
                total += len(msg)
                if count == n:
                    await ws.send(f"!sink-done {count} {total}")
                    sink = None
                    continue
                if count % every == 0:
                    await ws.send(f"!ack {count}")
                sink = [n, size, every, count, total]
                continue
            if isinstance(msg, str) and msg.startswith("!blast "):
                _, n, size = msg.split()
                pool = pools[int(size)]
                for i in range(int(n)):
                    await ws.send(pool[i % len(pool)])
                await ws.send("!blast-done")
            elif isinstance(msg, str) and msg.startswith("!sink "):
                _, n, size, every = msg.split()
                if int(n) == 0:
                    await ws.send("!sink-done 0 0")
                else:
                    sink = [int(n), int(size), int(every), 0, 0]
            else:
                await ws.send(msg)

    # Defaults but the limits a bench must lift: compression="deflate" is websockets' default
    # (12-bit windows both ways, memLevel 5); no keepalive pings; no 1 MiB message cap.
    async with serve(handler, "127.0.0.1", 0, max_size=None, ping_interval=None) as server:
        port = server.sockets[0].getsockname()[1]
        print(json.dumps({"port": port, "library": "websockets", "version": websockets.__version__}),
              flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
