"""fork(): the child gets working new clients; the parent's clients act closed there (never
writing into the parent's socket) and do not hold up the child's exit; the parent carries on."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from .conftest import Server

pytestmark = [
    pytest.mark.timeout(30),
    pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork() on this platform"),
]

SCRIPT = textwrap.dedent(
    """
    import os, sys, threading, time, warnings, wstether
    warnings.simplefilter("ignore", DeprecationWarning)  # fork() with threads running
    url = sys.argv[1]
    opened, echoed = threading.Event(), threading.Event()
    parent = wstether.Client(url, on_open=lambda e: opened.set(),
                             on_message=lambda m: m == "parent echo" and echoed.set())
    parent.connect()
    assert opened.wait(5)
    pid = os.fork()
    if pid == 0:
        assert parent.state == "closed", parent.state
        try:
            parent.send("from the child")
            sys.exit(11)
        except wstether.ClientClosed:
            pass
        got = threading.Event()
        child = wstether.Client(url, on_message=lambda m: m == "child echo" and got.set())
        child.connect()
        child.send("child echo")
        sys.exit(0 if got.wait(5) else 12)   # atexit runs: it must not hang on `parent`
    deadline = time.monotonic() + 10
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            sys.exit("the forked child hung")
        time.sleep(0.02)
    assert os.waitstatus_to_exitcode(status) == 0, os.waitstatus_to_exitcode(status)
    parent.send("parent echo")
    assert echoed.wait(5), "the parent's link broke"
    parent.close()
    print("done", flush=True)
    """
)


def test_forked_child_uses_new_clients_and_exits_and_the_parent_carries_on(server: Server) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, server.url], capture_output=True, text=True, timeout=25
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "done" in proc.stdout
    assert "from the child" not in server.stats()["received"]
