"""Signed tokens with arbitrary headers and claims: the answer is exactly what the rules say, never a 500.

`tests.fuzz.oracle` states the rules without m2m_auth's code; a 201 therefore proves the claims
were well-formed and authorising, and a well-formed authorising token that is refused fails too.
"""

from __future__ import annotations

import time

import pytest
from hypothesis import event, given
from hypothesis import strategies as st
from rest_framework.test import APIClient

from notifications.models import Notification
from tests.conftest import AUDIENCE, service_claims
from tests.fuzz import FUZZ
from tests.fuzz.jose import b64url, compact, identifiers, json_bytes, json_values, resign, texts
from tests.fuzz.oracle import (
    BODY,
    URL,
    assert_created,
    assert_rejected,
    denial_code,
    expected_status,
    header_is_acceptable,
)

pytestmark = pytest.mark.django_db


def post(token: str):
    return APIClient().post(URL, BODY, format="json", HTTP_AUTHORIZATION=f"Bearer {token}")


def assert_answer_follows_the_rules(response, claims, *, issuer: str) -> None:
    status = expected_status(claims, issuer=issuer, now=time.time())
    event(f"expected {status}")
    if status == 201:
        created = assert_created(response, sender=claims["azp"])
        notification = Notification.objects.get(pk=created["id"])
        assert notification.token_jti == claims.get("jti", "")
    else:
        body = assert_rejected(response, status=status)
        if status == 403:
            assert body["code"] == denial_code(claims)


def base_header(kid: str) -> dict:
    return {"alg": "RS256", "typ": "JWT", "kid": kid}


# Whole segments replaced


@FUZZ
@given(header=json_values, resigned=st.booleans())
def test_header_replaced_by_any_json_value(make_token, signing_key, header, resigned):
    original = make_token()
    _, payload, signature = original.split(".")
    token = f"{b64url(json_bytes(header))}.{payload}.{signature}"
    if resigned:
        token = resign(token, signing_key.private_key)
    response = post(token)
    if token == original or (resigned and header_is_acceptable(header, signing_key.kid)):
        assert_created(response)
    else:
        assert_rejected(response, status=401)


@FUZZ
@given(payload=json_values | st.binary(max_size=64), resigned=st.booleans())
def test_payload_replaced_by_any_json_value_or_bytes(make_token, signing_key, issuer, payload, resigned):
    header, _, signature = make_token().split(".")
    text = payload if isinstance(payload, bytes) else json_bytes(payload)
    token = f"{header}.{b64url(text)}.{signature}"
    response = post(resign(token, signing_key.private_key) if resigned else token)
    if resigned and isinstance(payload, dict):
        assert_answer_follows_the_rules(response, payload, issuer=issuer)
    else:
        assert_rejected(response, status=401)


# Headers signed with the right key


def header_values(kid: str, jwk: dict):
    return {
        "alg": st.sampled_from(["RS256", "RS384", "RS512", "PS256", "ES256", "EdDSA", "HS256", "HS512"])
        | st.sampled_from(["none", "None", "NONE", "nOnE", "", "rs256", "RS256 "])
        | json_values,
        "kid": st.sampled_from([kid, "key-2", "", "../../etc/passwd", "' OR '1'='1", kid.upper(), kid + "\x00"])
        | json_values,
        "typ": st.sampled_from(["JWT", "at+jwt", "JWE", ""]) | json_values,
        "cty": json_values,
        "crit": st.just(["exp"]) | json_values,
        "jku": st.just("https://evil.example/certs") | json_values,
        "x5u": st.just("https://evil.example/cert.pem") | json_values,
        "jwk": st.just(jwk) | json_values,
        "x5c": st.just(["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"]) | json_values,
        "b64": st.booleans() | json_values,
        "zip": st.just("DEF") | json_values,
    }


@FUZZ
@given(data=st.data())
def test_arbitrary_header_parameters_signed_with_the_right_key(make_token, signing_key, data):
    values = header_values(signing_key.kid, signing_key.public_jwk())
    header = base_header(signing_key.kid)
    for name in data.draw(st.lists(st.sampled_from(sorted(header)), unique=True, max_size=2), label="dropped"):
        del header[name]
    header.update(data.draw(st.fixed_dictionaries({}, optional=values), label="set"))
    header.update(data.draw(st.dictionaries(texts, json_values, max_size=2), label="extra"))
    payload = make_token().split(".")[1]
    token = resign(f"{b64url(json_bytes(header))}.{payload}.", signing_key.private_key)
    response = post(token)
    if header_is_acceptable(header, signing_key.kid):
        assert_created(response)
    else:
        assert_rejected(response, status=401)


