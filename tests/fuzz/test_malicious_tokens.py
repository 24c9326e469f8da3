"""The regression set: known JWT attacks and Keycloak look-alikes, each with its exact answer and code.

Every token is posted to the real endpoint. Forgeries that need a key we do not have are signed
with the right key anyway wherever possible, so that the answer depends only on the rule under test.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from rest_framework.test import APIClient

from notifications.models import Notification
from tests.conftest import AUDIENCE, service_claims
from tests.fuzz.jose import b64url, compact, json_bytes
from tests.fuzz.oracle import BODY, URL, assert_created, assert_rejected
from tests.jwks_server import SigningKey

pytestmark = pytest.mark.django_db


@dataclass
class Forge:
    """Builds tokens for one test: the realm's key, an attacker's key, and the realm's issuer."""

    key: SigningKey
    attacker: SigningKey
    issuer: str

    def claims(self, **overrides: Any) -> dict[str, Any]:
        return service_claims(self.issuer, **overrides)

    def header(self, **overrides: Any) -> dict[str, Any]:
        header = {"alg": "RS256", "typ": "JWT", "kid": self.key.kid, **overrides}
        return {name: value for name, value in header.items() if value is not ...}

    def signed(self, header: Any = None, payload: Any = None, *, key: SigningKey | None = None) -> str:
        """RS256-signed by the realm's key (or `key`) whatever the header says."""
        return compact(
            self.header() if header is None else header,
            self.claims() if payload is None else payload,
            key=(key or self.key).private_key,
        )

    def unsigned(self, header: Any, payload: Any = None, signature: bytes = b"") -> str:
        return compact(header, self.claims() if payload is None else payload, signature=signature)

    def hmac(self, secret: bytes, alg: str = "HS256") -> str:
        return compact(self.header(alg=alg), self.claims(), hmac_secret=secret)

    def public_pem(self) -> bytes:
        return self.key.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


def duplicate(claims: dict[str, Any], name: str, first: Any, last: Any) -> bytes:
    """JSON text of `claims` where `name` appears twice: `first` before the others, `last` after."""
    rest = {key: value for key, value in claims.items() if key != name}
    return b"{" + json_bytes({name: first})[1:-1] + b"," + json_bytes(rest)[1:-1] + b"," + json_bytes({name: last})[1:]


def swap_signature(token: str, donor: str) -> str:
    return token.rsplit(".", 1)[0] + "." + donor.rsplit(".", 1)[1]


Build = Callable[[Forge], str]


def case(case_id: str, build: Build, status: int, code: str | None = None):
    return pytest.param(build, status, code, id=case_id)


