"""Forms of the shop's pages: putting a product in the cart, changing a cart line."""

from django import forms
from django.core.validators import MinValueValidator

from .selectors import product_list_active
from .services import MAX_QUANTITY


class CartLineForm(forms.Form):
    """A product and how many of it; `min_quantity` is 1 to add, 0 to change (0 removes the line)."""

    product = forms.ModelChoiceField(queryset=product_list_active(), widget=forms.HiddenInput)
    quantity = forms.IntegerField(max_value=MAX_QUANTITY, initial=1)

    def __init__(self, *args, min_quantity: int = 1, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["quantity"].min_value = min_quantity
        self.fields["quantity"].validators.append(MinValueValidator(min_quantity))
        self.fields["quantity"].widget.attrs.update(min=min_quantity, max=MAX_QUANTITY)
