"""`order_place`: an order, its items and its outbox message commit together or not at all."""

import threading
import time
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from shop import outbox, services
from shop.models import Order, OrderItem, OutboxMessage
from shop.notifications_client import DeliveryResult, Outcome

pytestmark = pytest.mark.django_db


def test_places_the_order_with_its_items_and_one_pending_outbox_message(customer, products):
    keyboard, mouse, _ = products
    order = services.order_place(user=customer, lines=[(keyboard.pk, 2), (mouse.pk, 1)])

    assert (order.user, order.email, order.total) == (customer, "customer@example.com", Decimal("212.90"))
    assert sorted(order.items.values_list("product__sku", "quantity", "unit_price")) == [
        ("T-KB", 2, Decimal("89.00")),
        ("T-MS", 1, Decimal("34.90")),
    ]
    message = OutboxMessage.objects.get()
    assert (message.order, message.topic, message.status, message.attempts) == (order, "order.placed", "pending", 0)
    assert message.payload == {"orderId": str(order.pk), "userEmail": "customer@example.com"}


def test_outbox_write_failure_leaves_no_order_behind(customer, products, monkeypatch):
    def fail(**kwargs):
        raise IntegrityError("outbox insert failed")

    monkeypatch.setattr(OutboxMessage.objects, "create", fail)
    with pytest.raises(IntegrityError):
        services.order_place(user=customer, lines=[(products[0].pk, 1)])

    assert (Order.objects.count(), OrderItem.objects.count(), OutboxMessage.objects.count()) == (0, 0, 0)


@pytest.mark.django_db(transaction=True)
def test_the_outbox_write_refuses_to_run_outside_a_transaction(customer, products):
    order = Order.objects.create(user=customer, email=customer.email, total=0)
    with pytest.raises(RuntimeError, match="inside the order's transaction"):
        services.outbox_message_create_for_order(order=order)
    assert OutboxMessage.objects.count() == 0


def test_keeps_the_price_paid_when_the_product_price_changes_later(customer, products):
    keyboard = products[0]
    order = services.order_place(user=customer, lines=[(keyboard.pk, 1)])
    keyboard.price = Decimal("99.00")
    keyboard.save()

    assert order.items.get().unit_price == Decimal("89.00")


def test_adds_up_a_product_named_twice(customer, products):
    order = services.order_place(user=customer, lines=[(products[0].pk, 1), (products[0].pk, 2)])
    assert list(order.items.values_list("quantity", flat=True)) == [3]


@pytest.mark.parametrize(
    ("lines", "code"),
    [
        ([], "empty_order"),
        ([("keyboard", 0)], "invalid_quantity"),
        ([("keyboard", -1)], "invalid_quantity"),
        ([("keyboard", 101)], "quantity_too_large"),
        ([("keyboard", 1), (999_999, 1)], "unknown_product"),
        ([("discontinued", 1)], "unknown_product"),
    ],
)
def test_refuses_an_order_that_cannot_be_placed_as_asked(customer, products, lines, code):
    ids = {"keyboard": products[0].pk, "discontinued": products[2].pk}
    with pytest.raises(ValidationError) as raised:
        services.order_place(user=customer, lines=[(ids.get(pk, pk), quantity) for pk, quantity in lines])

    assert raised.value.code == code
    assert (Order.objects.count(), OutboxMessage.objects.count()) == (0, 0)


def test_refuses_a_customer_without_an_email_address(django_user_model, products):
    user = django_user_model.objects.create_user("no-email")
    with pytest.raises(ValidationError) as raised:
        services.order_place(user=user, lines=[(products[0].pk, 1)])
    assert raised.value.code == "no_email"


def test_tries_delivery_only_after_commit(customer, products, django_capture_on_commit_callbacks, monkeypatch):
    attempted = []
    monkeypatch.setattr(outbox, "outbox_message_deliver", lambda *, message_id: attempted.append(message_id))

    with django_capture_on_commit_callbacks() as callbacks:
        services.order_place(user=customer, lines=[(products[0].pk, 1)])
        assert attempted == []
    for callback in callbacks:
        callback()

    assert attempted == [OutboxMessage.objects.get().pk]


def test_off_mode_leaves_delivery_to_the_worker(customer, products, settings, django_capture_on_commit_callbacks):
    settings.SHOP_NOTIFY_AFTER_COMMIT = "off"
    with django_capture_on_commit_callbacks(execute=True):
        services.order_place(user=customer, lines=[(products[0].pk, 1)])

    message = OutboxMessage.objects.get()
    assert (message.status, message.attempts) == ("pending", 0)


@pytest.mark.django_db(transaction=True)
def test_thread_mode_places_the_order_without_waiting_for_the_notification_service(
    customer, products, settings, monkeypatch
):
    """The notification call blocks until the test lets it go: checkout has returned by then."""
    settings.SHOP_NOTIFY_AFTER_COMMIT = "thread"
    calls, release = [], threading.Event()

    class BlockedClient:
        def order_placed(self, **kwargs):
            release.wait(10)
            calls.append(kwargs)
            return DeliveryResult(Outcome.DELIVERED)

    monkeypatch.setattr(outbox, "get_notification_client", BlockedClient)
    order = services.order_place(user=customer, lines=[(products[0].pk, 1)])
    assert calls == []  # placed while the notification call is still blocked
    release.set()

    deadline = time.monotonic() + 10
    while OutboxMessage.objects.get().status != "delivered" and time.monotonic() < deadline:
        time.sleep(0.05)
    message = OutboxMessage.objects.get()
    assert (message.status, message.attempts) == ("delivered", 1)
    assert calls == [
        {"order_id": str(order.pk), "user_email": "customer@example.com", "idempotency_key": str(message.pk)}
    ]


@pytest.mark.django_db(transaction=True)
def test_inside_a_request_delivery_starts_only_once_the_response_is_closed(customer, products, settings, monkeypatch):
    """The delivery thread must not compete with the request thread while the response is built."""
    from django.core.signals import request_finished, request_started

    settings.SHOP_NOTIFY_AFTER_COMMIT = "thread"
    submitted = []
    monkeypatch.setattr(outbox, "_submit", lambda message_id, trace_context: submitted.append(message_id))
    request_started.send(sender=None)
    services.order_place(user=customer, lines=[(products[0].pk, 1)])
    assert submitted == []
    request_finished.send(sender=None)
    assert submitted == [OutboxMessage.objects.get().pk]
