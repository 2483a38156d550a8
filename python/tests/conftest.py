"""Shared fixtures: the testkit daemon (`wstether-testd`) as a subprocess, and event recorders.

Every test talks to real sockets on 127.0.0.1; waits have deadlines, never bare sleeps.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional

import pytest

import wstether

REPO = Path(__file__).resolve().parents[2]


def testd_path() -> str:
    override = os.environ.get("WSTETHER_TESTD")
    if override:
        return override
    for profile in ("debug", "release"):
        p = REPO / "target" / profile / "wstether-testd"
        if p.exists():
            return str(p)
    raise RuntimeError("build it first: cargo build -p wstether-testkit --bin wstether-testd")


class Testd:
    """The control API of a running wstether-testd."""

    def __init__(self) -> None:
        # stdin stays an open pipe: the daemon exits when it closes (e.g. pytest dies).
        self.proc = subprocess.Popen(
            [testd_path()], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        assert self.proc.stdout is not None
        self.port = json.loads(self.proc.stdout.readline())["control"]

    def __call__(self, path: str, **params: Any) -> Dict[str, Any]:
        query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
        url = f"http://127.0.0.1:{self.port}{path}" + (f"?{query}" if query else "")
        with urllib.request.urlopen(url, data=b"", timeout=30) as r:
            return json.load(r)  # type: ignore[no-any-return]

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(10)


@pytest.fixture(scope="session")
def testd() -> Iterator[Testd]:
    d = Testd()
    yield d
    d.close()


class Server:
    """One test server started through the daemon; disposed after the test."""

    def __init__(self, testd: Testd, **params: Any) -> None:
        self.ctl = testd
        info = testd("/server/start", **params)
        self.id = info["id"]
        self.port = info["port"]
        self.url = info["url"]
        self.ca_pem: Optional[str] = info.get("ca_pem")
        # tls=selfsigned|ca_flagged: the certificate to pin; client_ca=1: a client identity.
        self.cert_pem: Optional[str] = info.get("cert_pem")
        self.client_cert_pem: Optional[str] = info.get("client_cert_pem")
        self.client_key_pem: Optional[str] = info.get("client_key_pem")

    def __call__(self, action: str, **params: Any) -> Dict[str, Any]:
        return self.ctl(f"/server/{self.id}/{action}", **params)

    def stats(self) -> Dict[str, Any]:
        return self("stats")


class Proxy:
    """A fault proxy in front of a server."""

    def __init__(self, testd: Testd, server: Server) -> None:
        self.ctl = testd
        info = testd("/proxy/start", target_port=server.port)
        self.id = info["id"]
        self.url = info["url"]

    def mode(self, mode: str, **params: Any) -> None:
        self.ctl(f"/proxy/{self.id}/mode", mode=mode, **params)

    def stats(self) -> Dict[str, Any]:
        return self.ctl(f"/proxy/{self.id}/stats")


@pytest.fixture
def server_factory(testd: Testd) -> Iterator[Callable[..., Server]]:
    made: List[Server] = []

    def make(**params: Any) -> Server:
        s = Server(testd, **params)
        made.append(s)
        return s

    yield make
    for s in made:
        s("dispose")


@pytest.fixture
def server(server_factory: Callable[..., Server]) -> Server:
    return server_factory()


@pytest.fixture
def proxy_factory(testd: Testd) -> Iterator[Callable[[Server], Proxy]]:
    made: List[Proxy] = []

    def make(server: Server) -> Proxy:
        p = Proxy(testd, server)
        made.append(p)
        return p

    yield make
    for p in made:
        testd(f"/proxy/{p.id}/dispose")


class RealProxy:
    """A real proxy from Debian's packages (tinyproxy or dante), started by the daemon."""

    def __init__(self, testd: Testd, kind: str, auth: bool) -> None:
        info = testd("/real_proxy/start", kind=kind, auth=int(auth))
        self.id = info["id"]
        self.port: int = info["port"]
        self.url: str = info["url"]
        self.url_without_credentials: str = info["url_without_credentials"]
        self.url_with_wrong_password: str = info["url_with_wrong_password"]


@pytest.fixture
def real_proxy(testd: Testd) -> Iterator[Callable[..., RealProxy]]:
    made: List[RealProxy] = []

    def make(kind: str = "tinyproxy", auth: bool = True) -> RealProxy:
        p = RealProxy(testd, kind, auth)
        made.append(p)
        return p

    yield make
    for p in made:
        testd(f"/real_proxy/{p.id}/dispose")


# Default options of the scenarios (tests/README.md, "Conventions").
FAST = dict(
    backoff=wstether.Backoff(initial=0.05, max=0.2, factor=2.0, jitter=0.0),
    connect_timeout=1.0,
    heartbeat=None,
)


class Recorder:
    """Collects a client's events (through `on_event`) with their arrival times."""

    IGNORED = (wstether.StateChanged, wstether.Pong)

    def __init__(self) -> None:
        self.events: List[Any] = []
        self.times: List[float] = []
        self.cond = threading.Condition()

    def __call__(self, event: Any) -> None:
        with self.cond:
            self.events.append(event)
            self.times.append(time.monotonic())
            self.cond.notify_all()

    def relevant(self) -> List[Any]:
        with self.cond:
            return [e for e in self.events if not isinstance(e, self.IGNORED)]

    def of(self, cls: type) -> List[Any]:
        with self.cond:
            return [e for e in self.events if isinstance(e, cls)]

    def wait(self, pred: Callable[[List[Any]], bool], timeout: float = 5.0, what: str = "") -> None:
        deadline = time.monotonic() + timeout
        with self.cond:
            while not pred([e for e in self.events if not isinstance(e, self.IGNORED)]):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out waiting for {what}; events: {self.sequence()}")
                self.cond.wait(left)

    def wait_count(self, cls: type, n: int, timeout: float = 5.0) -> Any:
        self.wait(lambda evs: sum(isinstance(e, cls) for e in evs) >= n, timeout, f"{n} x {cls.__name__}")
        return self.of(cls)[n - 1]

    def time_of(self, event: Any) -> float:
        with self.cond:
            for e, t in zip(self.events, self.times):
                if e is event:
                    return t
        raise KeyError(event)

    def sequence(self) -> str:
        """Event class names in order, StateChanged and Pong left out."""
        names = []
        for e in self.relevant():
            n = type(e).__name__
            if isinstance(e, wstether.ErrorEvent):
                n = f"Error[{e.kind}]"
            names.append(n)
        return " ".join(names)

    def assert_sequence(self, pattern: str) -> None:
        """`pattern` is a regex over the space-separated names from `sequence()`."""
        seq = self.sequence()
        assert re.fullmatch(pattern, seq), f"{seq!r} does not match {pattern!r}"


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def clients() -> Iterator[List[Any]]:
    """Clients to close after the test even if it fails."""
    made: List[Any] = []
    yield made
    for c in made:
        try:
            c.close()
        except wstether.Error:
            pass


@pytest.fixture(scope="session")
def echo_url() -> Iterator[str]:
    """A plain python-websockets echo server (tests/echo/echo_server.py): no subprotocol,
    permessage-deflate offered by default. Its URL without the trailing slash."""
    # stdin stays an open pipe: the server exits when it closes.
    server = subprocess.Popen(
        [sys.executable, str(REPO / "tests" / "echo" / "echo_server.py")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None and server.stdin is not None
    url = server.stdout.readline().strip()
    assert url.startswith("ws://"), url
    yield url.rstrip("/")
    server.stdin.close()
    server.wait(10)


def wait_until(pred: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)
