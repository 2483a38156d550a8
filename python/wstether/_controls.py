"""What both clients offer beyond sending and receiving: thin delegations to the native client."""

from __future__ import annotations

from typing import List

from ._native import NativeClient, Stats, Transition
from .events import State


class Controls:
    """Lifecycle controls and introspection shared by ``Client`` and ``AsyncClient``."""

    _native: NativeClient

    def pause(self) -> None:
        """Close the link and stay disconnected until ``resume()``; sends keep queueing."""
        self._native.pause()

    def resume(self) -> None:
        """Leave ``paused`` and connect at once."""
        self._native.resume()

    def reconnect_now(self) -> None:
        """Skip the current backoff delay (the handshake budget still applies)."""
        self._native.reconnect_now()

    def reconnect_to(self, url: str) -> None:
        """Move to ``url`` at once (a server-directed reconnect, as Twitch and Discord send):
        the link closes with 1000 and the client connects to ``url`` without a backoff delay.
        ``url`` is the client's URL from then on (with a url function: the next attempt only)."""
        self._native.reconnect_to(url)

    def network_changed(self) -> None:
        """The network changed: verify an open link with a short ping, or retry now if waiting."""
        self._native.network_changed()

    @property
    def state(self) -> State:
        """The current state: idle, connecting, open, waiting, paused, closing, closed or failed."""
        return self._native.state  # type: ignore[return-value]

    @property
    def url(self) -> str:
        """The URL, with token-like query values redacted."""
        return self._native.url

    def stats(self) -> Stats:
        """A snapshot of the counters."""
        return self._native.stats()

    def history(self) -> List[Transition]:
        """The last 64 state changes with their causes, oldest first."""
        return self._native.history()
