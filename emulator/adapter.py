"""Serve the emulator in-process behind a `requests` transport adapter: real client code, no sockets."""

from __future__ import annotations

from urllib.parse import urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from .app import Emulator
from .faults import DroppedConnection


class EmulatorAdapter(BaseAdapter):
    def __init__(self, emulator: Emulator) -> None:
        super().__init__()
        self.emulator = emulator

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: object = None,
        verify: object = True,
        cert: object = None,
        proxies: object = None,
    ) -> requests.Response:
        parts = urlsplit(request.url)
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        try:
            answer = self.emulator.handle(
                request.method or "GET",
                parts.path,
                parts.query,
                dict(request.headers),
                body,
                f"{parts.scheme}://{parts.netloc}",
            )
        except DroppedConnection:
            raise requests.ConnectionError(
                "Connection aborted: the emulator dropped it", request=request
            ) from None
        response = requests.Response()
        response.status_code = answer.status
        response._content = answer.encode()
        headers = {"Content-Type": "application/hal+json; charset=utf-8", **answer.headers}
        response.headers = CaseInsensitiveDict(headers)
        response.url = request.url
        response.request = request
        response.reason = {200: "OK", 201: "Created"}.get(answer.status, "")
        response.encoding = "utf-8"
        return response

    def close(self) -> None:
        pass
