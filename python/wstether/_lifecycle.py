"""Clients still open at interpreter exit are closed by an ``atexit`` hook, before Python
finalizes, then the shared dispatcher threads are stopped: no dispatcher, auth or log thread of
ours touches a dying interpreter."""

from __future__ import annotations

import atexit
import threading
import weakref
from typing import Protocol

from . import _dispatch, _logging, _native


class _Shutdownable(Protocol):
    def _shutdown(self) -> None: ...


_live: "weakref.WeakSet[_Shutdownable]" = weakref.WeakSet()
_lock = threading.Lock()


def register(client: _Shutdownable) -> None:
    """Track a client that has started (it owns threads until it is closed)."""
    with _lock:
        _live.add(client)


def unregister(client: _Shutdownable) -> None:
    """Forget a closed client."""
    with _lock:
        _live.discard(client)


@atexit.register
def _close_all() -> None:
    _native._begin_shutdown()
    with _lock:
        clients = list(_live)
        _live.clear()
    for client in clients:
        try:
            client._shutdown()
        except Exception:  # pragma: no cover - best effort at exit
            _logging.logger.exception("closing a wstether client at exit failed")
    _dispatch.stop()
    _logging.stop()
