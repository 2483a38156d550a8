"""Reaching servers: proxies (real tinyproxy and dante), a URL function per attempt,
``reconnect_to``, pinned and client certificates, fixed addresses and the address used."""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Iterator, List

import pytest

import wstether
from .conftest import FAST, Recorder, RealProxy, Server

PROXY_VARS = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
    yield monkeypatch


def make(clients: List[Any], url: Any, recorder: Recorder, **options: Any) -> wstether.Client:
    opts = dict(FAST)
    opts.update(options)
    c = wstether.Client(url, on_event=recorder, **opts)
    clients.append(c)
    return c


def port_of(address: str) -> int:
    return int(address.rsplit(":", 1)[1])


def echo_once(c: wstether.Client, recorder: Recorder) -> wstether.Open:
    c.connect()
    opened: wstether.Open = recorder.wait_count(wstether.Open, 1)
    c.send("through")
    assert recorder.wait_count(wstether.Message, 1).data == "through"
    return opened


def test_http_proxy_from_the_environment_with_default_options(
    server: Server, real_proxy: Callable[..., RealProxy], clean_env: pytest.MonkeyPatch, clients: List[Any]
) -> None:
    proxy = real_proxy("tinyproxy", auth=True)
    clean_env.setenv("HTTP_PROXY", proxy.url)
    recorder = Recorder()
    c = wstether.Client(server.url, on_event=recorder)  # default options
    clients.append(c)
    opened = echo_once(c, recorder)
    assert opened.address is not None and port_of(opened.address) == proxy.port
    assert c.stats().address == opened.address
    assert "s3cret" not in repr(c) and "s3cret" not in repr(c.history())


@pytest.mark.parametrize("setting", ["no_proxy", "proxy_none"])
def test_no_proxy_and_proxy_none_go_direct(
    setting: str, server: Server, real_proxy: Callable[..., RealProxy], clean_env: pytest.MonkeyPatch, clients: List[Any]
) -> None:
    proxy = real_proxy("tinyproxy", auth=True)
    clean_env.setenv("HTTP_PROXY", proxy.url)
    options: dict = {}
    if setting == "no_proxy":
        clean_env.setenv("NO_PROXY", "localhost,127.0.0.0/8")
    else:
        options["proxy"] = None
    recorder = Recorder()
    opened = echo_once(make(clients, server.url, recorder, **options), recorder)
    assert port_of(opened.address) == server.port


def test_a_proxy_refusing_the_credentials_is_typed_and_terminal(
    server: Server, real_proxy: Callable[..., RealProxy], clients: List[Any]
) -> None:
    proxy = real_proxy("tinyproxy", auth=True)
    recorder = Recorder()
    c = make(clients, server.url, recorder, proxy=proxy.url_with_wrong_password)
    c.connect()
    failed = recorder.wait_count(wstether.Failed, 1)
    assert failed.reason.kind == "proxy_rejected"
    assert failed.reason.status in (401, 407)  # tinyproxy says 401 to CONNECT, squid 407
    assert c.stats().attempts == 1
    shown = repr(c) + repr(recorder.events) + str(failed.reason)
    assert "wrong-password" not in shown


def test_socks5_with_credentials_and_a_refusal_with_its_reply_code(
    server: Server, real_proxy: Callable[..., RealProxy], clients: List[Any]
) -> None:
    dante = real_proxy("dante", auth=True)
    recorder = Recorder()
    opened = echo_once(make(clients, f"ws://localhost:{server.port}/", recorder, proxy=dante.url), recorder)
    assert port_of(opened.address) == dante.port

    refused = Recorder()
    c = make(clients, f"ws://127.0.0.2:{server.port}/", refused, proxy=dante.url, max_retries=1)
    c.connect()
    failed = refused.wait_count(wstether.Failed, 1)
    assert failed.reason.last.kind == "socks_rejected"
    assert failed.reason.last.socks_reply == 2

    bad = Recorder()
    c = make(clients, server.url, bad, proxy=dante.url_with_wrong_password)
    c.connect()
    assert bad.wait_count(wstether.Failed, 1).reason.kind == "proxy_auth"


def test_a_url_function_is_called_once_per_attempt(
    server_factory: Callable[..., Server], recorder: Recorder, clients: List[Any]
) -> None:
    a, b = server_factory(), server_factory()
    asked: List[int] = []

    def url(request: wstether.AuthRequest) -> str:
        asked.append(request.attempt)
        return (a if len(asked) == 1 else b).url + f"?ticket=t{len(asked)}"

    c = make(clients, url, recorder)
    c.connect()
    recorder.wait_count(wstether.Open, 1)
    a("drop_all")
    recorder.wait_count(wstether.Open, 2)
    assert len(asked) == 2 and c.stats().attempts == 2
    assert port_of(c.stats().address) == b.port
    opens = [t.cause for t in c.history() if t.to_state == "open"]
    assert f"127.0.0.1:{b.port}" in opens[-1] and "t2" not in opens[-1]


