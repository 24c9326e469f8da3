"""Settings that point m2m_auth at the session's real Keycloak (the `keycloak` fixture, tests/conftest.py)."""

from __future__ import annotations

import pytest

from m2m_auth.jwks import reset_jwks_stores
from m2m_auth.validation import _memo
from tests.keycloak_server import Keycloak


@pytest.fixture
def keycloak_settings(keycloak: Keycloak, settings) -> Keycloak:
    """m2m_auth configured like the notification service in front of this Keycloak."""
    settings.M2M_AUTH = {
        "KEYCLOAK_URL": keycloak.url,
        "KEYCLOAK_PUBLIC_URL": keycloak.public_url,
        "KEYCLOAK_REALM": "techstore",
        "AUDIENCE": "notification-service",
    }
    reset_jwks_stores()
    _memo.clear()
    return keycloak