# Claims signed with the right key


def now() -> int:
    return int(time.time())


def seconds_from_now(offsets):
    """Times relative to the moment of drawing, as ints and as floats."""
    return st.builds(lambda offset, fraction: now() + offset + fraction, offsets, st.sampled_from([0, 0.5]))


# Offsets stay 90 s away from the 30 s leeway so that a slow example cannot cross a boundary.
future = seconds_from_now(st.integers(120, 10**9))
past = seconds_from_now(st.integers(-(10**9), -120))
not_numbers = (
    st.sampled_from(["9999999999", "NaN", "Infinity", "1e308", "", "0x7fffffff", float("nan"), float("inf")])
    | st.booleans()
    | st.none()
    | st.lists(st.integers(), max_size=2)
    | json_values
)
not_strings = json_values.filter(lambda value: not isinstance(value, str))


def claim_values(issuer: str) -> dict[str, tuple]:
    """Per claim: values of an acceptable shape, and anything else. Only the generation is biased
    by this split; what the endpoint must answer is decided by the oracle alone."""
    clients = st.sampled_from(["shop-api", "reporting-job", "SHOP-API", "shop-api "]) | identifiers
    roles = st.lists(st.sampled_from(["notifications:send", "notifications:read", "NOTIFICATIONS:SEND"]) | texts)
    holders = st.fixed_dictionaries({}, optional={"roles": roles})
    access = st.dictionaries(st.sampled_from([AUDIENCE, "account", "shop-api"]) | texts, holders, max_size=3)
    return {
        "exp": (future | st.sampled_from([10**20, 10**400, 1e308, 2**63]), past | st.just(1e-300) | not_numbers),
        "iat": (past | st.sampled_from([0, -1, -1e308]), future | st.just(1e308) | not_numbers),
        "nbf": (past, future | not_numbers),
        "iss": (
            st.just(issuer),
            st.sampled_from([issuer + "/", issuer.upper(), issuer.replace("http:", "https:"), "", [issuer]])
            | json_values,
        ),
        "aud": (
            st.sampled_from([AUDIENCE, [AUDIENCE], [AUDIENCE, "account"]])
            | st.lists(st.sampled_from([AUDIENCE, "account"]) | texts, max_size=3).map(lambda auds: [AUDIENCE, *auds]),
            st.sampled_from(
                [["account"], AUDIENCE + "-evil", [AUDIENCE + "-evil"], "x" + AUDIENCE, [AUDIENCE, 1], {AUDIENCE: True}]
            )
            | st.sampled_from([[], "", AUDIENCE.upper(), [[AUDIENCE]]])
            | json_values,
        ),
        "sub": (texts, not_strings),
        "azp": (clients, st.just("") | not_strings),
        "client_id": (clients, not_strings),
        "clientId": (clients, not_strings),
        "jti": (identifiers, not_strings),
        "typ": (st.just("Bearer"), st.sampled_from(["bearer", "ID", "Refresh", "Offline", "BEARER", ""]) | json_values),
        "scope": (texts, not_strings),
        "realm_access": (holders, json_values),
        "resource_access": (
            access | st.just({AUDIENCE: {"roles": ["notifications:send"]}}),
            json_values | st.dictionaries(texts, json_values, max_size=2),
        ),
    }


@FUZZ
@given(data=st.data())
def test_arbitrary_claim_values_signed_with_the_right_key(signing_key, issuer, data):
    values = claim_values(issuer)
    changed = data.draw(st.lists(st.sampled_from(sorted(values)), unique=True, min_size=1, max_size=4), label="names")
    overrides = {}
    for name in changed:
        acceptable, anything = values[name]
        kind = data.draw(st.sampled_from(["acceptable"] * 3 + ["anything", "dropped"]), label=f"{name} kind")
        strategy = {"acceptable": acceptable, "anything": anything, "dropped": st.just(...)}[kind]
        overrides[name] = data.draw(strategy, label=name)
    claims = service_claims(issuer, **overrides)
    response = post(compact(base_header(signing_key.kid), claims, key=signing_key.private_key))
    assert_answer_follows_the_rules(response, claims, issuer=issuer)


@FUZZ
@given(claims=st.dictionaries(texts, json_values, max_size=6))
def test_arbitrary_claim_sets_signed_with_the_right_key(signing_key, issuer, claims):
    response = post(compact(base_header(signing_key.kid), claims, key=signing_key.private_key))
    assert_answer_follows_the_rules(response, claims, issuer=issuer)
