"""The notification API against tokens issued by a real Keycloak 26 from the repo's realm file."""

import uuid

import pytest
from django.core import mail
from rest_framework.test import APIClient

from m2m_auth.jwks import get_jwks_store
from notifications.models import Notification
from tests.keycloak_server import decode_unverified

pytestmark = [pytest.mark.keycloak, pytest.mark.django_db]

URL = "/api/notifications/order"
BODY = {"orderId": "5001", "userEmail": "demo@example.com"}


def post_with(token: str, **headers):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client.post(URL, BODY, format="json", **headers)


def test_client_credentials_token_creates_a_notification(keycloak_settings):
    response = keycloak_settings.client_credentials("shop-api", keycloak_settings.secrets["SHOP_API_CLIENT_SECRET"])
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    # The realm's 300 s lifespan; Keycloak computes expires_in as exp - now, so a second may be gone.
    assert body["expires_in"] in (299, 300)
    assert "refresh_token" not in body

    created = post_with(body["access_token"], HTTP_IDEMPOTENCY_KEY="it-1")
    assert created.status_code == 201, created.json()
    notification = Notification.objects.get()
    claims = decode_unverified(body["access_token"])
    assert (notification.sender, notification.token_jti) == ("shop-api", claims["jti"])
    assert len(mail.outbox) == 1


def test_real_service_token_carries_the_claims_we_rely_on(keycloak_settings):
    claims = decode_unverified(keycloak_settings.service_token("shop-api"))
    assert claims["iss"] == keycloak_settings.issuer
    assert claims["azp"] == claims["client_id"] == "shop-api"
    assert claims["typ"] == "Bearer"
    assert "notification-service" in ([claims["aud"]] if isinstance(claims["aud"], str) else claims["aud"])
    assert claims["resource_access"]["notification-service"]["roles"] == ["notifications:send"]


def test_customer_token_is_refused_with_403(keycloak_settings):
    response = post_with(keycloak_settings.user_token("demo"))
    assert response.status_code == 403
    assert response.json()["code"] == "not_service_account"
    assert 'error="insufficient_scope"' in response["WWW-Authenticate"]
    assert Notification.objects.count() == 0


def test_service_without_the_role_is_refused_with_403(keycloak_settings):
    response = post_with(keycloak_settings.service_token("reporting-job"))
    assert response.status_code == 403
    assert response.json()["code"] == "missing_role"
    assert Notification.objects.count() == 0


def test_wrong_secret_is_refused_by_keycloak(keycloak_settings):
    response = keycloak_settings.client_credentials("shop-api", "wrong-secret")
    assert response.status_code == 401
    assert response.json()["error"] in {"unauthorized_client", "invalid_client"}


def test_id_token_is_refused_as_not_an_access_token(keycloak_settings):
    import requests

    response = requests.post(
        keycloak_settings.token_url,
        data={
            "grant_type": "password",
            "client_id": "test-cli",
            "username": "demo",
            "password": keycloak_settings.secrets["KEYCLOAK_DEMO_PASSWORD"],
            "scope": "openid",
        },
        timeout=10,
    )
    tokens = response.json()
    id_response = post_with(tokens["id_token"])
    assert id_response.status_code == 401
    refresh_response = post_with(tokens["refresh_token"])
    assert refresh_response.status_code == 401
    assert refresh_response.json()["code"] == "invalid_algorithm"


def test_rotated_key_is_accepted_after_exactly_one_jwks_refetch(keycloak_settings, monkeypatch):
    old_token = keycloak_settings.service_token("shop-api")
    assert post_with(old_token, HTTP_IDEMPOTENCY_KEY="before-rotation").status_code == 201
    store = get_jwks_store()
    fetches = []
    real_get = store.session.get
    monkeypatch.setattr(store.session, "get", lambda *a, **k: fetches.append(a[0]) or real_get(*a, **k))

    keycloak_settings.rotate_signing_key()
    new_token = keycloak_settings.service_token("shop-api")
    assert decode_unverified(new_token) and _kid(new_token) != _kid(old_token)
    assert post_with(new_token, HTTP_IDEMPOTENCY_KEY="after-rotation").status_code == 201
    assert len(fetches) == 1
    # The old key is passive, still published: tokens it signed keep working until they expire.
    assert post_with(old_token, HTTP_IDEMPOTENCY_KEY="old-after-rotation").status_code == 201
    assert len(fetches) == 1


