"""Against the real Keycloak, with every logger at DEBUG: neither shop-api's secret nor a token is logged."""

from __future__ import annotations

import uuid

import pytest
from rest_framework.test import APIClient

from m2m_auth.tokens import TokenClient, TokenEndpointError
from notifications.models import Notification
from tests.test_no_secrets_in_logs import assert_absent, describe, everything_logged, secret_forms, token_forms

pytestmark = [pytest.mark.keycloak, pytest.mark.django_db]

URL = "/api/notifications/order"
BODY = {"orderId": "5001", "userEmail": "demo@example.com"}
WRONG_SECRET = "wrong-secret-" + uuid.uuid4().hex


def token_client(keycloak, secret: str, auth_method: str = "client_secret_basic") -> TokenClient:
    return TokenClient(
        token_url=keycloak.token_url,
        client_id="shop-api",
        client_secret=secret,
        auth_method=auth_method,
        key_prefix=f"leak-it-{uuid.uuid4().hex[:8]}",
    )


def post(token: str):
    return APIClient().post(
        URL, BODY, format="json", HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex
    )


@pytest.mark.parametrize("auth_method", ["client_secret_basic", "client_secret_post"])
def test_real_client_credentials_and_call_log_neither_secret_nor_token(debug_logs, keycloak_settings, auth_method):
    secret = keycloak_settings.secrets["SHOP_API_CLIENT_SECRET"]
    client = token_client(keycloak_settings, secret, auth_method)
    token = client.get_token()
    seed_style = keycloak_settings.client_credentials("shop-api", secret).json()["access_token"]
    forged = token.rsplit(".", 1)[0] + "." + seed_style.rsplit(".", 1)[1]  # real parts, wrong signature

    created, refused = post(token), post(forged)

    assert created.status_code == 201, created.json()
    assert (refused.status_code, refused.json()["code"]) == (401, "invalid_signature")
    assert Notification.objects.get().sender == "shop-api"
    assert {"urllib3.connectionpool", "m2m_auth.tokens", "django.request", "django.db.backends"} <= {
        record.name for record in debug_logs.records
    }
    told = everything_logged(debug_logs) + repr(client) + created.content.decode() + refused.content.decode()
    assert_absent(told, *secret_forms(secret), *token_forms(token), *token_forms(seed_style), *token_forms(forged))


def test_wrong_secret_logs_and_raises_without_either_secret(debug_logs, keycloak_settings):
    secret = keycloak_settings.secrets["SHOP_API_CLIENT_SECRET"]
    with pytest.raises(TokenEndpointError) as raised:
        token_client(keycloak_settings, WRONG_SECRET).get_token()
    refused = keycloak_settings.client_credentials("shop-api", WRONG_SECRET)

    assert (raised.value.status, raised.value.retryable) == (401, False)
    assert refused.status_code == 401
    told = everything_logged(debug_logs) + describe(raised.value)
    assert "Backing off" in told
    assert_absent(told, *secret_forms(secret), *secret_forms(WRONG_SECRET))