def test_a_failing_url_function_fails_that_attempt(server: Server, recorder: Recorder, clients: List[Any]) -> None:
    calls = []

    def url() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("token endpoint down")
        return server.url

    c = make(clients, url, recorder)
    c.connect()
    recorder.wait_count(wstether.Open, 1)
    r = recorder.wait_count(wstether.Reconnecting, 1)
    assert r.cause.kind == "url_provider" and "token endpoint down" in r.cause.message


def test_an_async_url_function_runs_on_the_clients_loop(server: Server) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        seen = []

        async def url() -> str:
            seen.append(asyncio.get_running_loop() is loop)
            return server.url

        async with wstether.AsyncClient(url, **FAST) as c:
            async for event in c:
                if isinstance(event, wstether.Open):
                    break
        assert seen == [True]

    asyncio.run(main())


def test_reconnect_to_moves_the_client_at_once(
    server_factory: Callable[..., Server], recorder: Recorder, clients: List[Any]
) -> None:
    a, b = server_factory(), server_factory()
    c = make(clients, a.url, recorder)
    c.connect()
    recorder.wait_count(wstether.Open, 1)
    c.reconnect_to(b.url)
    recorder.wait_count(wstether.Open, 2)
    closed = recorder.wait_count(wstether.Closed, 1)
    assert (closed.code, closed.will_reconnect) == (1000, True)
    assert not recorder.of(wstether.Reconnecting)
    assert port_of(c.stats().address) == b.port
    with pytest.raises(wstether.InvalidScheme):
        c.reconnect_to("http://x/")


def test_a_pinned_self_signed_certificate(
    server_factory: Callable[..., Server], clients: List[Any]
) -> None:
    server = server_factory(tls="ca_flagged")
    assert server.cert_pem
    unpinned = Recorder()
    c = make(clients, server.url, unpinned, ca_pem=server.cert_pem, max_retries=1)
    c.connect()
    error = unpinned.wait_count(wstether.ErrorEvent, 1)
    assert "CA certificate" in error.message and "pinned_cert_pem" in error.message
    recorder = Recorder()
    echo_once(make(clients, server.url, recorder, pinned_cert_pem=server.cert_pem), recorder)


def test_mutual_tls(server_factory: Callable[..., Server], clients: List[Any]) -> None:
    server = server_factory(tls=1, client_ca=1)
    recorder = Recorder()
    c = make(
        clients,
        server.url,
        recorder,
        ca_pem=server.ca_pem,
        client_cert_pem=server.client_cert_pem,
        client_key_pem=server.client_key_pem,
    )
    echo_once(c, recorder)
    refused = Recorder()
    c = make(clients, server.url, refused, ca_pem=server.ca_pem, max_retries=1)
    c.connect()
    assert "client certificate" in refused.wait_count(wstether.ErrorEvent, 1).message


def test_resolve_races_both_families_and_reports_the_address(
    server: Server, recorder: Recorder, clients: List[Any]
) -> None:
    url = f"ws://dual.test:{server.port}/"
    c = make(clients, url, recorder, resolve={"dual.test": ["::1", "127.0.0.1"]}, proxy=None)
    opened = echo_once(c, recorder)
    assert opened.address == f"127.0.0.1:{server.port}"  # nothing listens on [::1]
    assert c.stats().address == opened.address


def test_bad_transport_options_are_typed_errors() -> None:
    with pytest.raises(wstether.InvalidType):
        wstether.Client("ws://h/", proxy=5)  # type: ignore[arg-type]
    with pytest.raises(wstether.InvalidOption, match="proxy"):
        wstether.Client("ws://h/", proxy="ftp://user:hunter2@h")
    try:
        wstether.Client("ws://h/", proxy="gopher://user:hunter2@h")
    except wstether.InvalidOption as e:
        assert "hunter2" not in str(e)
    with pytest.raises(wstether.InvalidCertificate):
        wstether.Client("wss://h/", pinned_cert_pem="nope")
    with pytest.raises(wstether.InvalidOption, match="together"):
        wstether.Client("wss://h/", client_cert_pem="x")
    with pytest.raises(wstether.InvalidOption, match="IP address"):
        wstether.Client("ws://h/", resolve={"h": ["not-an-ip"]})
