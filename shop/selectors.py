"""Reads of the shop: the catalogue, a session cart priced from it, a customer's orders."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Prefetch, QuerySet

from .models import Order, OrderItem, OutboxMessage, Product


def product_list_active() -> QuerySet[Product]:
    return Product.objects.filter(is_active=True)


@dataclass(frozen=True)
class CartLine:
    product: Product
    quantity: int

    @property
    def line_total(self) -> Decimal:
        return self.product.price * self.quantity


@dataclass(frozen=True)
class CartSummary:
    lines: list[CartLine]

    @property
    def total(self) -> Decimal:
        return sum((line.line_total for line in self.lines), Decimal("0"))

    @property
    def count(self) -> int:
        return sum(line.quantity for line in self.lines)


def cart_summary(*, quantities: Mapping[int, int]) -> CartSummary:
    """The cart priced at today's prices; products no longer sold drop out."""
    products = product_list_active().in_bulk(list(quantities))
    lines = [CartLine(products[pk], quantity) for pk, quantity in quantities.items() if pk in products]
    return CartSummary(sorted(lines, key=lambda line: line.product.name))


def order_list_for_user(*, user) -> QuerySet[Order]:
    """The customer's orders, newest first, with items and notification state in three queries."""
    return Order.objects.filter(user=user).prefetch_related(
        Prefetch("items", queryset=OrderItem.objects.select_related("product").order_by("pk")),
        Prefetch("outbox_messages", queryset=OutboxMessage.objects.order_by("created_at")),
    )
