"""Every rule of `validate_token`, each with a token that breaks only that rule."""

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest

from m2m_auth import exceptions
from m2m_auth.validation import validate_token
from tests.conftest import service_claims


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _forge(header: dict, claims: dict, signature: str = "") -> str:
    return f"{_b64(header)}.{_b64(claims)}.{signature}"


def test_accepts_a_keycloak_shaped_service_token(make_token):
    claims = validate_token(make_token())
    assert claims["azp"] == "shop-api"
    assert claims["resource_access"]["notification-service"]["roles"] == ["notifications:send"]


def test_rejects_alg_none_without_fetching_keys(jwks_server, issuer):
    token = _forge({"alg": "none", "typ": "JWT", "kid": "key-1"}, service_claims(issuer))
    with pytest.raises(exceptions.DisallowedAlgorithm):
        validate_token(token)
    assert jwks_server.requests == 0


@pytest.mark.parametrize("alg", ["None", "NONE", "HS256", "HS512", "RS384", "ES256"])
def test_rejects_algorithms_outside_the_allow_list(jwks_server, issuer, alg):
    token = _forge({"alg": alg, "kid": "key-1"}, service_claims(issuer), "c2ln")
    with pytest.raises(exceptions.DisallowedAlgorithm):
        validate_token(token)
    assert jwks_server.requests == 0


def test_rejects_token_signed_with_hmac_using_the_public_key(jwks_server, signing_key, issuer):
    from cryptography.hazmat.primitives import serialization

    public_pem = signing_key.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "kid": "key-1", "typ": "JWT"}
    signing_input = f"{_b64(header)}.{_b64(service_claims(issuer))}".encode()
    signature = base64.urlsafe_b64encode(hmac.new(public_pem, signing_input, hashlib.sha256).digest()).rstrip(b"=")
    with pytest.raises(exceptions.DisallowedAlgorithm):
        validate_token(signing_input.decode() + "." + signature.decode())
    assert jwks_server.requests == 0


def test_rejects_keycloak_refresh_token_hs512_without_touching_jwks(jwks_server, issuer):
    refresh = jwt.encode(
        {"typ": "Refresh", "iss": issuer, "aud": issuer, "exp": int(time.time()) + 1800, "azp": "shop-web"},
        "realm-secret-" * 8,
        algorithm="HS512",
        headers={"kid": "hmac-kid"},
    )
    with pytest.raises(exceptions.DisallowedAlgorithm):
        validate_token(refresh)
    assert jwks_server.requests == 0


def test_rejects_id_token_by_its_typ_claim(make_token):
    with pytest.raises(exceptions.InvalidTokenType):
        validate_token(make_token(typ="ID"))


def test_rejects_refresh_typ_even_when_rsa_signed(make_token):
    with pytest.raises(exceptions.InvalidTokenType):
        validate_token(make_token(typ="Refresh"))


def test_accepts_token_without_typ_claim(make_token):
    assert validate_token(make_token(typ=...))["azp"] == "shop-api"


def test_rejects_expired_token(make_token):
    now = int(time.time())
    with pytest.raises(exceptions.TokenExpired):
        validate_token(make_token(iat=now - 400, exp=now - 31))


def test_accepts_recently_expired_token_within_leeway(make_token):
    now = int(time.time())
    assert validate_token(make_token(iat=now - 300, exp=now - 20))


def test_rejects_token_not_yet_valid(make_token):
    now = int(time.time())
    with pytest.raises(exceptions.TokenNotYetValid):
        validate_token(make_token(nbf=now + 60))


def test_accepts_nbf_slightly_in_the_future_within_leeway(make_token):
    assert validate_token(make_token(nbf=int(time.time()) + 20))


def test_rejects_token_issued_in_the_future(make_token):
    with pytest.raises(exceptions.TokenNotYetValid):
        validate_token(make_token(iat=int(time.time()) + 120))


def test_rejects_wrong_issuer(make_token, issuer):
    with pytest.raises(exceptions.InvalidIssuer):
        validate_token(make_token(iss=issuer.replace("techstore", "otherrealm")))


def test_issuer_must_match_byte_for_byte(make_token, issuer):
    with pytest.raises(exceptions.InvalidIssuer):
        validate_token(make_token(iss=issuer + "/"))
    with pytest.raises(exceptions.InvalidIssuer):
        validate_token(make_token(iss=issuer.replace("127.0.0.1", "localhost")))


def test_rejects_wrong_audience(make_token):
    with pytest.raises(exceptions.InvalidAudience):
        validate_token(make_token(aud=["account", "reporting-api"]))


def test_accepts_audience_given_as_a_string(make_token):
    assert validate_token(make_token(aud="notification-service"))


def test_audience_is_configurable(make_token, settings):
    settings.M2M_AUTH = {**settings.M2M_AUTH, "AUDIENCE": "reporting-api"}
    assert validate_token(make_token(aud="reporting-api"))
    with pytest.raises(exceptions.InvalidAudience):
        validate_token(make_token())


@pytest.mark.parametrize("claim", ["exp", "iat", "iss", "aud", "azp", "sub"])
def test_rejects_token_missing_a_required_claim(make_token, claim):
    with pytest.raises(exceptions.InvalidClaims, match=claim):
        validate_token(make_token(**{claim: ...}))