CASES = [
    # The algorithm is the attacker's choice unless we refuse to let it be.
    *[
        case(f"alg-{alg}-unsigned", lambda f, alg=alg: f.unsigned(f.header(alg=alg)), 401, "invalid_algorithm")
        for alg in ("none", "None", "nOnE", "NONE")
    ],
    case("alg-none-with-a-real-signature", lambda f: f.signed(f.header(alg="none")), 401, "invalid_algorithm"),
    case("alg-missing", lambda f: f.signed(f.header(alg=...)), 401, "invalid_algorithm"),
    case("alg-null", lambda f: f.signed(f.header(alg=None)), 401, "invalid_algorithm"),
    case("alg-list", lambda f: f.signed(f.header(alg=["RS256"])), 401, "invalid_algorithm"),
    case("hs256-keyed-with-the-public-pem", lambda f: f.hmac(f.public_pem()), 401, "invalid_algorithm"),
    case("hs256-keyed-with-the-jwk-n", lambda f: f.hmac(f.key.public_jwk()["n"].encode()), 401, "invalid_algorithm"),
    case("hs512-keyed-with-the-public-pem", lambda f: f.hmac(f.public_pem(), "HS512"), 401, "invalid_algorithm"),
    *[
        case(f"alg-{alg}-not-allowed", lambda f, alg=alg: f.signed(f.header(alg=alg)), 401, "invalid_algorithm")
        for alg in ("RS384", "RS512", "PS256", "ES256", "EdDSA", "rs256")
    ],
    # Signatures.
    case("empty-signature", lambda f: f.unsigned(f.header()), 401, "invalid_signature"),
    case("signed-by-another-key-with-our-kid", lambda f: f.signed(key=f.attacker), 401, "invalid_signature"),
    case(
        "signature-of-another-token",
        lambda f: swap_signature(f.signed(payload=f.claims(client_id="reporting-job")), f.signed()),
        401,
        "invalid_signature",
    ),
    case("signature-truncated", lambda f: f.signed()[:-10], 401, "invalid_signature"),
    # Key ids: looked up in the realm's JWKS only, never used as a path, a query or a URL.
    case("kid-path-traversal", lambda f: f.signed(f.header(kid="../../etc/passwd")), 401, "unknown_key"),
    case("kid-sql", lambda f: f.signed(f.header(kid="' OR '1'='1' --")), 401, "unknown_key"),
    case("kid-url", lambda f: f.signed(f.header(kid="https://evil.example/certs")), 401, "unknown_key"),
    case("kid-nul", lambda f: f.signed(f.header(kid="key-1\x00")), 401, "unknown_key"),
    case("kid-4000-chars", lambda f: f.signed(f.header(kid="k" * 4000)), 401, "unknown_key"),
    case("kid-makes-token-too-large", lambda f: f.signed(f.header(kid="k" * 8000)), 401, "token_too_large"),
    *[
        case(f"kid-{name}", lambda f, kid=kid: f.signed(f.header(kid=kid)), 401, "malformed_token")
        for name, kid in [("int", 1), ("null", None), ("list", ["key-1"]), ("object", {"kid": "key-1"}), ("empty", "")]
    ],
    case("kid-missing", lambda f: f.signed(f.header(kid=...)), 401, "malformed_token"),
    # Header parameters that carry or point at keys, or demand extensions: refused even when signed right.
    case("jku", lambda f: f.signed(f.header(jku="https://evil.example/certs")), 401, "invalid_header"),
    case("x5u", lambda f: f.signed(f.header(x5u="https://evil.example/cert.pem")), 401, "invalid_header"),
    case(
        "x5c", lambda f: f.signed(f.header(x5c=["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"])), 401, "invalid_header"
    ),
    case(
        "jwk-embedded-attacker-key-with-our-kid",
        lambda f: f.signed(f.header(jwk=f.attacker.public_jwk(kid=f.key.kid)), key=f.attacker),
        401,
        "invalid_header",
    ),
    case("jwk-embedded-our-own-key", lambda f: f.signed(f.header(jwk=f.key.public_jwk())), 401, "invalid_header"),
    # PyJWT itself refuses a `crit` naming an extension it lacks, or an empty one, while parsing the header.
    case("crit", lambda f: f.signed(f.header(crit=["exp"])), 401, "malformed_token"),
    case("crit-empty", lambda f: f.signed(f.header(crit=[])), 401, "malformed_token"),
    case("crit-b64-which-pyjwt-knows", lambda f: f.signed(f.header(crit=["b64"], b64=True)), 401, "invalid_header"),
    case("b64-false", lambda f: f.signed(f.header(b64=False)), 401, "malformed_token"),
    # Shapes.
    case(
        "jwe-five-parts",
        lambda f: "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a2V5.aXY.Y2lwaGVy.dGFn",
        401,
        "malformed_token",
    ),
    case("two-dots-huge-segments", lambda f: "e" * 5000 + "." + "e" * 5000 + ".e", 401, "token_too_large"),
    case("two-dots-just-under-the-limit", lambda f: "e" * 4000 + "." + "e" * 4000 + ".e", 401, "malformed_token"),
    case("header-not-an-object", lambda f: f.signed(header=["RS256"]), 401, "malformed_token"),
    case("header-not-json", lambda f: f.signed(header=b"{alg:RS256}"), 401, "malformed_token"),
    case("payload-not-an-object", lambda f: f.signed(payload=["azp", "shop-api"]), 401, "malformed_token"),
    case("payload-not-json", lambda f: f.signed(payload=b"\xff\xfe"), 401, "malformed_token"),
    case("payload-empty", lambda f: f.signed(payload=b""), 401, "malformed_token"),
    # Duplicate keys: Python's json keeps the last one, in the header and the payload alike, and the
    # header is parsed by the same json in both places, so nothing reads the first one.
    case(
        "duplicate-azp-last-is-ours", lambda f: f.signed(payload=duplicate(f.claims(), "azp", "evil", "shop-api")), 201
    ),
    case(
        "duplicate-azp-last-is-evil",
        lambda f: f.signed(payload=duplicate(f.claims(), "azp", "shop-api", "evil")),
        403,
        "not_service_account",
    ),
    case(
        "duplicate-resource-access-last-without-role",
        lambda f: f.signed(
            payload=duplicate(f.claims(), "resource_access", {AUDIENCE: {"roles": ["notifications:send"]}}, {})
        ),
        403,
        "missing_role",
    ),
    case(
        "duplicate-aud-last-is-another-service",
        lambda f: f.signed(payload=duplicate(f.claims(), "aud", AUDIENCE, "account")),
        401,
        "invalid_audience",
    ),
    case(
        "duplicate-typ-last-is-refresh",
        lambda f: f.signed(payload=duplicate(f.claims(), "typ", "Bearer", "Refresh")),
        401,
        "invalid_token_type",
    ),
    case("duplicate-alg-last-is-rs256", lambda f: f.signed(header=duplicate(f.header(), "alg", "none", "RS256")), 201),
    case(
        "duplicate-alg-last-is-none",
        lambda f: f.signed(header=duplicate(f.header(), "alg", "RS256", "none")),
        401,
        "invalid_algorithm",
    ),
    case(
        "duplicate-kid-last-is-unknown",
        lambda f: f.signed(header=duplicate(f.header(), "kid", "key-1", "key-9")),
        401,
        "unknown_key",
    ),
    # Audience: exact membership, no substring, no case folding, no other shapes.
    *[
        case(f"aud-{name}", lambda f, aud=aud: f.signed(payload=f.claims(aud=aud)), 401, "invalid_audience")
        for name, aud in [
            ("substring-suffix", AUDIENCE + "-evil"),
            ("substring-prefix", "x" + AUDIENCE),
            ("list-of-substring", [AUDIENCE + "-evil", "account"]),
            ("trailing-space", AUDIENCE + " "),
            ("other-case", AUDIENCE.upper()),
            ("object", {AUDIENCE: True}),
            ("int", 1),
            ("nested-list", [[AUDIENCE]]),
            ("list-with-a-non-string", [AUDIENCE, 1]),
        ]
    ],
    case("aud-empty-list", lambda f: f.signed(payload=f.claims(aud=[])), 401, "invalid_claims"),
    case("aud-string", lambda f: f.signed(payload=f.claims(aud=AUDIENCE)), 201),
    # Issuer: exact string.
    *[
        case(f"iss-{name}", lambda f, change=change: f.signed(payload=f.claims(iss=change(f.issuer))), 401, code)
        for name, change, code in [
            ("trailing-slash", lambda iss: iss + "/", "invalid_issuer"),
            ("upper-case", str.upper, "invalid_issuer"),
            ("https", lambda iss: iss.replace("http:", "https:"), "invalid_issuer"),
            ("other-realm", lambda iss: iss.replace("techstore", "master"), "invalid_issuer"),
            ("list", lambda iss: [iss], "invalid_issuer"),
            ("missing", lambda iss: ..., "invalid_claims"),
        ]
    ],
    # Times.
    case("exp-1e308-float", lambda f: f.signed(payload=f.claims(exp=1e308)), 201),
    case("exp-huge-int", lambda f: f.signed(payload=f.claims(exp=10**400)), 201),
    case("exp-numeric-string", lambda f: f.signed(payload=f.claims(exp="9999999999")), 401, "invalid_claims"),
    case("exp-nan-string", lambda f: f.signed(payload=f.claims(exp="NaN")), 401, "malformed_token"),
    case("exp-nan-literal", lambda f: f.signed(payload=f.claims(exp=float("nan"))), 401, "malformed_token"),
    case("exp-infinity-literal", lambda f: f.signed(payload=f.claims(exp=float("inf"))), 401, "malformed_token"),
    case("exp-true", lambda f: f.signed(payload=f.claims(exp=True)), 401, "token_expired"),
    case("exp-object", lambda f: f.signed(payload=f.claims(exp={"$gt": 0})), 401, "malformed_token"),
    case("exp-missing", lambda f: f.signed(payload=f.claims(exp=...)), 401, "invalid_claims"),
    case("exp-past", lambda f: f.signed(payload=f.claims(exp=1_600_000_000, iat=1_599_999_700)), 401, "token_expired"),
    case("nbf-future", lambda f: f.signed(payload=f.claims(nbf=f.claims()["iat"] + 3600)), 401, "token_not_yet_valid"),
    case("iat-future", lambda f: f.signed(payload=f.claims(iat=f.claims()["iat"] + 3600)), 401, "token_not_yet_valid"),
    case("iat-string", lambda f: f.signed(payload=f.claims(iat="0")), 401, "invalid_claims"),
    # Token type: Keycloak writes exactly "Bearer" in access tokens; anything else is another kind of token.
    *[
        case(f"typ-{typ or 'empty'}", lambda f, typ=typ: f.signed(payload=f.claims(typ=typ)), 401, "invalid_token_type")
        for typ in ("ID", "Refresh", "Offline", "Logout", "bearer", "BEARER", "")
    ],
    case("typ-missing", lambda f: f.signed(payload=f.claims(typ=...)), 201),
    # Who is calling.
    case(
        "client-id-differs-from-azp",
        lambda f: f.signed(payload=f.claims(client_id="reporting-job")),
        403,
        "not_service_account",
    ),
    case("clientid-only", lambda f: f.signed(payload=f.claims(client_id=..., clientId="shop-api")), 201),
    case(
        "clientid-only-differs-from-azp",
        lambda f: f.signed(payload=f.claims(client_id=..., clientId="reporting-job")),
        403,
        "not_service_account",
    ),
    case(
        "user-token-without-client-id",
        lambda f: f.signed(payload=f.claims(azp="shop-web", client_id=..., sub="a-customer")),
        403,
        "not_service_account",
    ),
    case(
        "role-on-another-client",
        lambda f: f.signed(payload=f.claims(resource_access={"shop-api": {"roles": ["notifications:send"]}})),
        403,
        "missing_role",
    ),
    case(
        "role-as-realm-role",
        lambda f: f.signed(
            payload=f.claims(resource_access=..., realm_access={"roles": ["notifications:send"]}),
        ),
        403,
        "missing_role",
    ),
    case(
        "role-in-other-case",
        lambda f: f.signed(payload=f.claims(resource_access={AUDIENCE: {"roles": ["NOTIFICATIONS:SEND"]}})),
        403,
        "missing_role",
    ),
    case(
        "roles-as-a-string",
        lambda f: f.signed(payload=f.claims(resource_access={AUDIENCE: {"roles": "notifications:send"}})),
        401,
        "invalid_claims",
    ),
    case("azp-empty", lambda f: f.signed(payload=f.claims(azp="", client_id="")), 401, "invalid_claims"),
    case("azp-int", lambda f: f.signed(payload=f.claims(azp=1, client_id=1)), 401, "invalid_claims"),
    case("sub-int", lambda f: f.signed(payload=f.claims(sub=1)), 401, "invalid_claims"),
    case("jti-int", lambda f: f.signed(payload=f.claims(jti=1)), 401, "invalid_claims"),
    case("the-genuine-token", lambda f: f.signed(), 201),
]


