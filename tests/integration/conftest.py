"""The session's real Keycloak and the settings that point m2m_auth at it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from m2m_auth.jwks import reset_jwks_stores
from m2m_auth.validation import _memo
from tests.keycloak_server import Keycloak, start_or_reuse

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def keycloak(request) -> Iterator[Keycloak]:
    server = start_or_reuse(
        port=int(os.environ.get("KEYCLOAK_TEST_PORT", "18080")),
        management_port=int(os.environ.get("KEYCLOAK_TEST_MANAGEMENT_PORT", "19000")),
        log_path=ROOT / "var" / "keycloak-test.log",
    )
    request.config.stash[KEYCLOAK_START] = server.started_in
    yield server
    server.stop()


KEYCLOAK_START = pytest.StashKey[float | None]()


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
