"""The shop's pages: catalogue, cart, checkout and "my orders", through Django's test client."""

import pytest
from django.test import Client

from shop.models import Order, OutboxMessage

pytestmark = pytest.mark.django_db


@pytest.fixture
def logged_in(client, customer):
    client.force_login(customer)
    return client


def add(client, product, quantity=1):
    return client.post("/cart/add/", {"product": product.pk, "quantity": quantity})


def test_product_list_shows_active_products_and_a_login_link(client, products):
    response = client.get("/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Keyboard" in page and "€89.00" in page and "Mouse" in page
    assert "Discontinued cable" not in page
    assert 'href="/oidc/authenticate/?next=/"' in page
    assert "Log out" not in page


def test_logged_in_customer_sees_their_email_and_a_logout_button(logged_in, products):
    page = logged_in.get("/").content.decode()
    assert "customer@example.com" in page
    assert 'action="/oidc/logout/"' in page
    assert "My orders" in page


def test_adding_to_the_cart_adds_up_and_the_cart_shows_the_total(client, products):
    keyboard, mouse, _ = products
    assert add(client, keyboard).url == "/"
    add(client, keyboard, 2)
    add(client, mouse)

    response = client.get("/cart/")
    assert [(line.product.name, line.quantity) for line in response.context["cart"].lines] == [
        ("Keyboard", 3),
        ("Mouse", 1),
    ]
    page = response.content.decode()
    assert "€301.90" in page
    assert "Log in to place your order" in page


@pytest.mark.parametrize("quantity", [0, -1, 101, "x"])
def test_adding_an_impossible_quantity_changes_nothing(client, products, quantity):
    response = add(client, products[0], quantity)
    assert response.status_code == 302
    assert client.get("/cart/").context["cart"].lines == []


def test_an_inactive_product_cannot_be_added(client, products):
    add(client, products[2])
    assert client.get("/cart/").context["cart"].lines == []


def test_updating_a_line_to_zero_removes_it(client, products):
    add(client, products[0], 2)
    client.post("/cart/update/", {"product": products[0].pk, "quantity": 5})
    assert client.get("/cart/").context["cart"].lines[0].quantity == 5
    client.post("/cart/update/", {"product": products[0].pk, "quantity": 0})
    assert client.get("/cart/").context["cart"].lines == []


def test_checkout_places_the_order_empties_the_cart_and_shows_my_orders(logged_in, products):
    add(logged_in, products[0], 2)

    response = logged_in.post("/checkout/", follow=True)

    order = Order.objects.get()
    assert response.redirect_chain == [("/orders/", 302)]
    page = response.content.decode()
    assert f"Order {order.pk} is placed" in page
    assert "2 × Keyboard" in page and "€178.00" in page
    assert logged_in.get("/cart/").context["cart"].lines == []
    assert OutboxMessage.objects.get().order == order


def test_checkout_with_an_empty_cart_explains_and_places_nothing(logged_in, products):
    response = logged_in.post("/checkout/", follow=True)
    assert response.redirect_chain == [("/cart/", 302)]
    assert "An order needs at least one item." in response.content.decode()
    assert Order.objects.count() == 0


def test_checkout_when_logged_out_asks_to_log_in_and_comes_back_to_the_cart(client, products, settings):
    settings.LOGIN_URL = "oidc_authentication_init"
    add(client, products[0])
    response = client.post("/checkout/")
    assert (response.status_code, response.url) == (302, "/oidc/authenticate/?next=/cart/")
    assert Order.objects.count() == 0


def test_checkout_is_post_only(logged_in):
    assert logged_in.get("/checkout/").status_code == 405


def test_my_orders_needs_a_login(client):
    response = client.get("/orders/")
    assert response.status_code == 302
    assert "/orders/" in response.url


@pytest.mark.parametrize(
    ("status", "label"),
    [("pending", "on its way"), ("failed", "delayed, retrying"), ("delivered", "sent"), ("dead", "could not be sent")],
)
def test_my_orders_shows_each_orders_notification_status(logged_in, products, status, label):
    add(logged_in, products[0])
    logged_in.post("/checkout/")
    OutboxMessage.objects.update(status=status)

    page = logged_in.get("/orders/").content.decode()
    assert f'<span class="badge {status}">{label}</span>' in page


def test_my_orders_shows_only_my_orders(logged_in, products, django_user_model):
    other = Client()
    other.force_login(django_user_model.objects.create_user("other", email="other@example.com"))
    add(other, products[1])
    other.post("/checkout/")

    response = logged_in.get("/orders/")
    assert list(response.context["orders"]) == []
    assert "No orders yet." in response.content.decode()
