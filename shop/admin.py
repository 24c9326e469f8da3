"""Admin: products; orders with their items and notification state; the outbox and its failures."""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from .models import Order, OrderItem, OutboxMessage, Product
from .services import outbox_message_requeue

OUTBOX_FIELDS = [
    "id",
    "topic",
    "status",
    "attempts",
    "last_error",
    "next_attempt_at",
    "claimed_until",
    "delivered_at",
    "created_at",
]


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["name", "sku", "price", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["name", "sku"]


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class OrderItemInline(ReadOnlyInline):
    model = OrderItem
    fields = ["product", "quantity", "unit_price"]
    readonly_fields = fields


class OutboxMessageInline(ReadOnlyInline):
    model = OutboxMessage
    fields = ["status", "attempts", "last_error", "next_attempt_at", "delivered_at"]
    readonly_fields = fields
    show_change_link = True


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    """Orders are records of what customers bought: shown, never edited here."""

    list_display = ["id", "email", "total", "status", "created_at", "notification_status"]
    list_filter = ["status", "outbox_messages__status"]
    search_fields = ["=id", "email"]
    date_hierarchy = "created_at"
    readonly_fields = ["user", "email", "status", "total", "created_at"]
    inlines = [OrderItemInline, OutboxMessageInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Order]:
        return super().get_queryset(request).prefetch_related("outbox_messages")

    @admin.display(description="notification")
    def notification_status(self, order: Order) -> str:
        return ", ".join(message.get_status_display() for message in order.outbox_messages.all()) or "-"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    """Delivery state of every message; a dead or failed one can be sent again once its cause is fixed."""

    list_display = ["id", "topic", "order", "status", "attempts", "short_error", "next_attempt_at", "delivered_at"]
    list_filter = ["status", "topic"]
    search_fields = ["=id", "=order__id"]
    readonly_fields = [*OUTBOX_FIELDS, "order", "payload", "updated_at"]
    fields = readonly_fields
    actions = ["retry_now"]

    @admin.display(description="last error")
    def short_error(self, message: OutboxMessage) -> str:
        return message.last_error if len(message.last_error) <= 80 else message.last_error[:79] + "…"

    @admin.action(description="Retry the selected failed or dead messages now", permissions=["retry"])
    def retry_now(self, request: HttpRequest, queryset: QuerySet[OutboxMessage]) -> None:
        requeued = sum(outbox_message_requeue(message=message) for message in queryset)
        self.message_user(request, f"{requeued} message(s) queued for the next delivery run.", messages.SUCCESS)

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("shop.change_outboxmessage")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
