"""Delivering the outbox to the real notification service (served by `live_server`), once per message."""

import logging
import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from notifications.models import Notification
from shop import outbox, services
from shop.models import OutboxMessage
from shop.notifications_client import Outcome

pytestmark = pytest.mark.django_db


def place_order(customer, products):
    return services.order_place(user=customer, lines=[(products[0].pk, 2)])


def test_an_order_reaches_the_notification_service_with_the_outbox_id_as_idempotency_key(
    notification_service, customer, products
):
    order = place_order(customer, products)

    message = OutboxMessage.objects.get()
    assert (message.status, message.attempts, message.last_error) == ("delivered", 1, "")
    assert message.delivered_at is not None and message.claimed_until is None
    notification = Notification.objects.get()
    assert (notification.order_id, notification.recipient, notification.sender, notification.idempotency_key) == (
        str(order.pk),
        "customer@example.com",
        "shop-api",
        str(message.pk),
    )
    assert [m.to for m in mail.outbox] == [["customer@example.com"]]


def test_service_down_keeps_the_order_and_the_worker_delivers_once_it_is_up(
    token_endpoint, live_server, customer, products, settings
):
    order = place_order(customer, products)  # NOTIFICATION_URL is a closed port

    message = OutboxMessage.objects.get()
    assert (message.order, message.status, message.attempts) == (order, "failed", 1)
    assert message.last_error.startswith(f"Could not reach {settings.NOTIFICATION_URL}/api/notifications/order")
    assert message.next_attempt_at > timezone.now()
    assert Notification.objects.count() == 0

    settings.NOTIFICATION_URL = live_server.url
    call_command("deliver_notifications", "--once", stdout=_Sink())
    message.refresh_from_db()
    assert message.status == "failed", "not due yet: the back-off is respected"

    OutboxMessage.objects.update(next_attempt_at=timezone.now())
    out = _Sink()
    call_command("deliver_notifications", "--once", stdout=out)

    message.refresh_from_db()
    assert (message.status, message.attempts, message.last_error) == ("delivered", 2, "")
    assert out.lines == ["Delivered 1, will retry 0, dead 0.", "Done: delivered 1, will retry 0, dead 0."]
    assert Notification.objects.count() == 1
    assert len(mail.outbox) == 1


def test_inline_attempt_and_a_later_worker_run_on_the_same_message_send_one_email(
    notification_service, customer, products
):
    place_order(customer, products)
    message = OutboxMessage.objects.get()
    assert message.status == "delivered"
    # As if the shop lost the outcome of the first call (crash after sending): the worker sends again.
    OutboxMessage.objects.update(status="failed", delivered_at=None, next_attempt_at=timezone.now())

    call_command("deliver_notifications", "--once", stdout=_Sink())

    message.refresh_from_db()
    assert (message.status, message.attempts) == ("delivered", 2)
    assert Notification.objects.count() == 1
    assert len(mail.outbox) == 1


def test_a_crashed_workers_claim_expires_and_the_message_is_sent_once(
    notification_service, customer, products, settings
):
    settings.SHOP_NOTIFY_AFTER_COMMIT = "off"
    place_order(customer, products)
    now = timezone.now()
    OutboxMessage.objects.update(claimed_until=now + timedelta(seconds=60), claim_token="0" * 32)

    assert outbox.outbox_deliver_due().claimed == 0, "a live claim is left alone"

    OutboxMessage.objects.update(claimed_until=now - timedelta(seconds=1))
    report = outbox.outbox_deliver_due()

    assert len(report.delivered) == 1
    assert Notification.objects.count() == 1


def test_concurrent_attempts_on_one_message_make_one_call(notification_service, customer, products, settings):
    settings.SHOP_NOTIFY_AFTER_COMMIT = "off"
    place_order(customer, products)
    message_id = OutboxMessage.objects.get().pk
    start = threading.Barrier(4)
    outcomes = []

    def attempt():
        start.wait()
        try:
            outcomes.append(outbox.outbox_message_deliver(message_id=message_id))
        finally:
            from django.db import connection

            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert (outcomes.count(Outcome.DELIVERED), outcomes.count(None)) == (1, 3)
    assert OutboxMessage.objects.get().attempts == 1
    assert Notification.objects.count() == 1
    assert len(mail.outbox) == 1


def test_a_refusal_for_good_makes_the_message_dead(
    notification_service, token_endpoint, make_token, customer, products
):
    """A token without the notifications:send role gets 403: retrying the same request cannot help."""
    token_endpoint.issue = lambda: make_token(resource_access={})
    place_order(customer, products)

    message = OutboxMessage.objects.get()
    assert (message.status, message.attempts) == ("dead", 1)
    assert message.last_error.startswith("HTTP 403 missing_role: ")
    assert outbox.outbox_deliver_due().claimed == 0, "dead messages are not retried"
    assert Notification.objects.count() == 0


def test_a_rejected_token_is_retried_later_and_never_logged(
    notification_service, token_endpoint, make_token, customer, products, caplog, settings
):
    """401 invalid_token twice (the renewal gets a bad token too): a retryable failure, no token in logs."""
    caplog.set_level(logging.DEBUG)
    token_endpoint.issue = lambda: make_token(iss="https://elsewhere.example/realms/techstore")
    place_order(customer, products)

    message = OutboxMessage.objects.get()
    assert (message.status, message.attempts) == ("failed", 1)
    assert message.last_error.startswith("HTTP 401 invalid_issuer: ")
    assert len(token_endpoint.issued) == 2, "one renewal after the first 401"

    token_endpoint.issue = make_token
    OutboxMessage.objects.update(next_attempt_at=timezone.now())
    call_command("deliver_notifications", "--once", stdout=_Sink())

    assert OutboxMessage.objects.get().status == "delivered"
    assert len(token_endpoint.issued) == 3
    for token in token_endpoint.issued:
        assert token not in caplog.text
        assert token not in message.last_error
    assert "Outbox message" in caplog.text


class _Sink:
    """A stdout for call_command that keeps lines."""

    def __init__(self):
        self.text = ""

    def write(self, text):
        self.text += text

    def flush(self):
        pass

    @property
    def lines(self):
        return self.text.splitlines()
