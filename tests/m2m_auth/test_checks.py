"""System checks stop a misconfigured service at start-up and say how to fix it."""

import pytest
from django.core.checks import run_checks


@pytest.fixture(autouse=True)
def development(settings):
    """Production-only warnings are tested explicitly with DEBUG = False."""
    settings.DEBUG = True


def m2m_messages(**kwargs):
    return [(m.id, m.msg) for m in run_checks(**kwargs) if m.id and m.id.startswith("m2m_auth.")]


def test_the_test_configuration_passes(settings):
    settings.M2M_AUTH = {"AUDIENCE": "notification-service"}
    assert m2m_messages() == []


@pytest.mark.parametrize("algorithms", [["none"], ["HS256"], ["RS256", "HS256"], ["RS256", "ES256"], [], ["RS999"]])
def test_unsafe_algorithm_lists_are_errors(settings, algorithms):
    settings.M2M_AUTH = {"AUDIENCE": "notification-service", "ALGORITHMS": algorithms}
    assert [i for i, _ in m2m_messages()] == ["m2m_auth.E003"]


def test_one_asymmetric_family_is_fine(settings):
    settings.M2M_AUTH = {"AUDIENCE": "notification-service", "ALGORITHMS": ["RS256", "PS256"]}
    assert m2m_messages() == []


def test_a_receiver_without_audience_is_an_error(settings):
    settings.M2M_AUTH = {"AUDIENCE": ""}
    assert m2m_messages() == [("m2m_auth.E005", "M2M_AUTH AUDIENCE is empty, so no token can be accepted.")]


@pytest.mark.parametrize("url", ["localhost:8080", "ftp://kc", "http://kc:8080/realms/techstore"])
def test_keycloak_url_must_be_a_base_url(settings, url):
    settings.M2M_AUTH = {"AUDIENCE": "x", "KEYCLOAK_URL": url}
    assert [i for i, _ in m2m_messages()] == ["m2m_auth.E001"]


@pytest.mark.parametrize("path", ["auth", "/auth/"])
def test_auth_path_must_start_with_a_slash(settings, path):
    settings.M2M_AUTH = {"AUDIENCE": "x", "KEYCLOAK_AUTH_PATH": path}
    assert [i for i, _ in m2m_messages()] == ["m2m_auth.E002"]


def test_plain_http_to_a_remote_keycloak_is_a_warning_in_production(settings):
    settings.DEBUG = False
    settings.M2M_AUTH = {
        "AUDIENCE": "x",
        "KEYCLOAK_URL": "http://keycloak:8080",
        "KEYCLOAK_PUBLIC_URL": "http://sso.example.com",
    }
    assert "m2m_auth.W001" in [i for i, _ in m2m_messages()]


def test_a_cache_shared_by_no_other_process_is_a_warning_in_production(settings):
    settings.DEBUG = False
    settings.M2M_AUTH = {"AUDIENCE": "x"}
    assert [i for i, _ in m2m_messages()] == ["m2m_auth.W003"]


def test_an_unknown_cache_alias_is_an_error(settings):
    settings.M2M_AUTH = {"AUDIENCE": "x", "CACHE_ALIAS": "tokens"}
    messages = m2m_messages()
    assert messages == [("m2m_auth.E006", "M2M_AUTH CACHE_ALIAS='tokens' names no cache in CACHES.")]


def test_missing_exception_handler_is_a_warning(settings):
    settings.M2M_AUTH = {"AUDIENCE": "x"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "EXCEPTION_HANDLER": "rest_framework.views.exception_handler"}
    assert [i for i, _ in m2m_messages()] == ["m2m_auth.W002"]


def test_a_caller_without_a_client_secret_is_an_error(settings):
    settings.M2M_AUTH = {"AUDIENCE": "x", "CLIENT_ID": "shop-api", "CLIENT_SECRET": ""}
    messages = run_checks()
    errors = [m for m in messages if m.id == "m2m_auth.E007"]
    assert [m.msg for m in errors] == [
        "No client secret for the Keycloak client 'shop-api': this service cannot get tokens."
    ]
    assert "KEYCLOAK_CLIENT_SECRET" in errors[0].hint


def test_an_unknown_client_authentication_method_is_an_error(settings):
    settings.M2M_AUTH = {"AUDIENCE": "x", "TOKEN_AUTH_METHOD": "client_secret_jwt"}
    assert [i for i, _ in m2m_messages()] == ["m2m_auth.E008"]


def test_private_key_jwt_without_a_readable_key_file_is_an_error(settings, tmp_path):
    settings.M2M_AUTH = {
        "AUDIENCE": "x",
        "CLIENT_ID": "shop-api-signed",
        "TOKEN_AUTH_METHOD": "private_key_jwt",
        "CLIENT_PRIVATE_KEY_FILE": str(tmp_path / "missing.pem"),
    }
    assert [i for i, _ in m2m_messages()] == ["m2m_auth.E009"]
    key_file = tmp_path / "key.pem"
    key_file.write_text("-----BEGIN PRIVATE KEY-----\n")
    settings.M2M_AUTH = {**settings.M2M_AUTH, "CLIENT_PRIVATE_KEY_FILE": str(key_file)}
    assert m2m_messages() == []
