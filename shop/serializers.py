"""Shapes of the orders API (camelCase on the wire, like the notification service's)."""

from rest_framework import serializers

from .models import Order, OrderItem, OutboxMessage
from .services import MAX_LINES, MAX_QUANTITY


class OrderLineInputSerializer(serializers.Serializer):
    productId = serializers.IntegerField(min_value=1)  # noqa: N815 - the wire format's name
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)


class OrderCreateSerializer(serializers.Serializer):
    items = OrderLineInputSerializer(many=True, allow_empty=False, max_length=MAX_LINES)

    def lines(self) -> list[tuple[int, int]]:
        return [(item["productId"], item["quantity"]) for item in self.validated_data["items"]]


class OrderItemSerializer(serializers.ModelSerializer):
    productId = serializers.IntegerField(source="product_id")  # noqa: N815
    name = serializers.CharField(source="product.name")
    unitPrice = serializers.DecimalField(source="unit_price", max_digits=10, decimal_places=2)  # noqa: N815

    class Meta:
        model = OrderItem
        fields = ["productId", "name", "quantity", "unitPrice"]


class NotificationStateSerializer(serializers.ModelSerializer):
    deliveredAt = serializers.DateTimeField(source="delivered_at")  # noqa: N815

    class Meta:
        model = OutboxMessage
        fields = ["status", "attempts", "deliveredAt"]


class OrderSerializer(serializers.ModelSerializer):
    createdAt = serializers.DateTimeField(source="created_at")  # noqa: N815
    items = OrderItemSerializer(many=True)
    notification = serializers.SerializerMethodField()

    class Meta:
        model = Order
        fields = ["id", "status", "email", "total", "createdAt", "items", "notification"]

    def get_notification(self, order: Order) -> dict | None:
        messages = list(order.outbox_messages.all())
        return NotificationStateSerializer(messages[-1]).data if messages else None
