"""POST/GET /api/orders/: customers place and list their orders with their session."""

import pytest
from rest_framework.test import APIClient

from shop.models import Order, OutboxMessage

pytestmark = pytest.mark.django_db

URL = "/api/orders/"


@pytest.fixture
def api(customer):
    client = APIClient()
    client.force_login(customer)
    return client


def test_places_an_order_and_answers_201_with_it(api, products):
    keyboard, mouse, _ = products
    response = api.post(
        URL,
        {"items": [{"productId": keyboard.pk, "quantity": 2}, {"productId": mouse.pk, "quantity": 1}]},
        format="json",
    )

    assert response.status_code == 201, response.json()
    order = Order.objects.get()
    assert response.json() == {
        "id": order.pk,
        "status": "placed",
        "email": "customer@example.com",
        "total": "212.90",
        "createdAt": response.json()["createdAt"],
        "items": [
            {"productId": keyboard.pk, "name": "Keyboard", "quantity": 2, "unitPrice": "89.00"},
            {"productId": mouse.pk, "name": "Mouse", "quantity": 1, "unitPrice": "34.90"},
        ],
        "notification": {"status": "pending", "attempts": 0, "deliveredAt": None},
    }


GE_1 = ["Ensure this value is greater than or equal to 1."]


@pytest.mark.parametrize(
    ("items", "errors"),
    [
        (None, ["This field is required."]),
        ([], {"non_field_errors": ["This list may not be empty."]}),
        ("x", {"non_field_errors": ['Expected a list of items but got type "str".']}),
        ([{"productId": "keyboard", "quantity": 0}], {"0": {"quantity": GE_1}}),
        ([{"productId": "keyboard", "quantity": -3}], {"0": {"quantity": GE_1}}),
        ([{"productId": "keyboard", "quantity": "two"}], {"0": {"quantity": ["A valid integer is required."]}}),
        ([{"productId": "keyboard"}], {"0": {"quantity": ["This field is required."]}}),
        ([{"productId": 999999, "quantity": 1}], ["Unknown or unavailable product(s): 999999."]),
        ([{"productId": "discontinued", "quantity": 1}], ["Unknown or unavailable product(s): {discontinued}."]),
    ],
)
def test_bad_items_get_400_and_place_nothing(api, products, items, errors):
    ids = {"keyboard": products[0].pk, "discontinued": products[2].pk}
    if isinstance(items, list):
        items = [{**item, "productId": ids.get(item["productId"], item["productId"])} for item in items]
    if isinstance(errors, list) and errors and isinstance(errors[0], str):
        errors = [error.format(**ids) for error in errors]

    response = api.post(URL, {} if items is None else {"items": items}, format="json")

    assert response.status_code == 400
    assert response.json() == {"items": errors}
    assert (Order.objects.count(), OutboxMessage.objects.count()) == (0, 0)


def test_not_logged_in_gets_403(products):
    response = APIClient().post(URL, {"items": [{"productId": products[0].pk, "quantity": 1}]}, format="json")
    assert response.status_code == 403
    assert response.json() == {"detail": "Authentication credentials were not provided.", "code": "not_authenticated"}
    assert Order.objects.count() == 0


def test_session_requests_need_the_csrf_token(customer, products):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(customer)
    response = client.post(URL, {"items": [{"productId": products[0].pk, "quantity": 1}]}, format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


def test_a_service_token_is_not_a_customer(make_token, products):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {make_token()}")
    response = client.post(URL, {"items": [{"productId": products[0].pk, "quantity": 1}]}, format="json")
    assert response.status_code == 403


def test_lists_only_the_customers_own_orders(api, customer, products, django_user_model):
    other = APIClient()
    other.force_login(django_user_model.objects.create_user("other", email="other@example.com"))
    other.post(URL, {"items": [{"productId": products[0].pk, "quantity": 1}]}, format="json")
    mine = api.post(URL, {"items": [{"productId": products[1].pk, "quantity": 1}]}, format="json").json()

    response = api.get(URL)

    assert response.status_code == 200
    assert [order["id"] for order in response.json()] == [mine["id"]]
