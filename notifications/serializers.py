"""Input and output shapes of the notification API (camelCase, as the seed's callers send it)."""

from django.core.validators import RegexValidator
from rest_framework import serializers

from .models import Notification

IDEMPOTENCY_KEY = RegexValidator(r"^[\x21-\x7e]{1,255}$", "Idempotency-Key must be 1 to 255 visible ASCII characters.")


class OrderNotificationRequestSerializer(serializers.Serializer):
    orderId = serializers.RegexField(  # noqa: N815 - the wire format's name
        r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$",
        error_messages={"invalid": "Enter an order id of letters, digits, '_', '.', ':' or '-' (64 at most)."},
    )
    userEmail = serializers.EmailField(max_length=254)  # noqa: N815


class NotificationSerializer(serializers.ModelSerializer):
    orderId = serializers.CharField(source="order_id")  # noqa: N815
    userEmail = serializers.CharField(source="recipient")  # noqa: N815
    sentAt = serializers.DateTimeField(source="sent_at")  # noqa: N815
    createdAt = serializers.DateTimeField(source="created_at")  # noqa: N815

    class Meta:
        model = Notification
        fields = ["id", "status", "orderId", "userEmail", "sender", "createdAt", "sentAt"]