def _kid(token: str) -> str:
    import jwt

    return jwt.get_unverified_header(token)["kid"]


def _token_client(keycloak, **options):
    from m2m_auth.tokens import TokenClient

    defaults = {
        "token_url": keycloak.token_url,
        "client_id": "shop-api",
        "client_secret": keycloak.secrets["SHOP_API_CLIENT_SECRET"],
        "key_prefix": f"it-{uuid.uuid4().hex[:8]}",
    }
    return TokenClient(**{**defaults, **options})


@pytest.mark.parametrize("auth_method", ["client_secret_basic", "client_secret_post"])
def test_token_client_gets_a_token_the_notification_service_accepts(keycloak_settings, auth_method):
    client = _token_client(keycloak_settings, auth_method=auth_method)
    token = client.get_token()
    assert client.get_token() == token and client.requests_made == 1
    assert post_with(token, HTTP_IDEMPOTENCY_KEY=f"client-{auth_method}").status_code == 201


def test_wrong_secret_gives_a_clear_error_naming_keycloaks_error(keycloak_settings):
    from m2m_auth.tokens import TokenEndpointError

    with pytest.raises(TokenEndpointError) as raised:
        _token_client(keycloak_settings, client_secret="wrong-secret").get_token()
    error = raised.value
    assert (error.status, error.client_id, error.retryable) == (401, "shop-api", False)
    assert error.error in {"unauthorized_client", "invalid_client"}
    assert f"client 'shop-api' at {keycloak_settings.token_url}: HTTP 401 {error.error}" in str(error)
    assert "wrong-secret" not in str(error)


def test_service_token_auth_calls_the_live_notification_service(keycloak_settings, live_server):
    import requests

    from m2m_auth.requests_auth import ServiceTokenAuth

    response = requests.post(
        f"{live_server.url}/api/notifications/order",
        json=BODY,
        headers={"Idempotency-Key": "live-1"},
        auth=ServiceTokenAuth(_token_client(keycloak_settings)),
        timeout=10,
    )
    assert response.status_code == 201, response.text
    assert response.json()["sender"] == "shop-api"


def test_private_key_jwt_gets_a_token_without_any_shared_secret(keycloak_settings):
    client = _token_client(
        keycloak_settings,
        client_id="shop-api-signed",
        client_secret="",
        auth_method="private_key_jwt",
        private_key_pem=keycloak_settings.secrets["SHOP_API_SIGNING_KEY_PEM"],
        assertion_audience=keycloak_settings.issuer,
    )
    token = client.get_token()
    claims = decode_unverified(token)
    assert claims["azp"] == claims["client_id"] == "shop-api-signed"
    assert post_with(token, HTTP_IDEMPOTENCY_KEY="signed-jwt-1").status_code == 201


def test_private_key_jwt_signed_by_another_key_is_refused_by_keycloak(keycloak_settings):
    from m2m_auth.tokens import TokenEndpointError
    from tests.keycloak_server import signing_key_pair

    other_private_key, _ = signing_key_pair()
    client = _token_client(
        keycloak_settings,
        client_id="shop-api-signed",
        client_secret="",
        auth_method="private_key_jwt",
        private_key_pem=other_private_key,
        assertion_audience=keycloak_settings.issuer,
    )
    with pytest.raises(TokenEndpointError) as raised:
        client.get_token()
    assert raised.value.error == "invalid_client"
    assert not raised.value.retryable
