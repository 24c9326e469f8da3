"""The settings object: Django setting over environment over default, and the derived URLs."""

import pytest

from m2m_auth.conf import M2MAuthSettings


@pytest.fixture
def fresh(settings, monkeypatch):
    settings.M2M_AUTH = {}
    for name in ("KEYCLOAK_URL", "KEYCLOAK_PUBLIC_URL", "KEYCLOAK_REALM", "KEYCLOAK_AUTH_PATH", "M2M_AUTH_LEEWAY"):
        monkeypatch.delenv(name, raising=False)
    return M2MAuthSettings()


def test_defaults_follow_keycloak_17_and_later(fresh):
    assert fresh.issuer == "http://localhost:8080/realms/techstore"
    assert fresh.jwks_url == "http://localhost:8080/realms/techstore/protocol/openid-connect/certs"
    assert fresh.token_url == "http://localhost:8080/realms/techstore/protocol/openid-connect/token"


def test_environment_uses_the_seed_names(fresh, monkeypatch):
    monkeypatch.setenv("KEYCLOAK_URL", "http://keycloak:8080")
    monkeypatch.setenv("KEYCLOAK_PUBLIC_URL", "https://sso.example.com")
    monkeypatch.setenv("KEYCLOAK_REALM", "acme")
    monkeypatch.setenv("KEYCLOAK_AUTH_PATH", "/auth")
    monkeypatch.setenv("M2M_AUTH_LEEWAY", "10")
    assert fresh.issuer == "https://sso.example.com/auth/realms/acme"
    assert fresh.jwks_url == "http://keycloak:8080/auth/realms/acme/protocol/openid-connect/certs"
    assert fresh.LEEWAY == 10


def test_django_setting_wins_over_the_environment(fresh, settings, monkeypatch):
    monkeypatch.setenv("KEYCLOAK_REALM", "from-env")
    settings.M2M_AUTH = {"KEYCLOAK_REALM": "from-settings"}
    assert fresh.KEYCLOAK_REALM == "from-settings"


def test_override_settings_takes_effect_without_reload(settings):
    from m2m_auth.conf import m2m_auth_settings

    settings.M2M_AUTH = {"KEYCLOAK_REALM": "one"}
    assert m2m_auth_settings.KEYCLOAK_REALM == "one"
    settings.M2M_AUTH = {"KEYCLOAK_REALM": "two"}
    assert m2m_auth_settings.KEYCLOAK_REALM == "two"


def test_unknown_setting_is_an_attribute_error(fresh):
    with pytest.raises(AttributeError, match="NOPE"):
        getattr(fresh, "NOPE")  # noqa: B009
