"""The status -> error mapping and how errors read, without the emulator (scripted answers)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from backoffice.reverb.errors import (
    ConstraintError,
    ForbiddenError,
    MethodNotAllowedError,
    NotFoundError,
    RateLimitedError,
    ReverbError,
    ServerError,
    TransportError,
    UnauthorizedError,
    ValidationError,
    error_for_status,
    parse_retry_after,
)
from tests.conftest import EMULATOR_API_URL
from tests.reverb.conftest import reply, scripted_client

URL = f"{EMULATOR_API_URL}/listings/123"


@pytest.mark.parametrize(
    ("status", "cls", "retryable"),
    [
        (400, ValidationError, False),
        (412, ValidationError, False),
        (422, ValidationError, False),
        (401, UnauthorizedError, False),
        (403, ForbiddenError, False),
        (404, NotFoundError, False),
        (405, MethodNotAllowedError, False),
        (406, ConstraintError, False),
        (429, RateLimitedError, True),
        (500, ServerError, True),
        (502, ServerError, True),
        (503, ServerError, True),
        (409, ReverbError, False),
    ],
)
def test_status_mapping(status: int, cls: type, retryable: bool) -> None:
    error = error_for_status(status, {"message": "nope"}, method="GET", url=URL)
    assert type(error) is cls
    assert error.retryable is retryable
    assert error.status == status and error.message == "nope"


def test_406_through_the_client_is_a_constraint_error() -> None:
    # The emulator answers a published-listing delete with 400 (API-NOTES 4.3), so 406 is scripted.
    client, _ = scripted_client(reply(406, {"message": "Could not complete: listing is live"}))
    with pytest.raises(ConstraintError) as info:
        client.delete_draft(123)
    assert info.value.status == 406 and not info.value.retryable


def test_validation_error_reads_like_a_person_wrote_it() -> None:
    body = {"message": "Price must be greater than 0", "errors": {"price": ["must be greater than 0"]}}
    error = error_for_status(412, body, method="PUT", url=URL)
    assert str(error) == (
        "412 Precondition Failed on PUT /api/listings/123: Price must be greater than 0; "
        "price: must be greater than 0"
    )
    assert error.field_errors() == {"price": ["must be greater than 0"]}
    assert error.body == body


def test_list_form_errors_land_under_all() -> None:
    error = error_for_status(400, {"message": "Bad", "errors": ["one", "two"]}, method="POST", url=URL)
    assert error.field_errors() == {"__all__": ["one", "two"]}
    assert str(error).endswith("Bad; one, two")


def test_message_falls_back_to_error_then_to_the_status_phrase() -> None:
    assert error_for_status(400, {"error": "topic is bad"}, method="GET", url=URL).message == "topic is bad"
    assert error_for_status(404, None, method="GET", url=URL).message == "Not Found"
    html = error_for_status(502, "<html>Bad gateway</html>", method="GET", url=URL)
    assert html.message.startswith("<html>")


def test_field_errors_tolerate_scalar_messages() -> None:
    body = {"message": "x", "errors": {"make": "can't be blank"}}
    error = error_for_status(412, body, method="POST", url=URL)
    assert error.field_errors() == {"make": ["can't be blank"]}


def test_retry_after_seconds_and_http_date() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("1.5") == 1.5
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:07 GMT", now=now) == 7.0
    assert parse_retry_after("Thu, 01 Jan 2026 11:00:00 GMT", now=now) == 0.0  # in the past: go now
    error = error_for_status(
        429, {"message": "Too Many Requests"}, method="GET", url=URL, headers={"Retry-After": "4"}
    )
    assert isinstance(error, RateLimitedError) and error.retry_after == 4.0


def test_transport_error_flags() -> None:
    error = TransportError("connection lost", method="POST", url=URL, maybe_applied=True)
    assert error.maybe_applied and not error.retryable
    assert "POST /api/listings/123" in str(error)


def test_errors_never_carry_the_token() -> None:
    token = "secret-token-abcdef"
    client, adapter = scripted_client(reply(401, {"message": f"bad token {token}"}), token=token)
    with pytest.raises(UnauthorizedError) as info:
        client.get_account()
    assert adapter.sent[0].headers["Authorization"] == f"Bearer {token}"
    for text in (str(info.value), repr(info.value), info.value.message, repr(client), str(client)):
        assert token not in text
