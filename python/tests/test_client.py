"""The Python-specific promises of the callback API: errors, threads, sockets, logging."""

from __future__ import annotations

import gc
import logging
import os
import threading
from typing import Any, Callable, List

import pytest

import wstether

from .conftest import FAST, Recorder, Server, wait_until

pytestmark = pytest.mark.timeout(30)


def socket_count() -> int:
    n = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}").startswith("socket:"):
                n += 1
        except OSError:
            pass
    return n


def test_callback_exception_does_not_kill_the_client(
    server: Server, recorder: Recorder, clients: List[Any], caplog: pytest.LogCaptureFixture
) -> None:
    errors: List[wstether.ErrorEvent] = []
    received: List[Any] = []

    def on_message(msg: Any) -> None:
        if msg == "boom":
            raise ValueError("callback exploded")
        received.append(msg)

    c = wstether.Client(server.url, on_message=on_message, on_error=errors.append, on_event=recorder, **FAST)
    clients.append(c)
    c.connect()
    c.send("boom")
    c.send("after")
    recorder.wait_count(wstether.Message, 2)
    wait_until(lambda: received == ["after"], what="the message after the exception")
    callback_errors = [e for e in errors if e.kind == "callback"]
    assert len(callback_errors) == 1
    assert "on_message" in callback_errors[0].message and "callback exploded" in callback_errors[0].message
    assert any("on_message raised" in r.getMessage() and r.exc_info for r in caplog.records)
    assert c.state == "open"
    assert c.send("still") == "sent"


def test_on_error_raising_is_only_logged(server: Server, clients: List[Any], caplog: pytest.LogCaptureFixture) -> None:
    got: List[Any] = []

    def bad(_: Any) -> None:
        raise RuntimeError("bad handler")

    c = wstether.Client(server.url, on_open=bad, on_error=bad, on_message=got.append, **FAST)
    clients.append(c)
    c.connect()
    c.send("x")
    wait_until(lambda: got == ["x"], what="delivery after two failing callbacks")
    msgs = [r.getMessage() for r in caplog.records]
    assert any("on_open raised" in m for m in msgs)
    assert any("on_error raised" in m for m in msgs)


@pytest.mark.parametrize(
    "kwargs, exc",
    [
        (dict(url="http://example.com"), wstether.InvalidScheme),
        (dict(url="not a url"), wstether.InvalidUrl),
        (dict(url="ws://"), wstether.InvalidUrl),
        (dict(headers={"X-Bad": "a\r\nInjected: 1"}), wstether.InvalidHeader),
        (dict(protocols=["has space"]), wstether.InvalidHeader),
        (dict(connect_timeout=-1.0), wstether.InvalidOption),
        (dict(connect_timeout=float("nan")), wstether.InvalidOption),
        (dict(backoff=wstether.Backoff(initial=0.0)), wstether.InvalidOption),
        (dict(backoff=wstether.Backoff(factor=0.5)), wstether.InvalidOption),
        (dict(backoff=wstether.Backoff(jitter=2.0)), wstether.InvalidOption),
        (dict(heartbeat=wstether.Heartbeat(interval=0.0)), wstether.InvalidOption),
        (dict(heartbeat=wstether.Heartbeat(app_ping="ping")), wstether.InvalidOption),
        (dict(max_retries=-1), wstether.InvalidOption),
        (dict(handshake_budget=0), wstether.InvalidOption),
        (dict(outbox=wstether.Outbox(max_messages=0)), wstether.InvalidOption),
        (dict(max_message_size=0), wstether.InvalidOption),
        (dict(ca_pem="not a certificate"), wstether.InvalidCertificate),
        (dict(url=42), TypeError),
        (dict(protocols="chat"), TypeError),
        (dict(max_retries=1.5), TypeError),
        (dict(backoff=(1, 2)), TypeError),
    ],
)
def test_bad_arguments_raise_typed_errors(kwargs: Any, exc: type) -> None:
    url = kwargs.pop("url", "ws://127.0.0.1:9/")
    with pytest.raises(exc):
        wstether.Client(url, **kwargs)
    if exc is not TypeError:
        assert issubclass(exc, wstether.Error) and issubclass(exc, ValueError)


