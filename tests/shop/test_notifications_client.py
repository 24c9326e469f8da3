"""The notification client's verdicts: delivered, retry later, or give up; never a token in the text."""

import json
import time
from http.server import BaseHTTPRequestHandler

import pytest
import requests

from m2m_auth.tokens import TokenEndpointError
from shop.notifications_client import NotificationClient, Outcome, get_notification_client
from tests.http_server import serve, write_json


class Receiver:
    """Answers POSTs with the scripted status, headers and JSON body; records what it got."""

    def __init__(self):
        self.status, self.headers, self.body, self.delay = 201, {}, {"status": "sent"}, 0.0
        self.received = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                owner.received.append({"headers": dict(self.headers), "body": json.loads(body), "path": self.path})
                time.sleep(owner.delay)
                write_json(self, owner.status, owner.body, owner.headers)

            def log_message(self, *args):
                pass

        self._server = serve(Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"


@pytest.fixture(scope="module")
def _receiver_server():
    server = Receiver()
    yield server
    server._server.shutdown()


@pytest.fixture
def receiver(_receiver_server):
    _receiver_server.status, _receiver_server.headers, _receiver_server.delay = 201, {}, 0.0
    _receiver_server.body = {"status": "sent"}
    _receiver_server.received.clear()
    return _receiver_server


@pytest.fixture
def client(receiver):
    return NotificationClient(base_url=receiver.url + "/", session=requests.Session(), timeout=(1, 1))


def send(client):
    return client.order_placed(order_id="42", user_email="a@example.com", idempotency_key="key-1")


def test_posts_the_order_with_its_idempotency_key(client, receiver):
    result = send(client)
    assert (result.outcome, result.status_code) == (Outcome.DELIVERED, 201)
    (request,) = receiver.received
    assert request["path"] == "/api/notifications/order"
    assert request["body"] == {"orderId": "42", "userEmail": "a@example.com"}
    assert request["headers"]["Idempotency-Key"] == "key-1"


def test_a_replay_counts_as_delivered(client, receiver):
    receiver.headers = {"Idempotent-Replayed": "true"}
    assert send(client).outcome == Outcome.DELIVERED


def test_503_is_retried_after_the_time_the_receiver_asks_for(client, receiver):
    receiver.status, receiver.headers = 503, {"Retry-After": "30"}
    receiver.body = {"detail": "The e-mail could not be sent yet.", "code": "delivery_failed"}
    result = send(client)
    assert (result.outcome, result.retry_after) == (Outcome.RETRY, 30.0)
    assert result.detail == "HTTP 503 delivery_failed: The e-mail could not be sent yet."


@pytest.mark.parametrize("status", [401, 408, 409, 429, 500, 502])
def test_answers_that_may_change_are_retried(client, receiver, status):
    receiver.status, receiver.body = status, {"detail": "x"}
    assert send(client).outcome == Outcome.RETRY


@pytest.mark.parametrize("status", [400, 403, 404, 415, 422])
def test_other_client_errors_are_permanent(client, receiver, status):
    receiver.status, receiver.body = status, {"userEmail": ["Enter a valid email address."]}
    result = send(client)
    assert (result.outcome, result.status_code) == (Outcome.PERMANENT, status)
    assert result.detail == f"HTTP {status}: {{'userEmail': ['Enter a valid email address.']}}"


def test_a_long_error_is_clipped(client, receiver):
    receiver.status, receiver.body = 400, {"detail": "x" * 5000}
    assert len(send(client).detail) == 300


def test_unreachable_service_is_retried(closed_port_url):
    client = NotificationClient(base_url=closed_port_url, session=requests.Session(), timeout=(1, 1))
    result = send(client)
    assert (result.outcome, result.detail) == (
        Outcome.RETRY,
        f"Could not reach {closed_port_url}/api/notifications/order: ConnectionError.",
    )


def test_a_slow_service_times_out_and_is_retried(receiver):
    receiver.delay = 1.0
    client = NotificationClient(base_url=receiver.url, session=requests.Session(), timeout=(1, 0.2))
    result = send(client)
    assert (result.outcome, result.detail) == (
        Outcome.RETRY,
        f"Timed out calling {receiver.url}/api/notifications/order.",
    )


def test_no_token_from_keycloak_is_retried(receiver):
    def no_token(request):
        raise TokenEndpointError(client_id="shop-api", endpoint="http://keycloak/token", status=503)

    session = requests.Session()
    session.auth = no_token
    result = send(NotificationClient(base_url=receiver.url, session=session))
    assert result.outcome == Outcome.RETRY
    assert result.detail.startswith("No service token: Keycloak issued no token for client 'shop-api'")
    assert receiver.received == []


def test_the_default_client_follows_settings(settings):
    settings.NOTIFICATION_URL = "http://notifications.internal:8001"
    assert get_notification_client().base_url == "http://notifications.internal:8001"
    assert get_notification_client() is get_notification_client()
    settings.NOTIFICATION_URL = "http://elsewhere:8001/"
    assert get_notification_client().base_url == "http://elsewhere:8001"
