"""Reverb's answers are parsed with orjson where it reads exactly what the standard library reads, and with
the standard library wherever it might not (backoffice/reverb/client.py `loads`)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from backoffice.reverb import client
from backoffice.reverb.client import loads
from tests.factories import listing_payload, order_payload

SAME = [
    b'{"a":1,"a":2}',  # a key twice: the last one, as json.loads
    b'{"x":123456789012345678901234567890}',  # beyond 64 bits: an int, never a float
    b'{"x": -123456789012345678901234567890}',
    b"[1234567890123456789]",
    b"  -1234567890123456789012",
    b'{"x":18446744073709551615}',
    b'{"x":1e400}',  # orjson refuses what json.loads reads
    b'{"x":NaN}',
    b'{"x":"\\ud800"}',
    '{"x":"é"}'.encode("utf-16"),
    b'\xef\xbb\xbf{"x":1}',
    '{"x":"\ud800"}'.encode("utf-8", "surrogatepass"),
    b'{"x":-0.0,"y":-0,"z":1E2,"w":0.12345678901234567890123}',
    b'{"code":"9457833880644867412315","note":"x:9457833880644867412315"}',  # long digits in strings
    b'  {"a": [1, 2, {"b": null, "c": true}]}  \n',
]


@pytest.mark.parametrize("text", SAME)
def test_loads_answers_what_json_loads_answers(text: bytes) -> None:
    assert repr(loads(text)) == repr(json.loads(text))


def test_a_page_with_long_tracking_codes_is_parsed_by_orjson_and_a_long_number_by_the_standard_library(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    used: list[str] = []
    standard = json.loads
    monkeypatch.setattr(client.jsonlib, "loads", lambda text: used.append("json") or standard(text))
    order = order_payload(1)
    order["shipping_code"] = "9457833880644867412315"
    page: dict[str, Any] = {"orders": [order], "listings": [listing_payload(1)], "total": 2}
    assert loads(json.dumps(page).encode()) == page and used == []
    page["total"] = 2**70
    text = json.dumps(page).encode()
    assert loads(text) == page and used == ["json"]
    assert type(loads(text)["total"]) is int