def test_bad_send_and_close_arguments(server: Server, clients: List[Any]) -> None:
    c = wstether.Client(server.url, max_message_size=8, outbox=wstether.Outbox(max_messages=2), **FAST)
    clients.append(c)
    with pytest.raises(wstether.MessageTooLarge):
        c.send("123456789")
    with pytest.raises(TypeError):
        c.send(12)  # type: ignore[arg-type]
    assert c.send(bytearray(b"ab")) == "queued"
    assert c.send(memoryview(b"cd")) == "queued"
    with pytest.raises(wstether.QueueFull):
        c.send("x")
    with pytest.raises(wstether.InvalidCloseCode):
        c.close(1006)
    with pytest.raises(wstether.CloseReasonTooLong):
        c.close(1000, "r" * 124)
    assert c.close() == [b"ab", b"cd"]
    with pytest.raises(wstether.ClientClosed):
        c.send("late")
    with pytest.raises(wstether.ClientClosed):
        c.connect()
    assert c.close() == []  # idempotent


def test_no_thread_or_socket_left_after_close(server: Server) -> None:
    # Warm up: the shared runtime's workers and the log thread live for the whole process.
    warm = wstether.Client(server.url, **FAST)
    warm.connect()
    warm.close()
    gc.collect()
    threads_before = {t.ident for t in threading.enumerate()}
    native_before = len(os.listdir("/proc/self/task"))
    sockets_before = socket_count()

    opened = threading.Event()
    c = wstether.Client(server.url, on_open=lambda e: opened.set(), **FAST)
    c.connect()
    assert opened.wait(5)
    assert socket_count() > sockets_before
    # The dispatcher's threads are shared by every client: a client adds none.
    assert {t.ident for t in threading.enumerate()} == threads_before
    c.close()
    assert {t.ident for t in threading.enumerate()} == threads_before
    wait_until(lambda: socket_count() == sockets_before, 2, "sockets back to the baseline")
    wait_until(lambda: len(os.listdir("/proc/self/task")) <= native_before, 2, "native threads back")
    assert server("wait_connections", n=0)["ok"]


def test_clients_share_the_dispatcher_threads(server: Server) -> None:
    warm = wstether.Client(server.url, **FAST)
    warm.connect()
    warm.close()
    before = threading.active_count()
    got: List[List[Any]] = [[] for _ in range(50)]
    cs = [wstether.Client(server.url, on_message=got[i].append, **FAST) for i in range(50)]
    try:
        for i, c in enumerate(cs):
            c.connect()
            for j in range(3):
                c.send(f"{i}:{j}")
        wait_until(lambda: all(len(g) == 3 for g in got), 10, "every client's echoes")
        assert all(g == [f"{i}:{j}" for j in range(3)] for i, g in enumerate(got)), "each client in order"
        assert threading.active_count() <= before + 1, [t.name for t in threading.enumerate()]
    finally:
        for c in cs:
            c.close()


def test_a_blocked_callback_does_not_stall_other_clients(server: Server, clients: List[Any]) -> None:
    release = threading.Event()
    entered = threading.Event()
    slow_got: List[Any] = []
    fast_got: List[Any] = []

    def slow(msg: Any) -> None:
        if msg == "block":
            entered.set()
            release.wait(20)
        slow_got.append(msg)

    a = wstether.Client(server.url, on_message=slow, **FAST)
    b = wstether.Client(server.url, on_message=fast_got.append, **FAST)
    clients.extend([a, b])
    a.connect()
    b.connect()
    a.send("block")
    assert entered.wait(5)
    a.send("after")
    b.send("meanwhile")
    wait_until(lambda: fast_got == ["meanwhile"], 5, "the other client's message while one callback blocks")
    assert slow_got == [], "the blocked client's own events wait, in order"
    release.set()
    wait_until(lambda: slow_got == ["block", "after"], 5, "the blocked client's events, in order")


