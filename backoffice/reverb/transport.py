"""Where HTTP sessions come from. Tests and the demo mount an in-process emulator on a URL prefix, so
code under test talks to `http://reverb.test/api` through real `requests` code paths without sockets."""

from __future__ import annotations

import os
import urllib.request

import requests
from requests.adapters import BaseAdapter, HTTPAdapter

_transports: dict[str, BaseAdapter] = {}


def register_transport(prefix: str, adapter: BaseAdapter) -> None:
    _transports[prefix] = adapter


def unregister_transport(prefix: str) -> None:
    _transports.pop(prefix, None)


def new_session(pool_size: int = 4) -> requests.Session:
    """A keep-alive session; retries are the client's job, so urllib3's own are off."""
    session = requests.Session()
    http = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)
    session.mount("http://", http)
    session.mount("https://", http)
    for prefix, adapter in _transports.items():
        session.mount(prefix, adapter)
    _settle_environment(session)
    return session


def _settle_environment(session: requests.Session) -> None:
    """Read the environment once, not per request.

    With `trust_env` on, requests looks up proxy variables and ~/.netrc on every request (a measurable
    share of a fast page). When no proxy is configured (the usual case) we read the environment here
    once, turn `trust_env` off and keep what it would have given: a CA bundle from REQUESTS_CA_BUNDLE /
    CURL_CA_BUNDLE. netrc is not consulted (the client always sends its own bearer token). When a proxy
    *is* configured, `trust_env` stays on, because only then does requests honour NO_PROXY per URL:
    correctness over the few hundred microseconds per request."""
    if urllib.request.getproxies():
        return
    session.trust_env = False
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        session.verify = bundle
