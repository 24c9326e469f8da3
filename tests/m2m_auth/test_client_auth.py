"""Client authentication at the token endpoint: secret (basic, post) or a signed JWT assertion."""

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from m2m_auth.client_auth import JWT_BEARER, client_authentication
from tests.keycloak_server import signing_key_pair

ISSUER = "http://localhost:8080/realms/techstore"


@pytest.fixture(scope="module")
def key_pem():
    return signing_key_pair()[0]


def test_private_key_jwt_sends_a_short_lived_assertion_signed_with_the_clients_key(key_pem):
    credential = client_authentication(
        "private_key_jwt", client_id="shop-api-signed", private_key_pem=key_pem, audience=ISSUER
    )
    data = {"grant_type": "client_credentials"}
    assert credential.apply(data) is None
    assert (data["client_id"], data["client_assertion_type"]) == ("shop-api-signed", JWT_BEARER)
    public_key = serialization.load_pem_private_key(key_pem.encode(), password=None).public_key()
    claims = jwt.decode(data["client_assertion"], public_key, algorithms=["RS256"], audience=ISSUER)
    assert (claims["iss"], claims["sub"], claims["exp"] - claims["iat"]) == ("shop-api-signed", "shop-api-signed", 60)
    second = {}
    credential.apply(second)
    assert jwt.decode(second["client_assertion"], options={"verify_signature": False})["jti"] != claims["jti"]
    assert "client_secret" not in data


def test_each_credential_has_its_own_fingerprint(key_pem):
    fingerprints = {
        client_authentication("client_secret_basic", client_id="c", secret="one").fingerprint,
        client_authentication("client_secret_basic", client_id="c", secret="two").fingerprint,
        client_authentication("client_secret_post", client_id="c", secret="one").fingerprint,
        client_authentication("private_key_jwt", client_id="c", private_key_pem=key_pem, audience=ISSUER).fingerprint,
        client_authentication(
            "private_key_jwt", client_id="c", private_key_pem=signing_key_pair()[0], audience=ISSUER
        ).fingerprint,
    }
    assert len(fingerprints) == 5


@pytest.mark.parametrize(
    ("method", "options", "message"),
    [
        ("client_secret_basic", {}, "needs the client secret of 'c'"),
        ("private_key_jwt", {"audience": ISSUER}, "needs the private key of 'c'"),
        ("client_secret_jwt", {"secret": "s"}, "Unsupported client authentication method"),
    ],
)
def test_a_missing_credential_is_a_clear_error(method, options, message):
    with pytest.raises(ValueError, match=message):
        client_authentication(method, client_id="c", **options)


def test_repr_shows_no_credential(key_pem):
    credential = client_authentication("client_secret_post", client_id="c", secret="hunter2")
    assert "hunter2" not in repr(credential)
    assert "PRIVATE" not in repr(
        client_authentication("private_key_jwt", client_id="c", private_key_pem=key_pem, audience=ISSUER)
    )