def test_close_from_a_callback(server: Server, clients: List[Any]) -> None:
    done = threading.Event()
    result: List[Any] = []

    def on_open(_: wstether.Open) -> None:
        result.append(c.close(1000, "from callback"))
        done.set()

    c = wstether.Client(server.url, on_open=on_open, **FAST)
    clients.append(c)
    c.connect()
    assert done.wait(10)
    assert result == [[]]
    assert c.state == "closed"


def test_core_logs_reach_python_logging(server: Server, clients: List[Any], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="wstether")
    opened = threading.Event()
    c = wstether.Client(server.url + "?token=secret123", on_open=lambda e: opened.set(), **FAST)
    clients.append(c)
    c.connect()
    assert opened.wait(5)
    wait_until(
        lambda: any(r.name == "wstether" and "open" in r.getMessage() for r in caplog.records),
        what="an 'open' record on the wstether logger",
    )
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "connecting" in text
    assert "secret123" not in text  # redacted by the core


def test_stats_history_and_reprs(server: Server, recorder: Recorder, clients: List[Any]) -> None:
    c = wstether.Client(server.url, on_event=recorder, **FAST)
    clients.append(c)
    assert c.state == "idle"
    c.connect()
    recorder.wait_count(wstether.Open, 1)
    c.send("x" * 100)
    recorder.wait_count(wstether.Message, 1)
    # The core counts a message right after handing it over: allow it a moment.
    wait_until(lambda: c.stats().messages_in == 1, what="messages_in == 1")
    s = c.stats()
    assert s.opens == 1 and s.messages_in == 1 and s.messages_out == 1 and s.bytes_in == 100
    h = c.history()
    assert [t.to_state for t in h][:2] == ["connecting", "open"]
    assert h[0].at > 1.6e9
    assert "Open(attempt=1" in repr(recorder.of(wstether.Open)[0])
    assert repr(recorder.of(wstether.Message)[0]) == "Message(<text, 100 chars>)"
    assert "wstether.Client" in repr(c) and "open" in repr(c)
    assert "Stats(" in repr(s) and "Transition(" in repr(h[0])


def test_greeting_function_and_context_manager(server: Server) -> None:
    calls: List[str] = []
    got: List[Any] = []

    def greeting() -> List[str]:
        calls.append(threading.current_thread().name)
        return ["hello-from-greeting"]

    with wstether.Client(server.url, greeting=greeting, on_message=got.append, **FAST) as c:
        wait_until(lambda: got == ["hello-from-greeting"], what="the greeting echo")
        assert c.state == "open"
    assert c.state == "closed"
    assert calls and not calls[0].startswith("wstether-worker")


def test_failing_greeting_function_is_reported_and_the_link_stays_up(
    server: Server, recorder: Recorder, clients: List[Any]
) -> None:
    def greeting() -> List[str]:
        raise RuntimeError("subscriptions unavailable")

    c = wstether.Client(server.url, greeting=greeting, on_event=recorder, **FAST)
    clients.append(c)
    c.connect()
    err = recorder.wait_count(wstether.ErrorEvent, 1)
    assert err.kind == "link" and "subscriptions unavailable" in err.message
    c.send("still here")
    recorder.wait_count(wstether.Message, 1)
    assert c.state == "open"


def test_pause_resume_and_reconnect_now(server: Server, recorder: Recorder, clients: List[Any]) -> None:
    c = wstether.Client(server.url, on_event=recorder, **FAST)
    clients.append(c)
    c.connect()
    recorder.wait_count(wstether.Open, 1)
    c.pause()
    recorder.wait_count(wstether.Closed, 1)
    wait_until(lambda: c.state == "paused", what="paused")
    assert c.send("while paused") == "queued"
    c.resume()
    assert recorder.wait_count(wstether.Message, 1).data == "while paused"
    c.network_changed()
    c.reconnect_now()
