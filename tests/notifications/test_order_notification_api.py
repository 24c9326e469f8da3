"""POST /api/notifications/order: stores the notification, sends the e-mail once, per key."""

import threading
from unittest import mock

import pytest
from django.core import mail
from rest_framework.test import APIClient

from notifications.models import Notification

URL = "/api/notifications/order"
BODY = {"orderId": "1001", "userEmail": "customer@example.com"}

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(make_token):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {make_token()}")
    return client


def test_stores_the_notification_with_its_sender_and_sends_the_email(client, make_token):
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {make_token(jti='trrtcc:abc-123')}")
    response = client.post(URL, BODY, format="json")
    assert response.status_code == 201
    notification = Notification.objects.get()
    assert response.json() == {
        "id": notification.pk,
        "status": "sent",
        "orderId": "1001",
        "userEmail": "customer@example.com",
        "sender": "shop-api",
        "createdAt": response.json()["createdAt"],
        "sentAt": response.json()["sentAt"],
    }
    assert (notification.sender, notification.token_jti, notification.attempts) == ("shop-api", "trrtcc:abc-123", 1)
    assert [m.to for m in mail.outbox] == [["customer@example.com"]]
    assert "1001" in mail.outbox[0].subject


def test_accepts_a_numeric_order_id(client):
    response = client.post(URL, {"orderId": 42, "userEmail": "a@example.com"}, format="json")
    assert response.status_code == 201
    assert response.json()["orderId"] == "42"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"userEmail": "a@example.com"}, "orderId"),
        ({"orderId": "1"}, "userEmail"),
        ({"orderId": "1", "userEmail": "not-an-email"}, "userEmail"),
        ({"orderId": "", "userEmail": "a@example.com"}, "orderId"),
        ({"orderId": "x" * 65, "userEmail": "a@example.com"}, "orderId"),
        ({"orderId": "1; DROP TABLE", "userEmail": "a@example.com"}, "orderId"),
        ({"orderId": True, "userEmail": "a@example.com"}, "orderId"),
        ({"orderId": {"a": 1}, "userEmail": "a@example.com"}, "orderId"),
    ],
)
def test_invalid_input_gets_400_with_field_errors(client, body, field):
    response = client.post(URL, body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert Notification.objects.count() == 0
    assert mail.outbox == []


@pytest.mark.parametrize("payload", [b"{not json", b"[1, 2]", b'"text"', b"null"])
def test_non_object_json_gets_400(client, payload):
    response = client.post(URL, payload, content_type="application/json")
    assert response.status_code == 400


def test_other_content_types_get_415(client):
    response = client.post(URL, "orderId=1", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415


def test_repeat_with_the_same_idempotency_key_creates_and_sends_nothing_new(client):
    first = client.post(URL, BODY, format="json", HTTP_IDEMPOTENCY_KEY="outbox-7")
    second = client.post(URL, BODY, format="json", HTTP_IDEMPOTENCY_KEY="outbox-7")
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert Notification.objects.count() == 1
    assert len(mail.outbox) == 1


def test_the_same_key_from_another_service_is_a_different_request(client, make_token):
    client.post(URL, BODY, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {make_token(client='billing-api')}")
    response = client.post(URL, BODY, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert response.status_code == 201
    assert Notification.objects.count() == 2


def test_reusing_a_key_for_a_different_order_gets_422(client):
    client.post(URL, BODY, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    response = client.post(URL, {**BODY, "orderId": "1002"}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert len(mail.outbox) == 1


@pytest.mark.parametrize("key", ["", "with space", "x" * 256, "caf\u00e9"])
def test_malformed_idempotency_key_gets_400(client, key):
    response = client.post(URL, BODY, format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()


def test_failed_email_is_recorded_answered_503_and_sent_on_retry(client):
    with mock.patch("notifications.services.send_mail", side_effect=ConnectionRefusedError("smtp down")):
        failed = client.post(URL, BODY, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert failed.status_code == 503
    assert failed.json()["code"] == "delivery_failed"
    assert failed["Retry-After"] == "30"
    notification = Notification.objects.get()
    assert (notification.status, notification.error) == ("failed", "ConnectionRefusedError: smtp down")
    retried = client.post(URL, BODY, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert retried.status_code == 201
    assert Notification.objects.get().attempts == 2
    assert len(mail.outbox) == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_repeats_send_one_email(make_token, jwks_server):
    token = make_token()
    results = []

    def call():
        client = APIClient()
        results.append(
            client.post(
                URL, BODY, format="json", HTTP_IDEMPOTENCY_KEY="same", HTTP_AUTHORIZATION=f"Bearer {token}"
            ).status_code
        )

    threads = [threading.Thread(target=call) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Notification.objects.count() == 1
    assert len(mail.outbox) == 1
    assert len(results) == 5
    assert set(results) <= {201, 503}
