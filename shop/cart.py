"""The cart: product ids and quantities kept in the customer's session until checkout."""

from __future__ import annotations

from django.contrib.sessions.backends.base import SessionBase

from .services import MAX_QUANTITY

SESSION_KEY = "shop_cart"


class Cart:
    """A thin wrapper over one session key; prices are looked up when shown, never stored here."""

    def __init__(self, session: SessionBase) -> None:
        self.session = session

    @property
    def quantities(self) -> dict[int, int]:
        # Session data round-trips through JSON: keys come back as strings.
        return {int(pk): int(quantity) for pk, quantity in self.session.get(SESSION_KEY, {}).items()}

    def add(self, *, product_id: int, quantity: int) -> None:
        quantities = self.quantities
        self.set(product_id=product_id, quantity=quantities.get(product_id, 0) + quantity)

    def set(self, *, product_id: int, quantity: int) -> None:
        """Set a line's quantity (capped); zero removes the line."""
        quantities = self.quantities
        if quantity <= 0:
            quantities.pop(product_id, None)
        else:
            quantities[product_id] = min(quantity, MAX_QUANTITY)
        self._save(quantities)

    def clear(self) -> None:
        self.session.pop(SESSION_KEY, None)

    def _save(self, quantities: dict[int, int]) -> None:
        self.session[SESSION_KEY] = {str(pk): quantity for pk, quantity in quantities.items()}
