"""The cross-language scenarios of tests/README.md, run through the Python callback API."""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, List

import pytest

import wstether

from .conftest import FAST, Proxy, Recorder, Server, wait_until

pytestmark = pytest.mark.timeout(30)

SLACK = 0.15


def make(clients: List[Any], url: str, recorder: Recorder, **options: Any) -> wstether.Client:
    opts = dict(FAST)
    opts.update(options)
    c = wstether.Client(url, on_event=recorder, **opts)
    clients.append(c)
    return c


def test_echo(server_factory: Callable[..., Server], recorder: Recorder, clients: List[Any]) -> None:
    server = server_factory(protocols="chat")
    c = make(clients, server.url, recorder, protocols=["v0", "chat"])
    c.connect()
    assert c.send("hello") in ("sent", "queued")
    c.send(bytes([1, 2, 3]))
    recorder.wait_count(wstether.Message, 2)
    unsent = c.close(1000, "bye")
    assert unsent == []
    recorder.assert_sequence("Connecting Open Message Message Closed")
    ev = recorder.relevant()
    assert ev[0].attempt == 1
    assert ev[1].attempt == 1 and ev[1].protocol == "chat"
    assert ev[2].data == "hello"
    assert ev[3].data == b"\x01\x02\x03"
    closed = ev[4]
    assert (closed.code, closed.initiator, closed.will_reconnect) == (1000, "local", False)
    stats = server.stats()
    assert stats["received"] == ["hello", "bin:3"]
    assert stats["protocols"][0].replace(" ", "") == "v0,chat"
    assert stats["close_codes"] == [1000]
    assert stats["handshakes"] == 1
    assert c.state == "closed"


def test_server_restart(server: Server, recorder: Recorder, clients: List[Any]) -> None:
    c = make(clients, server.url, recorder)
    c.connect()
    recorder.wait_count(wstether.Open, 1)
    server("stop", code=1012)
    recorder.wait(lambda evs: any(isinstance(e, wstether.ErrorEvent) for e in evs), what="Error{connect}")
    server("restart")
    recorder.wait_count(wstether.Open, 2)
    recorder.assert_sequence(
        r"Connecting Open Closed Reconnecting( Connecting Error\[connect\] Reconnecting)+ Connecting Open"
    )
    closed = recorder.of(wstether.Closed)[0]
    assert (closed.code, closed.initiator, closed.will_reconnect) == (1012, "remote", True)
    reconnecting = recorder.of(wstether.Reconnecting)
    assert reconnecting[0].cause.kind == "closed"
    assert all(r.cause.kind == "connect_failed" for r in reconnecting[1:])
    stats = server.stats()
    assert stats["handshakes"] == 2
    assert 1012 in stats["close_codes"]
    assert server("wait_connections", n=1)["ok"]


def test_server_crash(server: Server, recorder: Recorder, clients: List[Any]) -> None:
    c = make(clients, server.url, recorder)
    c.connect()
    recorder.wait_count(wstether.Open, 1)
    server("drop_all")
    recorder.wait_count(wstether.Open, 2)
    recorder.assert_sequence("Connecting Open Closed Reconnecting Connecting Open")
    closed = recorder.of(wstether.Closed)[0]
    assert (closed.code, closed.initiator, closed.will_reconnect) == (1006, "network", True)
    assert recorder.of(wstether.Reconnecting)[0].cause.kind == "network"


def test_half_open(
    server: Server, proxy_factory: Callable[[Server], Proxy], recorder: Recorder, clients: List[Any]
) -> None:
    proxy = proxy_factory(server)
    c = make(clients, proxy.url, recorder, heartbeat=wstether.Heartbeat(interval=0.2, timeout=0.2))
    c.connect()
    recorder.wait_count(wstether.Open, 1)
    proxy.mode("blackhole")
    t0 = time.monotonic()
    closed = recorder.wait_count(wstether.Closed, 1, timeout=3)
    proxy.mode("pass")
    elapsed = recorder.time_of(closed) - t0
    assert 0.2 - SLACK <= elapsed <= 0.4 + SLACK + 0.1, elapsed
    assert (closed.code, closed.initiator, closed.will_reconnect) == (1006, "network", True)
    recorder.wait_count(wstether.Open, 2)
    recorder.assert_sequence(
        r"Connecting Open Closed Reconnecting( Connecting Error\[connect\] Reconnecting)* Connecting Open"
    )
    assert recorder.of(wstether.Reconnecting)[0].cause.kind == "heartbeat_timeout"
    wait_until(lambda: proxy.stats()["live"] == 1, what="proxy live == 1")


