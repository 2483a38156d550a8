"""Core log records → the ``wstether`` logger, drained by one background thread.

The core logs from tokio workers, which never touch Python; records wait in a native queue that
this thread empties (the GIL is released while it waits). Only records at or above the logger's
effective level are formatted at all; the level is re-read on every wake and on client creation.
"""

from __future__ import annotations

import logging
import threading
from typing import Optional

from . import _native

logger = logging.getLogger("wstether")

_lock = threading.Lock()
_thread: Optional[threading.Thread] = None
_stop = threading.Event()


def sync_level() -> None:
    """Tell the native layer which levels the ``wstether`` logger lets through now."""
    _native._set_log_level(logger.getEffectiveLevel())


def _emit_pending(timeout: float) -> None:
    records, dropped = _native._next_log_records(timeout)
    for level, name, message in records:
        (logging.getLogger("wstether." + name) if name else logger).log(level, "%s", message)
    if dropped:
        logger.warning("%d wstether log records were dropped (logging could not keep up)", dropped)


def _run() -> None:
    while not _stop.is_set():
        sync_level()
        _emit_pending(0.5)
    _emit_pending(0.0)


def start() -> None:
    """Start the log thread once per process (on the first client)."""
    global _thread
    with _lock:
        sync_level()
        if _thread is None or not _thread.is_alive():
            _stop.clear()
            _thread = threading.Thread(target=_run, name="wstether-log", daemon=True)
            _thread.start()


def stop() -> None:
    """Flush and stop the log thread (at interpreter exit)."""
    global _thread
    with _lock:
        thread, _thread = _thread, None
    if thread is not None:
        _stop.set()
        _native._wake_log_thread()
        thread.join(2.0)