@pytest.mark.parametrize("claim", ["exp", "iat", "nbf"])
def test_rejects_time_claims_that_are_not_json_numbers(make_token, claim):
    value = str(int(time.time()) + (200 if claim == "exp" else -10))
    with pytest.raises(exceptions.InvalidClaims):
        validate_token(make_token(**{claim: value}))


def test_rejects_boolean_time_claim(make_token):
    with pytest.raises(exceptions.InvalidClaims):
        validate_token(make_token(nbf=True))


@pytest.mark.parametrize(
    "overrides",
    [
        {"resource_access": ["notification-service"]},
        {"resource_access": {"notification-service": {"roles": "notifications:send"}}},
        {"resource_access": {"notification-service": ["notifications:send"]}},
        {"realm_access": {"roles": "admin"}},
        {"realm_access": "admin"},
        {"scope": ["profile"]},
        {"azp": ["shop-api"]},
        {"azp": ""},
        {"client_id": 7},
        {"sub": 12},
        {"jti": 12},
    ],
)
def test_rejects_malformed_claim_shapes(make_token, overrides):
    with pytest.raises(exceptions.InvalidToken):
        validate_token(make_token(**overrides))


def test_rejects_bad_signature(make_token, other_key):
    good = make_token()
    forged = make_token(key=other_key, headers={"kid": "key-1"})
    tampered = good.rsplit(".", 1)[0] + "." + forged.rsplit(".", 1)[1]
    with pytest.raises(exceptions.InvalidSignature):
        validate_token(tampered)


def test_rejects_modified_payload(make_token, issuer):
    header, _, signature = make_token().split(".")
    evil = _b64(service_claims(issuer, client="admin-cli"))
    with pytest.raises(exceptions.InvalidSignature):
        validate_token(f"{header}.{evil}.{signature}")


@pytest.mark.parametrize(
    "parameter",
    [
        {"jku": "https://evil.example/jwks.json"},
        {"x5u": "https://evil.example/cert.pem"},
        {"x5c": ["MIIB"]},
    ],
)
def test_refuses_header_parameters_that_bring_their_own_keys(make_token, parameter, jwks_server):
    with pytest.raises(exceptions.DisallowedHeader):
        validate_token(make_token(headers=parameter))
    assert jwks_server.requests == 0


def test_refuses_unknown_critical_header_extensions(make_token, jwks_server):
    with pytest.raises(exceptions.InvalidToken):
        validate_token(make_token(headers={"crit": ["exp"], "exp": 1}))
    assert jwks_server.requests == 0


def test_refuses_embedded_jwk_even_when_it_would_verify(make_token, other_key):
    token = make_token(key=other_key, headers={"kid": "key-1", "jwk": other_key.public_jwk()})
    with pytest.raises(exceptions.DisallowedHeader):
        validate_token(token)


@pytest.mark.parametrize("token", ["", "abc", "a.b", "a.b.c.d.e", "eyJ.eyJ.sig", "!!!.???.***", "a" * 100])
def test_rejects_garbage_as_malformed(token, jwks_server):
    with pytest.raises(exceptions.MalformedToken):
        validate_token(token)


def test_rejects_header_that_is_a_json_list(jwks_server):
    with pytest.raises(exceptions.MalformedToken):
        validate_token(f"{base64.urlsafe_b64encode(b'[1]').decode().rstrip('=')}.e30.c2ln")


def test_rejects_token_without_kid(signing_key, issuer):
    token = jwt.encode(service_claims(issuer), signing_key.private_key, algorithm="RS256")
    with pytest.raises(exceptions.MalformedToken, match="kid"):
        validate_token(token)


def test_rejects_oversized_token(make_token, settings):
    settings.M2M_AUTH = {**settings.M2M_AUTH, "MAX_TOKEN_BYTES": 512}
    with pytest.raises(exceptions.TokenTooLarge):
        validate_token(make_token())


def test_remembers_a_validated_token_instead_of_decoding_it_again(make_token, monkeypatch):
    token = make_token()
    first = validate_token(token)
    monkeypatch.setattr("m2m_auth.validation.jwt.decode", _must_not_be_called)
    assert validate_token(token) == first


def test_forgets_a_remembered_token_once_it_expires(make_token, monkeypatch):
    token = make_token(exp=int(time.time()) + 5)
    claims = validate_token(token)
    later = claims["exp"] + 31
    monkeypatch.setattr("m2m_auth.validation.time.time", lambda: later)
    monkeypatch.setattr("jwt.api_jwt.datetime", _FrozenDatetime(later))
    with pytest.raises(exceptions.TokenExpired):
        validate_token(token)


def _must_not_be_called(*args, **kwargs):
    raise AssertionError("decoded a token that was already validated")


class _FrozenDatetime:
    """Stands in for `datetime` inside PyJWT so its expiry check sees a later clock."""

    def __init__(self, timestamp):
        import datetime

        self._now = datetime.datetime.fromtimestamp(timestamp, tz=datetime.UTC)

    def now(self, tz=None):
        return self._now
