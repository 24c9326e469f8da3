"""`ServiceAccountAuthentication` and the permissions, through the real notification endpoint."""

import pytest
from rest_framework.test import APIClient

from m2m_auth.authentication import ServiceAccountAuthentication

URL = "/api/notifications/order"
BODY = {"orderId": "1001", "userEmail": "customer@example.com"}
REALM_CHALLENGE = 'Bearer realm="techstore"'

pytestmark = pytest.mark.django_db


@pytest.fixture
def client():
    return APIClient()


def post(client, authorization=None, body=BODY, **headers):
    if authorization is not None:
        headers["HTTP_AUTHORIZATION"] = authorization
    return client.post(URL, body, format="json", **headers)


def test_accepts_a_service_token_with_the_role(client, make_token):
    response = post(client, f"Bearer {make_token()}")
    assert response.status_code == 201, response.json()


def test_missing_header_gets_401_with_a_bare_challenge(client, jwks_server):
    response = post(client)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == REALM_CHALLENGE
    assert response.json()["code"] == "not_authenticated"


def test_other_scheme_is_not_ours_and_gets_a_bare_challenge(client, jwks_server):
    response = post(client, "Basic c2hvcC1hcGk6c2VjcmV0")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == REALM_CHALLENGE


def test_expired_token_gets_401_invalid_token_saying_so(client, make_token):
    response = post(client, f"Bearer {make_token(exp=1_600_000_000, iat=1_599_999_700)}")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == (
        'Bearer realm="techstore", error="invalid_token", error_description="Token has expired."'
    )
    assert response.json() == {"detail": "Token has expired.", "code": "token_expired"}


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"iss": "http://evil.example/realms/techstore"}, "invalid_issuer"),
        ({"aud": "account"}, "invalid_audience"),
        ({"typ": "ID"}, "invalid_token_type"),
        ({"resource_access": []}, "invalid_claims"),
    ],
)
def test_invalid_tokens_get_401_with_a_stable_code(client, make_token, overrides, code):
    response = post(client, f"Bearer {make_token(**overrides)}")
    assert response.status_code == 401
    assert response.json()["code"] == code
    assert 'error="invalid_token"' in response["WWW-Authenticate"]


def test_unknown_key_gets_401_unknown_key(client, make_token, other_key):
    response = post(client, f"Bearer {make_token(key=other_key)}")
    assert response.status_code == 401
    assert response.json()["code"] == "unknown_key"


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer",
        "Bearer ",
        "Bearer a b",
        "Bearer not-a-jwt",
        "Bearer ....",
        "Bearer eyJhbGciOiJSUzI1NiJ9.e30.",
        "Bearer " + "A" * 20000,
        "Bearer \u00e9\u00e8.x.y",
        "bearer \x00\x01.\x02.\x03",
    ],
)
def test_garbage_headers_get_401_never_500(client, jwks_server, authorization):
    response = post(client, authorization)
    assert response.status_code == 401
    assert 'error="invalid_token"' in response["WWW-Authenticate"]
    assert "Traceback" not in response.content.decode()


def test_scheme_is_case_insensitive(client, make_token):
    assert post(client, f"bearer {make_token()}").status_code == 201


def test_user_token_gets_403_insufficient_scope(client, make_token):
    user_token = make_token(azp="shop-web", client_id=..., sub="a-customer", preferred_username="demo")
    response = post(client, f"Bearer {user_token}")
    assert response.status_code == 403
    assert response.json()["code"] == "not_service_account"
    assert response["WWW-Authenticate"].startswith('Bearer realm="techstore", error="insufficient_scope"')


def test_service_without_the_role_gets_403_naming_the_role(client, make_token):
    token = make_token(client="reporting-job", resource_access={})
    response = post(client, f"Bearer {token}")
    assert response.status_code == 403
    assert response.json() == {
        "detail": "The calling service lacks the client role 'notifications:send' of 'notification-service'.",
        "code": "missing_role",
    }
    assert response["WWW-Authenticate"] == (
        'Bearer realm="techstore", error="insufficient_scope", error_description="The calling service lacks the '
        "client role 'notifications:send' of 'notification-service'.\", "
        'scope="notification-service:notifications:send"'
    )


def test_role_of_another_client_does_not_count(client, make_token):
    token = make_token(resource_access={"reporting-api": {"roles": ["notifications:send"]}})
    assert post(client, f"Bearer {token}").status_code == 403


def test_client_id_differing_from_azp_gets_403(client, make_token):
    response = post(client, f"Bearer {make_token(client_id='reporting-job')}")
    assert response.status_code == 403
    assert response.json()["code"] == "not_service_account"


def test_accepts_the_older_clientid_claim(client, make_token):
    response = post(client, f"Bearer {make_token(client_id=..., clientId='shop-api')}")
    assert response.status_code == 201


def test_no_keys_at_all_gets_503_with_retry_after(client, make_token, jwks_server):
    jwks_server.status = 500
    response = post(client, f"Bearer {make_token()}")
    assert response.status_code == 503
    assert response.json()["code"] == "jwks_unavailable"
    assert response["Retry-After"] == "30"


def test_authentication_makes_no_database_query(rf, make_token, django_assert_num_queries):
    from rest_framework.request import Request

    request = Request(rf.post(URL, HTTP_AUTHORIZATION=f"Bearer {make_token()}"))
    with django_assert_num_queries(0):
        principal, claims = ServiceAccountAuthentication().authenticate(request)
    assert (principal.client_id, principal.jti, principal.is_authenticated) == ("shop-api", claims["jti"], True)
    assert principal.has_client_role("notifications:send", "notification-service")
    assert principal.scopes == frozenset({"profile", "email"})


def test_returns_none_without_bearer_header_so_others_may_try(rf):
    from rest_framework.request import Request

    assert ServiceAccountAuthentication().authenticate(Request(rf.get("/"))) is None
    assert ServiceAccountAuthentication().authenticate(Request(rf.get("/", HTTP_AUTHORIZATION="Token abc"))) is None


def test_rejections_do_not_log_the_token(client, make_token, caplog):
    token = make_token(aud="account")
    with caplog.at_level("DEBUG"):
        post(client, f"Bearer {token}")
    assert caplog.records
    assert not [r for r in caplog.records if token in r.getMessage() or token.split(".")[2] in r.getMessage()]
