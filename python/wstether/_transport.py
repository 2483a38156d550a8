"""How a client reaches its server: the proxy, pinned certificates, a client certificate,
fixed addresses for names, and a URL function called before every attempt. Types are checked
here; the core checks the PEM text, the proxy URL and every URL the function returns.
"""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable, List, Mapping, Optional, Sequence, Tuple, Union

from . import _auth, _values
from .errors import InvalidType

#: ``True``: from the environment (``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY``, ``NO_PROXY``),
#: the default; ``None``: always direct; or a proxy URL (``http://user:pass@host:port``,
#: ``https://…``, ``socks5h://…``).
ProxySetting = Union[bool, str, None]
#: The URL, or a function (plain or ``async``, with or without an :class:`AuthRequest`
#: argument) that returns the URL for each attempt.
UrlFunction = Callable[..., Union[str, Awaitable[str]]]
Url = Union[str, UrlFunction]

#: Where a client with a URL function points until the function's first answer.
PROVIDED_URL = "ws://url-provider.invalid/"

Transport = Tuple[
    str,
    Optional[str],
    List[str],
    Optional[str],
    Optional[str],
    List[Tuple[str, List[str]]],
    Optional[Callable[[int, bool], Any]],
]


def _url_result(result: Any) -> str:
    if not isinstance(result, str):
        raise TypeError(f"the url function must return a str, not {type(result).__name__}")
    return result


def transport(
    url: Url,
    *,
    proxy: ProxySetting,
    pinned_cert_pem: Union[str, Sequence[str], None],
    client_cert_pem: Optional[str],
    client_key_pem: Optional[str],
    resolve: Optional[Mapping[str, Sequence[str]]],
    loop_of: Callable[[], Optional[asyncio.AbstractEventLoop]],
    timeout: float,
) -> Tuple[str, Transport]:
    """The URL for the native constructor and the transport tuple it takes."""
    url_function = None
    if callable(url):
        call = _auth.provider(url, loop_of, timeout)
        url_function = lambda attempt, after_unauthorized: _url_result(call(attempt, after_unauthorized))
        url = PROVIDED_URL
    url = _values.text("url", url)
    if proxy is True:
        kind, proxy_url = "env", None
    elif proxy is None or proxy is False:
        kind, proxy_url = "off", None
    elif isinstance(proxy, str):
        kind, proxy_url = "url", proxy
    else:
        raise InvalidType("proxy must be True (from the environment), None (off) or a proxy URL str")
    if pinned_cert_pem is None:
        pins: List[str] = []
    elif isinstance(pinned_cert_pem, str):
        pins = [pinned_cert_pem]
    else:
        pins = [_values.text("pinned_cert_pem[]", p) for p in pinned_cert_pem]
    cert = None if client_cert_pem is None else _values.text("client_cert_pem", client_cert_pem)
    key = None if client_key_pem is None else _values.text("client_key_pem", client_key_pem)
    fixed: List[Tuple[str, List[str]]] = []
    if resolve is not None:
        if not isinstance(resolve, Mapping):
            raise InvalidType("resolve must map host names to lists of IP address str")
        for host, addresses in resolve.items():
            if isinstance(addresses, str):
                addresses = [addresses]
            fixed.append((_values.text("resolve host", host), [_values.text("resolve[]", a) for a in addresses]))
    return url, (kind, proxy_url, pins, cert, key, fixed, url_function)
