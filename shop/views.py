"""The shop's pages: thin views over the cart, `selectors` and `services.order_place`."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from .cart import Cart
from .forms import CartLineForm
from .selectors import cart_summary, order_list_for_user, product_list_active
from .services import order_place


@require_GET
def product_list(request: HttpRequest) -> HttpResponse:
    return render(request, "shop/product_list.html", {"products": product_list_active()})


@require_POST
def cart_add(request: HttpRequest) -> HttpResponse:
    form = CartLineForm(request.POST)
    if form.is_valid():
        product, quantity = form.cleaned_data["product"], form.cleaned_data["quantity"]
        Cart(request.session).add(product_id=product.pk, quantity=quantity)
        messages.success(request, f"Added {quantity} × {product.name} to your cart.")
    else:
        messages.error(request, "That product or quantity cannot be added to the cart.")
    return redirect("shop:product_list")


@require_POST
def cart_update(request: HttpRequest) -> HttpResponse:
    form = CartLineForm(request.POST, min_quantity=0)
    if form.is_valid():
        Cart(request.session).set(product_id=form.cleaned_data["product"].pk, quantity=form.cleaned_data["quantity"])
    else:
        messages.error(request, "That quantity is not possible.")
    return redirect("shop:cart")


@require_GET
def cart_detail(request: HttpRequest) -> HttpResponse:
    return render(request, "shop/cart.html", {"cart": cart_summary(quantities=Cart(request.session).quantities)})


@require_POST
def checkout(request: HttpRequest) -> HttpResponse:
    """Place the order; the confirmation e-mail follows on its own, so this never waits for it."""
    if not request.user.is_authenticated:
        return redirect_to_login(reverse("shop:cart"))  # back to the cart, not to a GET of this POST
    cart = Cart(request.session)
    lines = [(line.product.pk, line.quantity) for line in cart_summary(quantities=cart.quantities).lines]
    try:
        order = order_place(user=request.user, lines=lines)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("shop:cart")
    cart.clear()
    messages.success(request, f"Thank you! Order {order.pk} is placed; a confirmation e-mail is on its way.")
    return redirect("shop:order_list")


@login_required
@require_GET
def order_list(request: HttpRequest) -> HttpResponse:
    return render(request, "shop/order_list.html", {"orders": order_list_for_user(user=request.user)})
