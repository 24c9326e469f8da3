"""Input and output shapes of the notification API (camelCase, as the seed's callers send it)."""

from django.conf import settings
from django.core.mail.message import sanitize_address
from django.core.validators import RegexValidator
from rest_framework import serializers

from .models import Notification

IDEMPOTENCY_KEY = RegexValidator(r"^[\x21-\x7e]{1,255}\Z", "Idempotency-Key must be 1 to 255 visible ASCII characters.")


class OrderNotificationRequestSerializer(serializers.Serializer):
    orderId = serializers.RegexField(  # noqa: N815 - the wire format's name
        r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$",
        error_messages={"invalid": "Enter an order id of letters, digits, '_', '.', ':' or '-' (64 at most)."},
    )
    userEmail = serializers.EmailField(max_length=254)  # noqa: N815

    def validate_userEmail(self, value: str) -> str:  # noqa: N802 - DRF's validate_<field> hook
        """Refuse what the EmailField lets through but mail cannot carry (a domain IDNA cannot encode):
        otherwise the notification is stored, fails for good, and the caller retries a 503 forever."""
        try:
            sanitize_address(value, settings.DEFAULT_CHARSET)
        except ValueError:  # UnicodeError included
            raise serializers.ValidationError("Enter an e-mail address that mail can be delivered to.") from None
        return value


class NotificationSerializer(serializers.ModelSerializer):
    orderId = serializers.CharField(source="order_id")  # noqa: N815
    userEmail = serializers.CharField(source="recipient")  # noqa: N815
    sentAt = serializers.DateTimeField(source="sent_at")  # noqa: N815
    createdAt = serializers.DateTimeField(source="created_at")  # noqa: N815

    class Meta:
        model = Notification
        fields = ["id", "status", "orderId", "userEmail", "sender", "createdAt", "sentAt"]