def test_hung_server(server: Server, recorder: Recorder, clients: List[Any]) -> None:
    c = make(clients, server.url, recorder, heartbeat=wstether.Heartbeat(interval=0.2, timeout=0.2))
    c.connect()
    recorder.wait_count(wstether.Open, 1)
    server("pings", answer=0)
    t0 = time.monotonic()
    closed = recorder.wait_count(wstether.Closed, 1, timeout=3)
    server("pings", answer=1)
    assert recorder.time_of(closed) - t0 <= 0.4 + SLACK + 0.1
    assert (closed.code, closed.initiator, closed.will_reconnect) == (1006, "network", True)
    assert recorder.of(wstether.Reconnecting)[0].cause.kind == "heartbeat_timeout"
    recorder.wait_count(wstether.Open, 2)


def test_reset(
    server: Server, proxy_factory: Callable[[Server], Proxy], recorder: Recorder, clients: List[Any]
) -> None:
    proxy = proxy_factory(server)
    c = make(clients, proxy.url, recorder)
    c.connect()
    recorder.wait_count(wstether.Open, 1)
    proxy.mode("reset")
    recorder.wait_count(wstether.Closed, 1)
    proxy.mode("pass")
    recorder.wait_count(wstether.Open, 2)
    recorder.assert_sequence(
        r"Connecting Open Closed Reconnecting( Connecting Error\[connect\] Reconnecting)* Connecting Open"
    )
    closed = recorder.of(wstether.Closed)[0]
    assert (closed.code, closed.initiator, closed.will_reconnect) == (1006, "network", True)
    assert recorder.of(wstether.Reconnecting)[0].cause.kind == "network"


def test_auth_refresh(server_factory: Callable[..., Server], recorder: Recorder, clients: List[Any]) -> None:
    server = server_factory(token="t1")
    tokens = ["t1", "t1", "t2"]
    calls: List[wstether.AuthRequest] = []
    threads: List[str] = []

    def auth(request: wstether.AuthRequest) -> dict:
        calls.append(request)
        threads.append(threading.current_thread().name)
        token = tokens[len(calls) - 1] if len(calls) <= len(tokens) else "t2"
        return {"Authorization": f"Bearer {token}"}

    c = make(clients, server.url, recorder, auth=auth)
    c.connect()
    recorder.wait_count(wstether.Open, 1)
    server("token", value="t2")
    server("drop_all")
    recorder.wait_count(wstether.Open, 2)
    recorder.assert_sequence(r"Connecting Open Closed Reconnecting Connecting Error\[auth\] Connecting Open")
    assert len(calls) == 3
    assert [r.attempt for r in calls][2] >= 1
    assert calls[2].after_unauthorized and not calls[0].after_unauthorized
    # Never on a tokio worker: the auth function runs on a thread of its own.
    assert all(not t.startswith("wstether-worker") for t in threads)
    stats = server.stats()
    assert stats["auth_headers"] == ["Bearer t1", "Bearer t1", "Bearer t2"]
    assert stats["rejected"] == 1


def test_auth_plain_function_without_argument(server_factory: Callable[..., Server], recorder: Recorder, clients: List[Any]) -> None:
    server = server_factory(token="abc")
    c = make(clients, server.url, recorder, auth=lambda: [("Authorization", "Bearer abc")])
    c.connect()
    recorder.wait_count(wstether.Open, 1)
    assert server.stats()["auth_headers"] == ["Bearer abc"]


def test_auth_async_function_on_sync_client(server_factory: Callable[..., Server], recorder: Recorder, clients: List[Any]) -> None:
    import asyncio

    server = server_factory(token="async-token")

    async def auth() -> dict:
        await asyncio.sleep(0.01)
        return {"Authorization": "Bearer async-token"}

    c = make(clients, server.url, recorder, auth=auth)
    c.connect()
    recorder.wait_count(wstether.Open, 1)
    assert server.stats()["auth_headers"] == ["Bearer async-token"]


def test_auth_exception_is_an_auth_error(server: Server, recorder: Recorder, clients: List[Any]) -> None:
    def auth() -> dict:
        raise RuntimeError("token service down")

    c = make(clients, server.url, recorder, auth=auth, max_retries=2)
    c.connect()
    recorder.wait_count(wstether.Failed, 1)
    errors = recorder.of(wstether.ErrorEvent)
    assert errors and all(e.kind == "auth" for e in errors)
    assert "token service down" in errors[0].message


