"""Turn the user's ``auth`` function (plain or async, with or without an AuthRequest argument)
into the synchronous ``(attempt, after_unauthorized) -> [(name, value)]`` callable the native
layer runs on a short-lived thread of its own (never on a tokio worker, never on the event loop).

Async auth functions: for an :class:`AsyncClient`, the coroutine runs on the client's event loop
(so it may use the loop's sessions and locks) while the auth thread waits; for a plain
:class:`Client`, it runs in a fresh event loop on the auth thread (``asyncio.run``).
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any, Awaitable, Callable, Iterable, List, Mapping, Optional, Tuple, Union

from .options import AuthRequest

HeaderItems = Union[Mapping[str, str], Iterable[Tuple[str, str]]]
AuthFunction = Callable[..., Union[HeaderItems, Awaitable[HeaderItems]]]
NativeAuth = Callable[[int, bool], List[Tuple[str, str]]]


def _takes_request(func: Callable[..., Any]) -> bool:
    """Whether ``func`` can be called with one positional argument (the AuthRequest)."""
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return True
    for p in params:
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL):
            return True
    return False


def _pairs(result: Any) -> List[Tuple[str, str]]:
    items = result.items() if isinstance(result, Mapping) else result
    pairs = []
    for item in items:
        name, value = item
        if not isinstance(name, str) or not isinstance(value, str):
            raise TypeError("auth must return a mapping (or pairs) of str header names to str values")
        pairs.append((name, value))
    return pairs


async def _await(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


def wrap(
    auth: AuthFunction,
    loop_of: Callable[[], Optional[asyncio.AbstractEventLoop]],
    timeout: float,
) -> NativeAuth:
    """Build the native auth callable; ``loop_of()`` names the loop async functions run on."""
    call = provider(auth, loop_of, timeout)
    return lambda attempt, after_unauthorized: _pairs(call(attempt, after_unauthorized))


def provider(
    func: Callable[..., Any],
    loop_of: Callable[[], Optional[asyncio.AbstractEventLoop]],
    timeout: float,
) -> Callable[[int, bool], Any]:
    """``func`` (plain or async, with or without an AuthRequest argument) as the synchronous
    ``(attempt, after_unauthorized) -> result`` callable a native provider thread runs."""
    takes_request = _takes_request(func)

    def call(attempt: int, after_unauthorized: bool) -> Any:
        request = AuthRequest(attempt=attempt, after_unauthorized=after_unauthorized)
        result = func(request) if takes_request else func()
        if inspect.isawaitable(result):
            loop = loop_of()
            if loop is not None and loop.is_running():
                future = asyncio.run_coroutine_threadsafe(_await(result), loop)
                try:
                    result = future.result(timeout)
                except BaseException:
                    future.cancel()
                    raise
            else:
                result = asyncio.run(_await(result))
        return result

    return call
