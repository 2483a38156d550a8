"""Out-of-range and wrongly typed values: wstether's typed errors at construction, naming the
limit, never a bare OverflowError or a PanicException (issue 12, items 2 and 5)."""

from __future__ import annotations

from typing import Any, Callable, List

import pytest

import wstether
from wstether import _native

from .conftest import FAST, Server, wait_until

pytestmark = pytest.mark.timeout(30)

URL = "ws://127.0.0.1:9/"
DAYS = "must be at most 365 days"


def refused(make: Callable[[], object], exc: type = wstether.InvalidOption) -> str:
    """The message of the wstether error `make()` raises (anything else fails the test)."""
    with pytest.raises(wstether.Error) as info:
        make()
    assert isinstance(info.value, exc), repr(info.value)
    return str(info.value)


def test_defaults_and_limits_come_from_the_core() -> None:
    core = _native._defaults()
    assert wstether.Backoff().initial == core["backoff"]["initial"]
    assert wstether.Heartbeat().interval == core["heartbeat"]["interval"]
    assert wstether.Outbox().max_bytes == core["outbox_max_bytes"]
    assert wstether.TerminalPolicy().close_codes == tuple(core["terminal_close_codes"])
    assert wstether.LIMITS.max_duration == 365 * 86400
    assert wstether.LIMITS == wstether.Limits(**_native._limits())


@pytest.mark.parametrize("seconds", [1e19, 10**400, float("inf"), 365 * 86400 + 1])
def test_huge_heartbeat_is_refused_when_made_naming_the_limit(seconds: Any) -> None:
    assert refused(lambda: wstether.Heartbeat(interval=seconds, timeout=seconds)).endswith(DAYS)
    assert "heartbeat.timeout" in refused(lambda: wstether.Heartbeat(timeout=seconds))
    assert "backoff.max" in refused(lambda: wstether.Backoff(max=seconds))
    assert "backoff.stable_after" in refused(lambda: wstether.Backoff(stable_after=seconds))


@pytest.mark.parametrize("option", ["connect_timeout", "close_timeout", "max_elapsed"])
@pytest.mark.parametrize("seconds", [1e19, 10**400, float("inf")])
def test_huge_client_durations_are_refused_naming_the_limit(option: str, seconds: Any) -> None:
    message = refused(lambda: wstether.Client(URL, **{option: seconds}))
    assert message == f"invalid option {option}: {DAYS}"
    refused(lambda: wstether.AsyncClient(URL, **{option: seconds}))


def test_the_longest_duration_is_accepted() -> None:
    longest = wstether.LIMITS.max_duration
    c = wstether.Client(
        URL,
        connect_timeout=longest,
        close_timeout=longest,
        max_elapsed=longest,
        heartbeat=wstether.Heartbeat(interval=longest, timeout=longest),
        backoff=wstether.Backoff(initial=longest, max=longest, stable_after=longest),
    )
    assert c.close() == []


@pytest.mark.parametrize(
    "kwargs, option, limit",
    [
        (dict(event_buffer=2**62), "event_buffer", wstether.LIMITS.max_event_buffer),
        (dict(event_buffer=2**200), "event_buffer", wstether.LIMITS.max_event_buffer),
        (dict(max_retries=2**40), "max_retries", wstether.LIMITS.max_retries),
        (dict(max_retries=2**32), "max_retries", wstether.LIMITS.max_retries),
        (dict(handshake_budget=2**40), "handshake_budget", wstether.LIMITS.max_handshake_budget),
        (dict(max_message_size=2**62), "max_message_size", wstether.LIMITS.max_message_size),
        (dict(outbox=wstether.Outbox(max_messages=2**62)), "outbox.max_messages", wstether.LIMITS.max_outbox_messages),
        (dict(outbox=wstether.Outbox(max_bytes=2**100)), "outbox.max_bytes", wstether.LIMITS.max_outbox_bytes),
    ],
)
def test_huge_sizes_are_refused_naming_the_limit(kwargs: Any, option: str, limit: int) -> None:
    # event_buffer=2**62 used to raise pyo3's PanicException (tokio's semaphore assert),
    # max_retries=2**40 the built-in OverflowError.
    assert refused(lambda: wstether.Client(URL, **kwargs)) == f"invalid option {option}: must be at most {limit}"


