"""The notification admin: every notification with its sender, filterable, searchable, read-only."""

import pytest
from django.urls import reverse

from notifications.models import Notification

pytestmark = [pytest.mark.django_db, pytest.mark.urls("config.urls.notifications")]


@pytest.fixture
def notifications():
    return [
        Notification.objects.create(
            order_id="1001", recipient="ann@example.com", sender="shop-api", status="sent", request_fingerprint="a"
        ),
        Notification.objects.create(
            order_id="1002", recipient="bob@example.com", sender="billing-api", status="failed", request_fingerprint="b"
        ),
    ]


def changelist(admin_client, **params):
    response = admin_client.get(reverse("admin:notifications_notification_changelist"), params)
    assert response.status_code == 200
    return {n.order_id for n in response.context["cl"].result_list}


def test_lists_every_notification_with_its_sender(admin_client, notifications):
    response = admin_client.get(reverse("admin:notifications_notification_changelist"))
    assert changelist(admin_client) == {"1001", "1002"}
    assert b"shop-api" in response.content and b"billing-api" in response.content


def test_filters_by_status_and_sender(admin_client, notifications):
    assert changelist(admin_client, status__exact="failed") == {"1002"}
    assert changelist(admin_client, sender="shop-api") == {"1001"}


def test_searches_by_order_and_email(admin_client, notifications):
    assert changelist(admin_client, q="1001") == {"1001"}
    assert changelist(admin_client, q="bob@") == {"1002"}


def test_is_read_only(admin_client, notifications):
    notification = notifications[0]
    assert admin_client.get(reverse("admin:notifications_notification_add")).status_code == 403
    change_url = reverse("admin:notifications_notification_change", args=[notification.pk])
    assert admin_client.post(change_url, {"status": "failed"}).status_code == 403
    delete_url = reverse("admin:notifications_notification_delete", args=[notification.pk])
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403
    notification.refresh_from_db()
    assert notification.status == "sent"
