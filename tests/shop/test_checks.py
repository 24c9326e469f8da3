"""System checks of the shop."""

import pytest

from shop.checks import check_after_commit_mode, check_customer_login

OIDC_BACKENDS = ["shop.oidc.KeycloakOIDCBackend", "django.contrib.auth.backends.ModelBackend"]


@pytest.fixture
def oidc_settings(settings):
    settings.AUTHENTICATION_BACKENDS = OIDC_BACKENDS
    settings.OIDC_OP_TOKEN_ENDPOINT = "http://kc/token"
    settings.OIDC_OP_USER_ENDPOINT = "http://kc/userinfo"
    settings.OIDC_OP_JWKS_ENDPOINT = "http://kc/certs"
    settings.OIDC_RP_CLIENT_ID = "shop-web"
    settings.OIDC_RP_SIGN_ALGO = "RS256"
    return settings


def test_warns_when_customer_login_has_no_client_secret(oidc_settings):
    oidc_settings.OIDC_RP_CLIENT_SECRET = ""
    messages = check_customer_login()
    assert [(m.id, m.msg) for m in messages] == [
        ("shop.W001", "No client secret for the Keycloak client 'shop-web': customers cannot log in.")
    ]
    assert "SHOP_WEB_CLIENT_SECRET" in messages[0].hint


def test_customer_login_with_a_secret_passes(oidc_settings):
    oidc_settings.OIDC_RP_CLIENT_SECRET = "s3cret"
    assert check_customer_login() == []


def test_without_oidc_login_the_secret_is_not_needed(settings):
    settings.AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
    assert check_customer_login() == []


def test_an_unknown_after_commit_mode_is_an_error(settings):
    settings.SHOP_NOTIFY_AFTER_COMMIT = "celery"
    assert [m.id for m in check_after_commit_mode()] == ["shop.E001"]
    settings.SHOP_NOTIFY_AFTER_COMMIT = "off"
    assert check_after_commit_mode() == []