@pytest.mark.parametrize(
    "kwargs, option",
    [
        (dict(event_buffer=-1), "event_buffer"),
        (dict(max_retries=-(2**70)), "max_retries"),
        (dict(outbox=wstether.Outbox(max_bytes=-5)), "outbox.max_bytes"),
        (dict(terminal=wstether.TerminalPolicy(close_codes=(70000,))), "terminal.close_codes"),
        (dict(terminal=wstether.TerminalPolicy(statuses=(-1,))), "terminal.statuses"),
    ],
)
def test_negative_and_unfitting_numbers_are_invalid_options(kwargs: Any, option: str) -> None:
    assert option in refused(lambda: wstether.Client(URL, **kwargs))


@pytest.mark.parametrize(
    "make",
    [
        lambda: wstether.Client(URL, connect_timeout="5"),
        lambda: wstether.Client(URL, close_timeout=b"2"),
        lambda: wstether.Client(URL, max_elapsed="1"),
        lambda: wstether.Client(URL, connect_timeout=True),
        lambda: wstether.Client(URL, event_buffer=10.0),
        lambda: wstether.Client(URL, max_retries="3"),
        lambda: wstether.Client(URL, headers={"X": 1}),
        lambda: wstether.Client(URL, protocols=[1]),
        lambda: wstether.Heartbeat(interval="30"),
        lambda: wstether.Backoff(factor="2"),
        lambda: wstether.Outbox(max_messages=1.5),
        lambda: wstether.AsyncClient(URL, connect_timeout="5"),
    ],
)
def test_wrong_types_are_typed_errors_and_type_errors(make: Callable[[], object]) -> None:
    with pytest.raises(wstether.InvalidType) as info:
        make()
    assert isinstance(info.value, TypeError) and isinstance(info.value, wstether.Error)


@pytest.mark.parametrize("code", [-1, 66536, 65536, 2**70, -(2**70)])
def test_close_codes_outside_16_bits_are_invalid_close_codes(code: int) -> None:
    c = wstether.Client(URL)
    try:
        message = refused(lambda: c.close(code), wstether.InvalidCloseCode)
        assert "use 1000 or 3000-4999" in message
        refused(lambda: c.close("1000"), wstether.InvalidType)  # type: ignore[arg-type]
        refused(lambda: c.close(1000, 5), wstether.InvalidType)  # type: ignore[arg-type]
    finally:
        assert c.close() == []


@pytest.mark.asyncio
async def test_async_close_codes_outside_16_bits_are_invalid_close_codes() -> None:
    c = wstether.AsyncClient(URL)
    with pytest.raises(wstether.InvalidCloseCode):
        await c.close(-1)
    with pytest.raises(wstether.InvalidCloseCode):
        await c.close(66536)
    assert await c.close() == []


def test_a_panic_in_the_native_layer_is_an_ordinary_wstether_error() -> None:
    # pyo3's PanicException derives from BaseException: `except Exception` would miss it.
    try:
        _native._panic_for_tests()
    except Exception as e:  # noqa: BLE001 - the point: a plain Exception
        assert isinstance(e, wstether.InternalError), repr(e)
        assert "deliberate panic" in str(e)
    else:
        pytest.fail("no error raised")


def test_nan_log_timeout_does_not_panic() -> None:
    records, _dropped = _native._next_log_records(float("nan"))
    assert isinstance(records, list)


def test_a_client_with_the_largest_sizes_still_works(server: Server, clients: List[Any]) -> None:
    got: List[Any] = []
    c = wstether.Client(
        server.url,
        event_buffer=wstether.LIMITS.max_event_buffer,
        max_message_size=wstether.LIMITS.max_message_size,
        outbox=wstether.Outbox(wstether.LIMITS.max_outbox_messages, wstether.LIMITS.max_outbox_bytes),
        handshake_budget=wstether.LIMITS.max_handshake_budget,
        max_retries=wstether.LIMITS.max_retries,
        on_message=got.append,
        **FAST,
    )
    clients.append(c)
    c.connect()
    c.send("x")
    wait_until(lambda: got == ["x"], what="an echo with every size at its limit")
