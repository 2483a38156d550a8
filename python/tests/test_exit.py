"""A process that leaves clients open exits cleanly and promptly (atexit closes them first)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest

from .conftest import Server

pytestmark = pytest.mark.timeout(30)

SCRIPT = textwrap.dedent(
    """
    import asyncio, sys, threading, wstether
    url = sys.argv[1]
    opened = threading.Event()
    c = wstether.Client(url, heartbeat=wstether.Heartbeat(interval=0.2, timeout=0.2),
                        on_open=lambda e: opened.set(), on_message=lambda m: None)
    c.connect()
    assert opened.wait(5)
    c.send("left open")
    idle = wstether.Client(url)  # never connected
    waiting = wstether.Client("ws://127.0.0.1:9/", backoff=wstether.Backoff(initial=0.05, max=0.1))
    waiting.connect()             # retrying against a closed port

    async def main():
        a = await wstether.connect(url)
        await a.send("async left open")
        async for e in a:
            if isinstance(e, wstether.Open):
                break
    asyncio.run(main())          # the loop is closed with the client still open
    print("done", flush=True)
    """
)


def test_process_with_open_clients_exits_cleanly(server: Server) -> None:
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, server.url], capture_output=True, text=True, timeout=15
    )
    elapsed = time.monotonic() - start
    assert proc.returncode == 0, proc.stderr
    assert "done" in proc.stdout
    assert "Traceback" not in proc.stderr and "panic" not in proc.stderr, proc.stderr
    assert elapsed < 5, elapsed
    # Both connected clients sent a close frame: the callback one from the atexit hook (1000),
    # the async one when it was collected after its loop ended (1001) or at exit (1000).
    assert server("wait_connections", n=0)["ok"]
    codes = server.stats()["close_codes"]
    assert len(codes) == 2 and set(codes) <= {1000, 1001}, codes
