"""Any Authorization header: a 401 with `detail`, `code` and a matching challenge, never a 500."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rest_framework.test import APIClient

from tests.fuzz import FUZZ
from tests.fuzz.jose import B64URL_ALPHABET, b64url_decode, b64url_segments
from tests.fuzz.oracle import BODY, URL, assert_created, assert_rejected

pytestmark = pytest.mark.django_db

MAX_HEADER = 8192 + len("Bearer ")

# WSGI hands header values over as latin-1 text.
latin1 = st.characters(codec="latin-1")
any_header = st.text(latin1, max_size=300) | st.binary(max_size=300).map(lambda raw: raw.decode("latin-1"))
schemes = st.sampled_from(["Bearer", "bearer", "BEARER", "bEaReR"])


def post(authorization: str):
    return APIClient().post(URL, BODY, format="json", HTTP_AUTHORIZATION=authorization)


def assert_refused_without_echo(response, credential: str):
    body = assert_rejected(response, status=401)
    if len(credential) >= 16:
        assert credential not in response.content.decode()
    return body


@FUZZ
@given(authorization=any_header)
def test_arbitrary_header_gets_401_and_other_schemes_a_bare_challenge(jwks_server, authorization):
    body = assert_refused_without_echo(post(authorization), authorization)
    ours = re.match(r"\s*bearer", authorization, re.IGNORECASE) or len(authorization) > MAX_HEADER
    if not ours:
        assert body["code"] == "not_authenticated"


@FUZZ
@given(scheme=schemes, credential=st.text(latin1, max_size=300))
def test_bearer_with_arbitrary_credential_gets_401_invalid_token(jwks_server, scheme, credential):
    body = assert_refused_without_echo(post(f"{scheme} {credential}"), credential)
    assert body["code"] != "not_authenticated"


@FUZZ
@given(scheme=schemes, segments=st.tuples(b64url_segments, b64url_segments, b64url_segments))
def test_three_arbitrary_base64url_segments_get_401_invalid_token(jwks_server, scheme, segments):
    token = ".".join(segments)
    body = assert_refused_without_echo(post(f"{scheme} {token}"), token)
    assert body["code"] != "not_authenticated"


@st.composite
def mutations(draw, token: str) -> str:
    """The token with one segment edited, segments swapped, dropped or added, or truncated."""
    segments = token.split(".")
    index = draw(st.integers(0, 2))
    segment = segments[index]
    kind = draw(st.sampled_from(["replace", "insert", "delete", "truncate", "swap", "drop", "add", "cut"]))
    if kind == "replace":
        position = draw(st.integers(0, len(segment) - 1))
        character = draw(st.sampled_from(B64URL_ALPHABET))
        segments[index] = segment[:position] + character + segment[position + 1 :]
    elif kind == "insert":
        position = draw(st.integers(0, len(segment)))
        segments[index] = (
            segment[:position] + draw(st.text(B64URL_ALPHABET, min_size=1, max_size=8)) + segment[position:]
        )
    elif kind == "delete":
        start = draw(st.integers(0, len(segment) - 1))
        segments[index] = segment[:start] + segment[start + draw(st.integers(1, 8)) :]
    elif kind == "truncate":
        segments[index] = segment[: draw(st.integers(0, len(segment) - 1))]
    elif kind == "swap":
        other = draw(st.integers(0, 2).filter(lambda i: i != index))
        segments[index], segments[other] = segments[other], segments[index]
    elif kind == "drop":
        del segments[index]
    elif kind == "add":
        segments.insert(index, draw(b64url_segments))
    else:
        return token[: draw(st.integers(0, len(token) - 1))]
    return ".".join(segments)


def same_jws(token: str, original: str) -> bool:
    """Equal signing input and equal signature bytes (base64url's unused trailing bits may differ)."""
    parts, expected = token.split("."), original.split(".")
    if len(parts) != 3 or parts[:2] != expected[:2]:
        return False
    try:
        return b64url_decode(parts[2]) == b64url_decode(expected[2])
    except ValueError:
        return False


@FUZZ
@given(data=st.data())
def test_mutated_real_token_gets_401_unless_it_is_the_same_signature(make_token, data):
    original = make_token()
    mutated = data.draw(mutations(original), label="mutated")
    response = post(f"Bearer {mutated}")
    if same_jws(mutated, original):
        assert_created(response)
    else:
        body = assert_refused_without_echo(response, mutated)
        assert body["code"] != "not_authenticated"
