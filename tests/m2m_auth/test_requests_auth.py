"""`ServiceTokenAuth`: sends the service token; one safe retry after the target says invalid_token."""

from http.server import BaseHTTPRequestHandler

import pytest
import requests
from django.core.cache import caches

from m2m_auth.requests_auth import ServiceTokenAuth
from m2m_auth.tokens import TokenClient
from tests.http_server import serve, write_json
from tests.token_server import TokenServer


class Target:
    """Answers each request with the next scripted (status, WWW-Authenticate) and records tokens."""

    def __init__(self):
        self.script: list[tuple[int, str | None]] = []
        self.seen: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                length = int(self.headers.get("Content-Length", 0))
                self.rfile.read(length)
                owner.seen.append(self.headers.get("Authorization", ""))
                status, challenge = owner.script.pop(0) if owner.script else (200, None)
                write_json(self, status, {"ok": status == 200}, {"WWW-Authenticate": challenge} if challenge else {})

            do_GET = do_POST = _answer  # noqa: N815

            def log_message(self, *args):
                pass

        self._server = serve(Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/api"


@pytest.fixture(scope="module")
def endpoints():
    token_server, target = TokenServer().start(), Target()
    yield token_server, target
    token_server.stop()
    target._server.shutdown()


@pytest.fixture
def token_server(endpoints):
    endpoints[0].reset()
    caches["default"].clear()
    return endpoints[0]


@pytest.fixture
def target(endpoints):
    endpoints[1].script, endpoints[1].seen = [], []
    return endpoints[1]


@pytest.fixture
def auth(token_server):
    return ServiceTokenAuth(TokenClient(token_url=token_server.url, client_id="shop-api", client_secret="s"))


INVALID = 'Bearer realm="techstore", error="invalid_token", error_description="Token has expired."'


def test_sends_the_service_token(auth, target):
    assert requests.get(target.url, auth=auth, timeout=5).status_code == 200
    assert target.seen == ["Bearer token-1"]


@pytest.mark.parametrize("challenge", [INVALID, 'Bearer realm="techstore"'])
def test_retries_once_with_a_new_token_after_invalid_token(auth, target, token_server, challenge):
    target.script = [(401, challenge)]
    response = requests.post(target.url, json={}, headers={"Idempotency-Key": "k"}, auth=auth, timeout=5)
    assert response.status_code == 200
    assert target.seen == ["Bearer token-1", "Bearer token-2"]
    assert [r.status_code for r in response.history] == [401]


def test_a_second_401_is_returned_not_retried_again(auth, target):
    target.script = [(401, INVALID), (401, INVALID)]
    response = requests.get(target.url, auth=auth, timeout=5)
    assert response.status_code == 401
    assert len(target.seen) == 2


def test_insufficient_scope_is_never_retried(auth, target, token_server):
    target.script = [(401, 'Bearer error="insufficient_scope"')]
    assert requests.get(target.url, auth=auth, timeout=5).status_code == 401
    assert len(target.seen) == 1 and token_server.count == 1


def test_403_is_never_retried(auth, target, token_server):
    target.script = [(403, 'Bearer error="insufficient_scope"')]
    assert requests.get(target.url, auth=auth, timeout=5).status_code == 403
    assert len(target.seen) == 1 and token_server.count == 1


def test_a_post_without_idempotency_key_is_not_replayed(auth, target, token_server):
    target.script = [(401, INVALID)]
    assert requests.post(target.url, json={"a": 1}, auth=auth, timeout=5).status_code == 401
    assert len(target.seen) == 1
