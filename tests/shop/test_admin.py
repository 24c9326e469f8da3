"""The shop admin: orders with items and notification state, and the outbox with its failures."""

import pytest

from shop import services
from shop.models import OutboxMessage

pytestmark = [pytest.mark.django_db, pytest.mark.urls("config.urls.shop")]


@pytest.fixture
def order(customer, products, settings):
    settings.SHOP_NOTIFY_AFTER_COMMIT = "off"
    order = services.order_place(user=customer, lines=[(products[0].pk, 2)])
    OutboxMessage.objects.update(status="dead", attempts=3, last_error="HTTP 403 missing_role: no role")
    return order


def test_order_list_and_page_show_items_and_notification_state(admin_client, order):
    listing = admin_client.get("/admin/shop/order/")
    assert listing.status_code == 200
    assert "Dead (not retried)" in listing.content.decode()

    page = admin_client.get(f"/admin/shop/order/{order.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Keyboard (T-KB)" in html
    assert "HTTP 403 missing_role: no role" in html


def test_outbox_list_shows_attempts_and_errors(admin_client, order):
    response = admin_client.get("/admin/shop/outboxmessage/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "HTTP 403 missing_role: no role" in html
    assert "Retry the selected failed or dead messages now" in html


def test_retry_now_makes_a_dead_message_due_again(admin_client, order):
    message = OutboxMessage.objects.get()
    response = admin_client.post(
        "/admin/shop/outboxmessage/", {"action": "retry_now", "_selected_action": [str(message.pk)]}, follow=True
    )
    assert "1 message(s) queued for the next delivery run." in response.content.decode()
    message.refresh_from_db()
    assert message.status == "failed"


def test_products_can_be_edited(admin_client, products):
    response = admin_client.get(f"/admin/shop/product/{products[0].pk}/change/")
    assert response.status_code == 200
