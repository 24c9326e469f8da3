"""`manage.py m2m_token`: the seed's curl test for operators, without printing the token by default."""

import time
from io import StringIO

import jwt
import pytest
from django.core.cache import caches
from django.core.management import CommandError, call_command

from tests.token_server import TokenServer


@pytest.fixture
def token_server(settings):
    server = TokenServer().start()
    server.token_factory = lambda number: jwt.encode(
        {"azp": "shop-api", "exp": int(time.time()) + 300, "jti": f"trrtcc:{number}"}, "k" * 32, algorithm="HS256"
    )
    base = server.url.split("/realms/")[0]
    settings.M2M_AUTH = {"KEYCLOAK_URL": base, "CLIENT_ID": "shop-api", "CLIENT_SECRET": "command-secret"}
    caches["default"].clear()
    yield server
    server.stop()


def run(*args):
    out = StringIO()
    call_command("m2m_token", *args, stdout=out)
    return out.getvalue()


def test_prints_claims_and_remaining_lifetime_but_not_the_token(token_server):
    output = run()
    lines = output.splitlines()
    assert lines[0] == f"Token for shop-api from {token_server.url}"
    assert lines[1].startswith("sha256 ") and lines[1].endswith(("expires in 300 s", "expires in 299 s"))
    assert '"azp": "shop-api"' in output
    assert "eyJ" not in output
    assert "command-secret" not in output


def test_prints_the_raw_token_only_when_asked(token_server):
    assert run("--raw").splitlines()[-1].startswith("eyJ")


def test_passes_scope_and_audience(token_server):
    run("--scope", "b", "--scope", "a", "--audience", "notification-service")
    assert token_server.requests[0]["form"]["scope"] == ["a b"]
    assert token_server.requests[0]["form"]["audience"] == ["notification-service"]


def test_a_refused_client_is_a_command_error_naming_keycloaks_error(token_server):
    token_server.status, token_server.error_body = 401, {"error": "unauthorized_client"}
    with pytest.raises(CommandError, match="client 'shop-api'.*HTTP 401 unauthorized_client"):
        run()


def test_a_missing_secret_is_a_command_error(settings):
    settings.M2M_AUTH = {"CLIENT_ID": "shop-api", "CLIENT_SECRET": ""}
    with pytest.raises(CommandError, match="KEYCLOAK_CLIENT_SECRET"):
        run()
