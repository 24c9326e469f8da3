"""Any body and any Idempotency-Key behind a valid token: 201 for valid input, else 400/415, never a 500."""

from __future__ import annotations

import codecs
import io
import json

import pytest
from django.core import mail
from hypothesis import assume, event, example, given
from hypothesis import strategies as st
from rest_framework.test import APIClient

from notifications.models import Notification
from tests.fuzz import FUZZ
from tests.fuzz.jose import strict_json_values, texts
from tests.fuzz.oracle import (
    BODY,
    IDEMPOTENCY_KEY,
    ORDER_ID,
    URL,
    assert_created,
    invalid_fields,
)

pytestmark = pytest.mark.django_db


order_ids = (
    st.from_regex(ORDER_ID, fullmatch=True)
    | st.sampled_from(["1001", " 1001 ", "1001\n", "a" * 64, "a" * 65, "-1", "1; DROP TABLE", "\u0661\u0662", "1\x00"])
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts
    | strict_json_values
)
emails = (
    st.emails()
    | st.sampled_from(
        [
            "customer@example.com",
            " customer@example.com\n",
            "a@b\u00e9.example",
            '"quoted"@example.com',
            "a@[127.0.0.1]",
            "a" * 64 + "@" + "b" * 63 + ".com",
            "a" * 250 + "@b.co",
            "a@localhost",
            "a@example.com\x00",
        ]
    )
    | texts
    | strict_json_values
)
bodies = strict_json_values | st.fixed_dictionaries(
    {}, optional={"orderId": order_ids, "userEmail": emails, "extra": strict_json_values}
)


@pytest.fixture
def client(make_token):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {make_token()}")
    return client


def assert_answer_follows_the_body_rules(response, body) -> None:
    invalid = invalid_fields(body)
    event(f"invalid: {', '.join(sorted(invalid)) or 'none'}")
    if not invalid:
        assert_created(response, body=body)
        return
    assert response.status_code == 400, (response.status_code, response.content[:500])
    errors = response.json()
    assert set(errors) == invalid
    assert all(isinstance(messages, list) and messages for messages in errors.values())
    assert all(isinstance(message, str) for messages in errors.values() for message in messages)


@FUZZ
@given(body=bodies)
@example(body=[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]])
def test_any_json_body_gets_201_when_valid_else_400_naming_the_fields(client, body):
    before = Notification.objects.count()
    response = client.post(URL, json.dumps(body).encode(), content_type="application/json")
    assert_answer_follows_the_body_rules(response, body)
    assert Notification.objects.count() == before + (response.status_code == 201)


def strict_json(raw: bytes):
    """What DRF's JSONParser reads from `raw`, or ValueError: UTF-8 through a stream reader (which
    drops an incomplete sequence at the very end rather than refusing it), no BOM, no NaN/Infinity."""

    def refuse(constant):
        raise ValueError(constant)

    text = codecs.getreader("utf-8")(io.BytesIO(raw)).read()
    return json.loads(text, parse_constant=refuse) if raw else {}


@FUZZ
@given(raw=st.binary(max_size=200) | bodies.map(lambda body: json.dumps(body).encode()).map(lambda raw: raw[:-1]))
@example(raw=b"\xef\xbb\xbf{}")
@example(raw=b'{"orderId": NaN, "userEmail": "a@example.com"}')
@example(raw=b'{"orderId": "1", "userEmail": "a@example.com"}\xc2')
def test_any_bytes_as_json_get_400_parse_error_unless_they_are_json(client, raw):
    response = client.post(URL, raw, content_type="application/json")
    try:
        body = strict_json(raw)
    except ValueError:
        assert response.status_code == 400
        answer = response.json()
        assert set(answer) == {"detail", "code"} and answer["code"] == "parse_error"
        assert answer["detail"].startswith("JSON parse error - ")
    else:
        assert_answer_follows_the_body_rules(response, body)


idn_domains = st.tuples(
    st.text(st.characters(categories=["L", "N"], max_codepoint=0xFFFF), min_size=1, max_size=12),
    st.sampled_from(["com", "de", "example", "xn--p1ai"]),
).map(".".join)
addresses = st.emails() | st.builds("{}@{}".format, st.from_regex(r"[a-z0-9._%+-]{1,20}", fullmatch=True), idn_domains)


@FUZZ
@given(order_id=st.from_regex(ORDER_ID, fullmatch=True) | st.integers(0, 10**40), address=addresses)
def test_valid_order_and_address_get_201_and_exactly_one_email(client, order_id, address):
    body = {"orderId": order_id, "userEmail": address}
    assume(not invalid_fields(body))
    sent_before = len(mail.outbox)
    response = client.post(URL, body, format="json")
    assert_created(response, body=body)
    assert [message.to for message in mail.outbox[sent_before:]] == [[address]]


@pytest.mark.parametrize("address", ["a@\ue000.com", "a@\ufffd.com", "a@\u3002.com", "a@\u00ad.com"])
def test_address_the_mail_layer_cannot_encode_gets_400_not_503(client, address):
    response = client.post(URL, {"orderId": "1001", "userEmail": address}, format="json")
    assert (response.status_code, list(response.json())) == (400, ["userEmail"])


@FUZZ
@given(
    content_type=st.sampled_from(
        [
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/xml",
            "application/jsonx",
            "",
        ]
    ),
    raw=st.binary(min_size=1, max_size=100),
)
def test_non_json_content_type_gets_415(client, content_type, raw):
    response = client.generic("POST", URL, raw, content_type=content_type)
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"
    assert set(response.json()) == {"detail", "code"}


# Header values cannot carry CR, LF or NUL over HTTP; a trailing LF has its own test below.
header_text = st.text(st.characters(codec="latin-1", exclude_characters="\r\n\x00"), max_size=300)


@FUZZ
@given(key=header_text | st.from_regex(IDEMPOTENCY_KEY, fullmatch=True) | st.sampled_from(["k", "k" * 255, "k" * 256]))
def test_any_idempotency_key_gets_201_when_visible_ascii_else_400(client, key):
    replay = Notification.objects.filter(sender="shop-api", idempotency_key=key).exists()
    response = client.post(URL, BODY, format="json", HTTP_IDEMPOTENCY_KEY=key)
    if IDEMPOTENCY_KEY.fullmatch(key):
        assert_created(response)
        assert response.get("Idempotent-Replayed") == ("true" if replay else None)
    else:
        assert response.status_code == 400
        assert response.json() == {"Idempotency-Key": ["Idempotency-Key must be 1 to 255 visible ASCII characters."]}


def test_idempotency_key_with_a_trailing_newline_gets_400(client):
    response = client.post(URL, BODY, format="json", HTTP_IDEMPOTENCY_KEY="key-1\n")
    assert response.status_code == 400


def test_deeply_nested_json_body_gets_400_not_500(client):
    response = client.post(URL, b"[" * 100_000 + b"]" * 100_000, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