def test_retry_after(server: Server, recorder: Recorder, clients: List[Any]) -> None:
    server("reject", count=1, status=503, retry_after=1)
    c = make(clients, server.url, recorder)
    c.connect()
    recorder.wait_count(wstether.Open, 1, timeout=5)
    recorder.assert_sequence(r"Connecting Error\[connect\] Reconnecting Connecting Open")
    r = recorder.of(wstether.Reconnecting)[0]
    assert r.attempt == 2 and r.delay >= 1.0
    assert r.cause.kind == "handshake_rejected" and r.cause.status == 503 and r.cause.retry_after == 1.0
    assert recorder.of(wstether.Open)[0].attempt == 2
    times = server.stats()["handshake_times_ms"]
    assert times[1] - times[0] >= 1000


def test_close_1013(server: Server, recorder: Recorder, clients: List[Any]) -> None:
    c = make(clients, server.url, recorder)
    c.connect()
    recorder.wait_count(wstether.Open, 1)
    server("close_all", code=1013, reason="later")
    recorder.wait_count(wstether.Open, 2)
    recorder.assert_sequence("Connecting Open Closed Reconnecting Connecting Open")
    closed = recorder.of(wstether.Closed)[0]
    assert (closed.code, closed.initiator, closed.will_reconnect) == (1013, "remote", True)
    r = recorder.of(wstether.Reconnecting)[0]
    assert abs(r.delay - 0.2) < 0.01 and r.cause.kind == "closed" and r.cause.code == 1013


@pytest.mark.parametrize("status", [403, 400, 404])
def test_terminal_status(status: int, server: Server, recorder: Recorder, clients: List[Any]) -> None:
    server("reject", status=status)
    c = make(clients, server.url, recorder)
    c.connect()
    failed = recorder.wait_count(wstether.Failed, 1)
    recorder.assert_sequence(r"Connecting Error\[(auth|connect)\] Failed")
    if status == 403:
        recorder.assert_sequence(r"Connecting Error\[auth\] Failed")
    assert failed.reason.kind == "handshake_rejected" and failed.reason.status == status
    assert failed.unsent == []
    assert not server("wait_received", n=1, timeout_ms=300)["ok"]  # ~300 ms for a stray attempt
    assert server.stats()["rejected"] == 1
    assert c.state == "failed"
    with pytest.raises(wstether.ClientFailed):
        c.send("late")


def test_max_retries(
    server: Server, proxy_factory: Callable[[Server], Proxy], recorder: Recorder, clients: List[Any]
) -> None:
    proxy = proxy_factory(server)
    proxy.mode("refuse")
    c = make(clients, proxy.url, recorder, max_retries=3)
    c.connect()
    failed = recorder.wait_count(wstether.Failed, 1)
    recorder.assert_sequence(
        r"Connecting Error\[connect\] Reconnecting Connecting Error\[connect\] Reconnecting"
        r" Connecting Error\[connect\] Failed"
    )
    assert [e.attempt for e in recorder.of(wstether.Connecting)] == [1, 2, 3]
    assert [e.attempt for e in recorder.of(wstether.Reconnecting)] == [2, 3]
    assert failed.reason.kind == "retries_exhausted"
    assert failed.reason.attempts == 3 and failed.reason.last is not None
    assert failed.reason.last.kind == "connect_failed"
    assert failed.unsent == []
    assert c.stats().attempts == 3


def test_outbox(server: Server, recorder: Recorder, clients: List[Any]) -> None:
    server("stop")
    c = make(clients, server.url, recorder, greeting=["greet"])
    c.connect()
    assert [c.send(m) for m in ("m1", "m2", "m3")] == ["queued"] * 3
    recorder.wait(lambda evs: any(isinstance(e, wstether.ErrorEvent) for e in evs), what="a failed attempt")
    server("restart")
    recorder.wait_count(wstether.Message, 4)
    server("stop")
    recorder.wait_count(wstether.Closed, 1)
    # The core may deliver Closed a moment before its state() leaves "open" (seen rarely).
    wait_until(lambda: c.state != "open", what="state leaves open")
    assert [c.send(m) for m in ("u1", "u2")] == ["queued"] * 2
    unsent = c.close(1000, "done")
    assert unsent == ["u1", "u2"]
    recorder.assert_sequence(
        r"Connecting Error\[connect\]( Reconnecting Connecting Error\[connect\])* Reconnecting Connecting Open"
        r" Message Message Message Message Closed Reconnecting( Connecting Error\[connect\] Reconnecting)*"
        r"( Connecting)?"
    )
    assert [m.data for m in recorder.of(wstether.Message)] == ["greet", "m1", "m2", "m3"]
    closed = recorder.of(wstether.Closed)[0]
    assert (closed.code, closed.initiator, closed.will_reconnect) == (1006, "network", True)
    assert server.stats()["received"] == ["greet", "m1", "m2", "m3"]


