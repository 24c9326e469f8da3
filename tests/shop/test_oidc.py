"""Customer login settings and the shop's additions to mozilla-django-oidc."""

from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory

from shop.oidc import AuthenticationRequestView, KeycloakOIDCBackend, provider_logout_url
from tests.shop.shop_settings import login_settings, shop_settings_module

ENVIRONMENT = {
    "KEYCLOAK_URL": "http://keycloak:8080",
    "KEYCLOAK_PUBLIC_URL": "https://id.example",
    "KEYCLOAK_REALM": "techstore",
    "SHOP_WEB_CLIENT_SECRET": "web-secret",
}


@pytest.fixture
def oidc(settings):
    for name, value in login_settings(**ENVIRONMENT).items():
        setattr(settings, name, value)
    return settings


def test_browser_goes_to_the_public_keycloak_and_the_shop_to_the_internal_one():
    module = shop_settings_module(**ENVIRONMENT)
    base = "/realms/techstore/protocol/openid-connect"
    assert module["OIDC_OP_AUTHORIZATION_ENDPOINT"] == f"https://id.example{base}/auth"
    assert module["SHOP_OIDC_OP_LOGOUT_ENDPOINT"] == f"https://id.example{base}/logout"
    assert (module["OIDC_OP_TOKEN_ENDPOINT"], module["OIDC_OP_USER_ENDPOINT"], module["OIDC_OP_JWKS_ENDPOINT"]) == (
        f"http://keycloak:8080{base}/token",
        f"http://keycloak:8080{base}/userinfo",
        f"http://keycloak:8080{base}/certs",
    )
    assert (module["OIDC_RP_CLIENT_ID"], module["OIDC_RP_CLIENT_SECRET"], module["OIDC_RP_SIGN_ALGO"]) == (
        "shop-web",
        "web-secret",
        "RS256",
    )
    assert module["AUTHENTICATION_BACKENDS"][-1] == "django.contrib.auth.backends.ModelBackend"
    assert all(0 < part < 60 for part in module["OIDC_TIMEOUT"])


def test_defaults_follow_the_local_keycloak_and_a_missing_secret_is_empty():
    module = shop_settings_module(KEYCLOAK_URL="", KEYCLOAK_PUBLIC_URL="", SHOP_WEB_CLIENT_SECRET="")
    assert module["OIDC_OP_AUTHORIZATION_ENDPOINT"].startswith("http://localhost:8080/realms/techstore/")
    assert module["OIDC_RP_CLIENT_SECRET"] == ""
    assert module["SHOP_NOTIFY_AFTER_COMMIT"] == "thread"


def test_login_starts_at_keycloaks_public_url_with_state_nonce_and_pkce(client, oidc, db):
    response = client.get("/oidc/authenticate/", {"next": "/cart/"}, HTTP_HOST="localhost:8000")

    assert response.status_code == 302
    url = urlsplit(response.url)
    assert f"{url.scheme}://{url.netloc}{url.path}" == oidc.OIDC_OP_AUTHORIZATION_ENDPOINT
    query = {name: values[0] for name, values in parse_qs(url.query).items()}
    assert query["client_id"] == "shop-web"
    assert query["redirect_uri"] == "http://localhost:8000/oidc/callback/"
    assert query["scope"] == "openid email profile"
    assert query["code_challenge_method"] == "S256"
    assert {"state", "nonce", "code_challenge"} <= query.keys()
    assert client.session["oidc_login_next"] == "/cart/"


def test_login_without_the_client_secret_says_what_to_set(oidc, rf):
    oidc.OIDC_RP_CLIENT_SECRET = ""
    request = rf.get("/oidc/authenticate/")
    request.session = SessionStore()
    with pytest.raises(ImproperlyConfigured, match="set SHOP_WEB_CLIENT_SECRET"):
        AuthenticationRequestView.as_view()(request)


@pytest.mark.parametrize(
    ("claims", "accepted"),
    [
        ({"email": "a@example.com", "email_verified": True}, True),
        ({"email": "a@example.com", "email_verified": False}, False),
        ({"email": "a@example.com"}, False),
        ({"email_verified": True}, False),
    ],
)
def test_only_a_verified_email_logs_in(oidc, claims, accepted):
    assert KeycloakOIDCBackend().verify_claims(claims) is accepted


def test_logout_ends_the_keycloak_session_too(oidc):
    request = RequestFactory().post("/oidc/logout/", HTTP_HOST="localhost:8000")
    request.session = {"oidc_id_token": "id.token.value"}

    url = urlsplit(provider_logout_url(request))

    assert (
        f"{url.scheme}://{url.netloc}{url.path}" == "https://id.example/realms/techstore/protocol/openid-connect/logout"
    )
    assert parse_qs(url.query) == {
        "id_token_hint": ["id.token.value"],
        "post_logout_redirect_uri": ["http://localhost:8000/"],
    }


def test_logout_of_a_password_login_stays_in_the_shop(oidc):
    request = RequestFactory().post("/oidc/logout/", HTTP_HOST="localhost:8000")
    request.session = {}
    assert provider_logout_url(request) == "http://localhost:8000/"
