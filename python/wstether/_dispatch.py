"""The threads that run every :class:`~wstether.Client`'s callbacks, shared by the whole process.

One worker thread serves all clients while callbacks return promptly (an idle client costs no
thread). Each client's events still run in order and never concurrently. When a client's events
have waited 100 ms (the core's ``dispatch::STALL``) because every worker is inside a callback, a
watcher thread starts one more worker, so a slow or blocked callback delays other clients by at
most that long, never for good; a worker idle for 10 s ends, except the last one. The policy
lives in the Rust core (``wstether::dispatch``); this module only owns the threads.
"""

from __future__ import annotations

import itertools
import os
import threading
from typing import List, Optional

from . import _native

_lock = threading.Lock()
_watcher: Optional[threading.Thread] = None
_workers: List[threading.Thread] = []
_ids = itertools.count(1)


def ensure_started() -> None:
    """Start the watcher once per process (it starts the first worker when work arrives)."""
    global _watcher
    with _lock:
        if _watcher is None or not _watcher.is_alive():
            _watcher = threading.Thread(target=_watch, name="wstether-dispatch-watch", daemon=True)
            _watcher.start()


def _watch() -> None:
    while _native._dispatch_watch():
        worker = threading.Thread(
            target=_native._dispatch_work, name=f"wstether-dispatch-{next(_ids)}", daemon=True
        )
        with _lock:
            _workers[:] = [w for w in _workers if w.is_alive()]
            _workers.append(worker)
        worker.start()


def stop(timeout: float = 2.0) -> None:
    """Stop the watcher and the workers (at interpreter exit, after the clients were closed)."""
    _native._dispatch_shutdown()
    with _lock:
        threads = [t for t in [_watcher, *_workers] if t is not None]
    for t in threads:
        if t is not threading.current_thread():
            t.join(timeout)


def _after_fork_in_child() -> None:
    # The parent's threads did not come along; the native side makes a new dispatcher.
    global _watcher, _lock
    _lock = threading.Lock()
    _watcher = None
    _workers.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