def test_close_1008(server: Server, recorder: Recorder, clients: List[Any]) -> None:
    c = make(clients, server.url, recorder)
    c.connect()
    recorder.wait_count(wstether.Open, 1)
    server("close_all", code=1008, reason="policy")
    failed = recorder.wait_count(wstether.Failed, 1)
    recorder.assert_sequence("Connecting Open Closed Failed")
    closed = recorder.of(wstether.Closed)[0]
    assert (closed.code, closed.initiator, closed.will_reconnect) == (1008, "remote", False)
    assert failed.reason.kind == "closed" and failed.reason.code == 1008
    assert failed.unsent == []
    server("wait_connections", n=5, timeout_ms=300)  # gives a stray reconnect time to show
    assert server.stats()["handshakes"] == 1


def test_message_too_large(server: Server, recorder: Recorder, clients: List[Any]) -> None:
    c = make(clients, server.url, recorder, max_message_size=1024)
    c.connect()
    recorder.wait_count(wstether.Open, 1)
    c.send("!big 4096")
    recorder.wait_count(wstether.Open, 2)
    recorder.assert_sequence(r"Connecting Open Error\[link\] Closed Reconnecting Connecting Open")
    closed = recorder.of(wstether.Closed)[0]
    assert (closed.code, closed.initiator, closed.will_reconnect) == (1009, "local", True)
    assert recorder.of(wstether.Reconnecting)[0].cause.kind == "message_too_large"
    assert 1009 in server.stats()["close_codes"]


def test_accept_then_drop(server: Server, recorder: Recorder, clients: List[Any]) -> None:
    server("close_on_open", code=4000, reason="busy")
    c = make(clients, server.url, recorder)
    c.connect()
    recorder.wait_count(wstether.Reconnecting, 4)
    server("close_on_open")
    n_open = len(recorder.of(wstether.Open))
    recorder.wait(
        lambda evs: isinstance(evs[-1], wstether.Open) and sum(isinstance(e, wstether.Open) for e in evs) > n_open,
        what="an Open that stays",
    )
    delays = [round(r.delay, 3) for r in recorder.of(wstether.Reconnecting)[:4]]
    assert delays == [0.05, 0.1, 0.2, 0.2]
    closed = recorder.of(wstether.Closed)[0]
    assert (closed.code, closed.initiator, closed.will_reconnect) == (4000, "remote", True)


def test_callback_error(server: Server, recorder: Recorder, clients: List[Any], caplog: pytest.LogCaptureFixture) -> None:
    reports: List[Any] = []

    def on_message(data: Any) -> None:
        if data == "boom":
            raise ValueError("boom")

    def on_error(event: wstether.ErrorEvent) -> None:
        if event.kind == "callback":
            reports.append(event)
            raise RuntimeError("the error handler fails too")

    c = make(clients, server.url, recorder, on_message=on_message, on_error=on_error)
    c.connect()
    for text in ("one", "boom", "two"):
        c.send(text)
    recorder.wait_count(wstether.Message, 3)
    assert c.state == "open"
    assert c.close(1000, "") == []
    recorder.assert_sequence(r"Connecting Open Message Message Error\[callback\] Message Closed")
    ev = recorder.relevant()
    assert [e.data for e in ev if isinstance(e, wstether.Message)] == ["one", "boom", "two"]
    report = ev[4]
    assert "on_message" in report.message and "boom" in report.message
    assert reports == [report] or [r.message for r in reports] == [report.message]
    closed = ev[6]
    assert (closed.code, closed.initiator, closed.will_reconnect) == (1000, "local", False)
    logged = [r for r in caplog.records if r.name == "wstether" and r.levelname == "ERROR"]
    assert len(logged) == 2, [r.getMessage() for r in logged]
    assert "on_message raised" in logged[0].getMessage() and logged[0].exc_info
    assert "on_error raised" in logged[1].getMessage() and logged[1].exc_info


def test_tls(server_factory: Callable[..., Server], recorder: Recorder, clients: List[Any]) -> None:
    server = server_factory(tls=1)
    assert server.url.startswith("wss://") and server.ca_pem
    c = make(clients, server.url, recorder, ca_pem=server.ca_pem)
    c.connect()
    recorder.wait_count(wstether.Open, 1)
    c.send("secure")
    assert recorder.wait_count(wstether.Message, 1).data == "secure"

    untrusted = Recorder()
    c2 = make(clients, server.url, untrusted)
    c2.connect()
    r = untrusted.wait_count(wstether.Reconnecting, 1)
    untrusted.assert_sequence(r"Connecting Error\[connect\] Reconnecting.*")
    assert r.cause.kind == "tls"
