"""`shop.outbox`: the retry schedule and claims: back-off grows and is capped; one holder per message."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from shop import outbox, services
from shop.models import OutboxMessage
from shop.notifications_client import DeliveryResult, Outcome

pytestmark = pytest.mark.django_db


@pytest.fixture
def backoff_settings(settings):
    settings.SHOP_OUTBOX_BACKOFF_BASE = 5
    settings.SHOP_OUTBOX_BACKOFF_MAX = 900


def seconds(attempts, rand, retry_after=None):
    return outbox.outbox_backoff(attempts=attempts, retry_after=retry_after, rand=lambda: rand).total_seconds()


def test_backoff_doubles_with_each_attempt_until_the_cap(backoff_settings):
    assert [seconds(n, 1.0) for n in range(1, 10)] == [5, 10, 20, 40, 80, 160, 320, 640, 900]
    assert seconds(10_000, 1.0) == 900


def test_backoff_jitter_stays_in_the_upper_half_of_the_delay(backoff_settings):
    assert [seconds(n, 0.0) for n in (1, 4, 50)] == [2.5, 20, 450]
    assert seconds(3, 0.5) == 15


def test_backoff_honours_retry_after_but_never_beyond_the_cap(backoff_settings):
    assert seconds(1, 1.0, retry_after=30) == 30
    assert seconds(8, 1.0, retry_after=30) == 640
    assert seconds(1, 1.0, retry_after=86_400) == 900


@pytest.fixture
def message(customer, products, settings):
    settings.SHOP_NOTIFY_AFTER_COMMIT = "off"
    services.order_place(user=customer, lines=[(products[0].pk, 1)])
    return OutboxMessage.objects.get()


@pytest.fixture
def answer(monkeypatch):
    """The notification client's verdict, set by the test; records the calls."""

    class Scripted:
        result = DeliveryResult(Outcome.DELIVERED)
        calls = []

        def order_placed(self, **kwargs):
            Scripted.calls.append(kwargs)
            return Scripted.result

    Scripted.calls = []
    monkeypatch.setattr(outbox, "get_notification_client", Scripted)
    return Scripted


def test_retryable_failure_records_the_error_and_the_next_attempt(message, answer, settings):
    settings.SHOP_OUTBOX_BACKOFF_BASE = 60
    answer.result = DeliveryResult(Outcome.RETRY, "HTTP 503 delivery_failed: try later", 503, retry_after=None)
    before = timezone.now()

    assert outbox.outbox_message_deliver(message_id=message.pk) == Outcome.RETRY

    message.refresh_from_db()
    assert (message.status, message.attempts, message.last_error) == (
        "failed",
        1,
        "HTTP 503 delivery_failed: try later",
    )
    assert before + timedelta(seconds=30) <= message.next_attempt_at <= timezone.now() + timedelta(seconds=60)
    assert (message.claimed_until, message.claim_token, message.delivered_at) == (None, None, None)


def test_permanent_failure_makes_the_message_dead_until_requeued(message, answer):
    answer.result = DeliveryResult(Outcome.PERMANENT, "HTTP 400: {'userEmail': ['Enter a valid email address.']}", 400)
    outbox.outbox_message_deliver(message_id=message.pk)
    message.refresh_from_db()
    assert message.status == "dead"
    assert outbox.outbox_deliver_due().claimed == 0

    assert services.outbox_message_requeue(message=message) is True
    answer.result = DeliveryResult(Outcome.DELIVERED)
    assert len(outbox.outbox_deliver_due().delivered) == 1
    message.refresh_from_db()
    assert (message.status, message.attempts) == ("delivered", 2)


def test_a_delivered_message_is_never_requeued(message, answer):
    outbox.outbox_message_deliver(message_id=message.pk)
    message.refresh_from_db()
    assert services.outbox_message_requeue(message=message) is False
    assert outbox.outbox_message_deliver(message_id=message.pk) is None
    assert len(answer.calls) == 1


def test_an_unexpected_error_is_retried_like_any_failure(message, monkeypatch):
    class Broken:
        def order_placed(self, **kwargs):
            raise KeyError("surprise")

    monkeypatch.setattr(outbox, "get_notification_client", Broken)
    assert outbox.outbox_message_deliver(message_id=message.pk) == Outcome.RETRY
    message.refresh_from_db()
    assert (message.status, message.last_error) == ("failed", "Unexpected error: KeyError.")


def test_a_claim_lost_during_the_call_leaves_the_outcome_to_the_new_holder(message, monkeypatch):
    class StolenDuringCall:
        def order_placed(self, **kwargs):
            OutboxMessage.objects.update(claim_token="1" * 32)
            return DeliveryResult(Outcome.DELIVERED)

    monkeypatch.setattr(outbox, "get_notification_client", StolenDuringCall)
    assert outbox.outbox_message_deliver(message_id=message.pk) is None
    message.refresh_from_db()
    assert message.status == "pending"


def test_batch_claims_only_due_unclaimed_messages_oldest_first(customer, products, answer, settings):
    settings.SHOP_NOTIFY_AFTER_COMMIT = "off"
    for _ in range(4):
        services.order_place(user=customer, lines=[(products[0].pk, 1)])
    first, later, claimed, delivered = OutboxMessage.objects.order_by("created_at")
    now = timezone.now()
    OutboxMessage.objects.filter(pk=later.pk).update(status="failed", next_attempt_at=now + timedelta(minutes=5))
    OutboxMessage.objects.filter(pk=claimed.pk).update(claimed_until=now + timedelta(minutes=1))
    OutboxMessage.objects.filter(pk=delivered.pk).update(status="delivered")

    report = outbox.outbox_deliver_due(batch=10)

    assert report.delivered == [first.pk]
    assert [call["idempotency_key"] for call in answer.calls] == [str(first.pk)]


def test_batch_claim_uses_skip_locked_where_the_database_has_it(customer, products, answer, settings, monkeypatch):
    """PostgreSQL's path (SELECT ... FOR UPDATE SKIP LOCKED), run here on SQLite, which ignores the lock."""
    settings.SHOP_NOTIFY_AFTER_COMMIT = "off"
    for _ in range(3):
        services.order_place(user=customer, lines=[(products[0].pk, 1)])
    monkeypatch.setattr(connection.features, "has_select_for_update_skip_locked", True)

    first = outbox.outbox_deliver_due(batch=2)
    second = outbox.outbox_deliver_due(batch=2)

    assert (len(first.delivered), len(second.delivered)) == (2, 1)
    assert len(answer.calls) == 3
    assert set(OutboxMessage.objects.values_list("status", flat=True)) == {"delivered"}


def test_a_batch_sends_nothing_whose_claim_expired_before_its_turn(customer, products, settings, monkeypatch):
    """A slow batch outlives its lease: the messages left are another worker's now, not sent twice."""
    settings.SHOP_NOTIFY_AFTER_COMMIT = "off"
    for _ in range(2):
        services.order_place(user=customer, lines=[(products[0].pk, 1)])
    calls = []

    class SlowThenLeaseGone:
        def order_placed(self, **kwargs):
            calls.append(kwargs["idempotency_key"])
            OutboxMessage.objects.update(claimed_until=timezone.now() - timedelta(seconds=1))
            return DeliveryResult(Outcome.DELIVERED)

    monkeypatch.setattr(outbox, "get_notification_client", SlowThenLeaseGone)
    report = outbox.outbox_deliver_due(batch=10)

    assert (len(report.delivered), len(report.lost), len(calls)) == (1, 1, 1)
    assert sorted(OutboxMessage.objects.values_list("status", flat=True)) == ["delivered", "pending"]
