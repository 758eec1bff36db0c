"""THE way the product calls anything that is not Reverb (stock feeds, event deliveries, the shop's chat
webhook): addresses typed by a person, so every call is careful the same way.

- http/https only; the host is resolved once and its every address must be public (no loopback, private,
  link-local, reserved or multicast address) unless OUTBOUND_ALLOW_PRIVATE;
- the connection goes to the checked address and no other (`PinnedAdapter`: no second resolution for a
  rebinding DNS to answer differently; the Host header, TLS SNI and the certificate check still use the URL's
  host); no proxy (a proxy would resolve the name again);
- no redirects (a 3xx is the caller's answer, never followed), and a timeout the caller must give.

Each refusal is an `OutboundError` whose message is a sentence naming what was called ("The feed URL has no
host."). Reverb is called through backoffice/reverb/client.py, never here."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal
from urllib.parse import urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter


class OutboundError(Exception):
    """The URL was refused before anything was sent (its scheme, host, port or address)."""


def check_url(url: str, what: str = "URL") -> str:
    """The one address `url` is called at: its host resolved once, every address it has checked (public
    only, unless OUTBOUND_ALLOW_PRIVATE). `what` names the URL in the refusal ("feed", "chat webhook")."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise OutboundError(
            f"Only http and https {what} URLs are fetched, not {parts.scheme or 'no scheme'}."
        )
    if not parts.hostname:
        raise OutboundError(f"The {what} URL has no host.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise OutboundError(f"The {what} URL has a bad port: {exc}.") from exc
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise OutboundError(f"The {what} host {parts.hostname} could not be resolved: {exc}.") from exc
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    if not addresses:
        raise OutboundError(f"The {what} host {parts.hostname} has no address.")
    if not settings.OUTBOUND_ALLOW_PRIVATE:
        for address in addresses:
            if not address.is_global or address.is_multicast:
                raise OutboundError(
                    f"The {what} host {parts.hostname} is at a private or loopback address ({address}); "
                    "calling such addresses needs OUTBOUND_ALLOW_PRIVATE."
                )
    return str(addresses[0])


class PinnedAdapter(HTTPAdapter):
    """Connects to `address` (the checked one) whatever the URL's host resolves to now, while the request
    still names the host: the Host header is set by `call`, and TLS sends the host as SNI and checks the
    certificate against it (`server_hostname`, `assert_hostname`)."""

    def __init__(self, hostname: str, address: str) -> None:
        self.hostname, self.address = hostname, address
        super().__init__(max_retries=0)

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: Any, cert: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        host_params["host"] = self.address
        if host_params.get("scheme") == "https":
            pool_kwargs["server_hostname"] = self.hostname
            pool_kwargs["assert_hostname"] = self.hostname
        return host_params, pool_kwargs


def pinned_session(url: str, address: str) -> requests.Session:
    """A session that sends `url`'s requests to `address` only, ignoring proxy settings."""
    session = requests.Session()
    session.trust_env = False
    parts = urlsplit(url)
    session.mount(f"{parts.scheme}://", PinnedAdapter(parts.hostname or "", address))
    return session


@contextmanager
def call(
    method: Literal["get", "post"],
    url: str,
    *,
    timeout: float | tuple[float, float],
    what: str = "URL",
    headers: dict[str, str] | None = None,
    **kwargs: Any,
) -> Iterator[requests.Response]:
    """`with call("post", url, timeout=..., json=...) as response:` the URL checked (OutboundError), the
    connection pinned to the checked address, no redirects followed; requests' own errors pass through."""
    address = check_url(url, what)
    host = urlsplit(url).netloc.rpartition("@")[2]  # the Host header: the URL's host[:port]
    with (
        pinned_session(url, address) as session,
        getattr(session, method)(
            url, headers={**(headers or {}), "Host": host}, timeout=timeout, allow_redirects=False, **kwargs
        ) as response,
    ):
        yield response
