"""Writes of the shop: placing an order, and recording the messages it owes other services.

An order and its outbox message commit in one transaction (the `order_placed` receiver writes the
message); delivering that message is `shop.outbox`'s job, started once the transaction commits.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from .models import Order, OrderItem, OutboxMessage, Product
from .outbox import outbox_dispatch_after_commit
from .signals import order_placed

logger = logging.getLogger(__name__)

MAX_QUANTITY = 100
MAX_LINES = 50


# Orders


def order_place(*, user, lines: Iterable[tuple[int, int]]) -> Order:
    """Create the order, its items and (through `order_placed`) its outbox message, atomically.

    `lines` are (product id, quantity) pairs; a product named twice gets the sum. Raises
    `ValidationError` naming the fault when the order cannot be placed as asked.
    """
    quantities = _quantities(lines)
    if not user.email:
        raise ValidationError("Your account has no e-mail address for the order confirmation.", code="no_email")
    with transaction.atomic():
        products = Product.objects.filter(pk__in=quantities, is_active=True).in_bulk()
        unknown = sorted(set(quantities) - set(products))
        if unknown:
            raise ValidationError(
                "Unknown or unavailable product(s): %(ids)s.",
                code="unknown_product",
                params={"ids": ", ".join(map(str, unknown))},
            )
        total = sum((products[pk].price * quantity for pk, quantity in quantities.items()), Decimal("0"))
        order = Order.objects.create(user=user, email=user.email, total=total)
        OrderItem.objects.bulk_create(
            OrderItem(order=order, product=products[pk], quantity=quantity, unit_price=products[pk].price)
            for pk, quantity in quantities.items()
        )
        order_placed.send(sender=Order, order=order)
    logger.info("Order %s placed by user %s (%d item(s)).", order.pk, user.pk, len(quantities))
    return order


def _quantities(lines: Iterable[tuple[int, int]]) -> dict[int, int]:
    quantities: dict[int, int] = {}
    for product_id, quantity in lines:
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
            raise ValidationError("Quantities must be whole numbers of at least 1.", code="invalid_quantity")
        quantities[product_id] = quantities.get(product_id, 0) + quantity
    if not quantities:
        raise ValidationError("An order needs at least one item.", code="empty_order")
    if len(quantities) > MAX_LINES:
        raise ValidationError(f"An order may hold at most {MAX_LINES} different products.", code="too_many_lines")
    if any(quantity > MAX_QUANTITY for quantity in quantities.values()):
        raise ValidationError(f"At most {MAX_QUANTITY} of one product per order.", code="quantity_too_large")
    return quantities


# The outbox


def outbox_message_create_for_order(*, order: Order) -> OutboxMessage:
    """Record the "order placed" notification; must run inside the order's transaction."""
    if not transaction.get_connection().in_atomic_block:
        # Outside a transaction the order could commit without its message: refuse loudly.
        raise RuntimeError("outbox_message_create_for_order() must run inside the order's transaction.")
    message = OutboxMessage.objects.create(
        topic=OutboxMessage.Topic.ORDER_PLACED,
        order=order,
        payload={"orderId": str(order.pk), "userEmail": order.email},
        next_attempt_at=timezone.now(),
    )
    transaction.on_commit(lambda: outbox_dispatch_after_commit(message_id=message.pk), robust=True)
    return message


def outbox_message_requeue(*, message: OutboxMessage) -> bool:
    """Make a failed or dead message due now (after the cause was fixed); False if it was delivered."""
    return bool(
        OutboxMessage.objects.filter(pk=message.pk, status__in=[OutboxMessage.Status.FAILED, OutboxMessage.Status.DEAD])
        .exclude(claimed_until__gt=timezone.now())
        .update(status=OutboxMessage.Status.FAILED, next_attempt_at=timezone.now(), updated_at=timezone.now())
    )
