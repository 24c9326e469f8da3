"""Fixtures shared by the whole suite: signing keys, a local JWKS server, a token factory."""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import caches

from m2m_auth.jwks import reset_jwks_stores
from m2m_auth.validation import _memo
from tests.jwks_server import REALM, JWKSServer, SigningKey
from tests.keycloak_server import Keycloak, start_or_reuse

AUDIENCE = "notification-service"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def signing_key() -> SigningKey:
    return SigningKey.generate("key-1")


@pytest.fixture(scope="session")
def other_key() -> SigningKey:
    return SigningKey.generate("key-2")


@pytest.fixture(scope="session")
def _jwks_server_process() -> Iterator[JWKSServer]:
    server = JWKSServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def jwks_server(_jwks_server_process: JWKSServer, signing_key: SigningKey, settings) -> Iterator[JWKSServer]:
    """A JWKS server serving `signing_key`, with m2m_auth pointed at it and all key caches empty."""
    server = _jwks_server_process
    server.serve_keys(signing_key)
    server.requests, server.delay = 0, 0.0
    settings.M2M_AUTH = {
        "KEYCLOAK_URL": server.base_url,
        "KEYCLOAK_REALM": REALM,
        "AUDIENCE": AUDIENCE,
    }
    _forget_keys()
    yield server
    _forget_keys()


def _forget_keys() -> None:
    reset_jwks_stores()
    _memo.clear()
    caches["default"].clear()


@pytest.fixture
def issuer(jwks_server: JWKSServer) -> str:
    return f"{jwks_server.base_url}/realms/{REALM}"


def service_claims(issuer: str, client: str = "shop-api", **overrides: Any) -> dict[str, Any]:
    """Claims shaped like a Keycloak 26 client-credentials access token."""
    now = int(time.time())
    claims = {
        "exp": now + 300,
        "iat": now,
        "jti": f"trrtcc:{uuid.uuid4()}",
        "iss": issuer,
        "aud": [AUDIENCE, "account"],
        "sub": str(uuid.uuid4()),
        "typ": "Bearer",
        "azp": client,
        "client_id": client,
        "scope": "profile email",
        "preferred_username": f"service-account-{client}",
        "realm_access": {"roles": ["default-roles-techstore"]},
        "resource_access": {AUDIENCE: {"roles": ["notifications:send"]}},
    }
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not ...}


@pytest.fixture
def make_token(signing_key: SigningKey, issuer: str) -> Callable[..., str]:
    """`make_token(**claim_overrides)`; pass `...` as a value to drop a claim."""

    def make(*, key: SigningKey | None = None, headers: dict[str, Any] | None = None, **overrides: Any) -> str:
        return (key or signing_key).sign(service_claims(issuer, **overrides), headers=headers)

    return make


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Report how long the real Keycloak took to start, when this run started one."""
    started_in = config.stash.get(KEYCLOAK_START, None)
    if started_in is not None:
        terminalreporter.write_line(f"Keycloak started in {started_in:.1f} s")


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory) -> Iterator[str]:
    """A real Redis for tests where processes must share a cache."""
    from tests.redis_server import RedisServer, must_have_redis, redis_available

    if not redis_available():
        if must_have_redis():
            pytest.fail("redis-server is not installed; `make test` installs it (scripts/system_deps.sh).")
        pytest.skip("redis-server is not installed (Debian package redis-server; `make test` installs it)")
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    yield server.url
    server.stop()


KEYCLOAK_START = pytest.StashKey[float | None]()


@pytest.fixture(scope="session")
def keycloak(request) -> Iterator[Keycloak]:
    """The session's real Keycloak, shared by the integration, browser and fault tests."""
    server = start_or_reuse(
        port=int(os.environ.get("KEYCLOAK_TEST_PORT", "18080")),
        management_port=int(os.environ.get("KEYCLOAK_TEST_MANAGEMENT_PORT", "19000")),
        log_path=Path(os.environ.get("DJANGO_VAR_DIR", ROOT / "var")) / "keycloak-test.log",
    )
    request.config.stash[KEYCLOAK_START] = server.started_in
    yield server
    server.stop()


# Every logger whose output could carry a secret: the root, HTTP clients, Django (SQL too), ours.
LOGGERS = ("", "urllib3", "requests", "django", "django.request", "django.db.backends", "m2m_auth", "notifications")


@pytest.fixture
def debug_logs(caplog) -> Iterator[pytest.LogCaptureFixture]:
    """Every logger at DEBUG, SQL included, captured."""
    from django.db import connection

    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    forced, connection.force_debug_cursor = connection.force_debug_cursor, True
    yield caplog
    connection.force_debug_cursor = forced
