"""Thin receivers: each hands a signal to one service function."""

from typing import Any

from django.dispatch import receiver

from .models import Order
from .services import outbox_message_create_for_order
from .signals import order_placed


@receiver(order_placed, sender=Order, dispatch_uid="shop.order_placed.outbox")
def write_order_placed_outbox_message(sender: type[Order], *, order: Order, **kwargs: Any) -> None:
    """The notification is recorded in the order's own transaction: both commit, or neither."""
    outbox_message_create_for_order(order=order)
