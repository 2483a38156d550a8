"""Exceptions raised by wstether: everything derives from :class:`Error`.

Bad arguments also derive from :class:`ValueError`, and wrong types raise :class:`InvalidType`,
a :class:`TypeError`, so generic ``except ValueError`` / ``except TypeError`` code keeps working.
No wstether call raises anything outside this tree for bad input (no bare ``OverflowError``,
no ``PanicException``).
"""

from __future__ import annotations

__all__ = [
    "Error",
    "InvalidUrl",
    "InvalidScheme",
    "InvalidHeader",
    "InvalidOption",
    "InvalidCertificate",
    "MessageTooLarge",
    "QueueFull",
    "InvalidCloseCode",
    "CloseReasonTooLong",
    "ClientClosed",
    "ClientFailed",
    "EventsTaken",
    "Timeout",
    "InvalidType",
    "InternalError",
]


class Error(Exception):
    """Base class of every wstether exception."""


class InvalidUrl(Error, ValueError):
    """The URL does not parse, has no host, or has a #fragment."""


class InvalidScheme(InvalidUrl):
    """The URL's scheme is not ``ws`` or ``wss``."""


class InvalidHeader(Error, ValueError):
    """A header name or value (or a subprotocol) cannot be sent, e.g. it contains CR/LF."""


class InvalidOption(Error, ValueError):
    """An option is out of range (negative, zero or too long a duration, a size over its limit
    in :data:`wstether.LIMITS`, factor < 1, jitter > 1, …); the message names the limit."""


class InvalidType(Error, TypeError):
    """A value has the wrong type, e.g. ``connect_timeout="5"`` or ``send(12)``."""


class InvalidCertificate(Error, ValueError):
    """The extra root CA is not valid PEM or holds no certificate."""


class MessageTooLarge(Error, ValueError):
    """The message exceeds ``max_message_size``; it was not accepted."""


class QueueFull(Error):
    """The outbox is full; the message was not accepted (nothing is dropped silently)."""


class InvalidCloseCode(Error, ValueError):
    """A client may only close with 1000 or 3000–4999."""


class CloseReasonTooLong(Error, ValueError):
    """The close reason is longer than 123 bytes."""


class ClientClosed(Error):
    """The client was closed: it accepts no more messages or commands."""


class ClientFailed(Error):
    """The client gave up (a ``Failed`` event was delivered); it accepts no more messages."""


class EventsTaken(Error, RuntimeError):
    """The client's event stream is already being consumed."""


class Timeout(Error, TimeoutError):
    """An operation did not finish in time."""


class InternalError(Error, RuntimeError):
    """A bug in wstether's native layer, caught at the boundary (please report it). The client
    it happened in may need to be closed; other clients are not affected."""