@pytest.fixture
def forge(signing_key, other_key, issuer, jwks_server) -> Forge:
    return Forge(key=signing_key, attacker=other_key, issuer=issuer)


def post(token: str):
    return APIClient().post(URL, BODY, format="json", HTTP_AUTHORIZATION=f"Bearer {token}")


@pytest.mark.parametrize(("build", "status", "code"), CASES)
def test_malicious_token_gets_its_exact_answer(forge, build, status, code):
    token = build(forge)
    response = post(token)
    if status == 201:
        created = assert_created(response)
        assert Notification.objects.filter(pk=created["id"]).exists()
        return
    assert (response.status_code, assert_rejected(response, status=status)["code"]) == (status, code)
    assert token not in response.content.decode()
    assert not Notification.objects.exists()


def test_forged_kids_cost_at_most_one_jwks_refetch(forge, jwks_server):
    answers = [post(forge.signed(forge.header(kid=f"forged-{n}"))).json()["code"] for n in range(20)]
    assert answers == ["unknown_key"] * 20
    assert jwks_server.requests == 2  # the first fetch, then one refetch for an unknown kid per cooldown


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"azp": "\ud800", "client_id": "\ud800"}, id="azp"),
        pytest.param({"jti": "trrtcc:\udfff"}, id="jti"),
    ],
)
def test_identity_claim_with_a_lone_surrogate_gets_401_not_500(forge, overrides):
    response = post(forge.signed(payload=forge.claims(**overrides)))
    assert (response.status_code, response.json()["code"]) == (401, "invalid_claims")


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"azp": "shop\x00api", "client_id": "shop\x00api"}, id="azp-nul"),
        pytest.param({"azp": "s" * 256, "client_id": "s" * 256}, id="azp-256-chars"),
        pytest.param({"jti": "j" * 256}, id="jti-256-chars"),
    ],
)
def test_identity_claim_postgresql_cannot_store_gets_401(forge, overrides):
    response = post(forge.signed(payload=forge.claims(**overrides)))
    assert (response.status_code, response.json()["code"]) == (401, "invalid_claims")


def test_the_duplicate_key_payloads_really_carry_two_values(forge):
    """Guard for the duplicate-key cases above: the JSON text holds both values, json keeps the last."""
    text = duplicate(forge.claims(), "azp", "evil", "shop-api")
    assert text.count(b'"azp"') == 2
    assert json.loads(text)["azp"] == "shop-api"
    assert b64url(text) in forge.signed(payload=text)
