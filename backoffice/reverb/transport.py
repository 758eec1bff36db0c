"""Where HTTP sessions come from. Tests and the demo mount an in-process emulator on a URL prefix, so
code under test talks to `http://reverb.test/api` through real `requests` code paths without sockets."""

from __future__ import annotations

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
    return session
