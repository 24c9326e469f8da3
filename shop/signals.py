"""Signals the shop sends; receivers live in `receivers.py` and are connected in `ShopConfig.ready()`."""

from django.dispatch import Signal

# Sent inside the transaction that creates an order, once its items exist; kwargs: `order`.
# A receiver that raises rolls the order back: what it writes commits together with the order.
order_placed = Signal()
