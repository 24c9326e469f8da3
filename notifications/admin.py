"""Read-only admin: every notification, who sent it and what became of it."""

from django.contrib import admin

from .models import Notification


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["order_id", "recipient", "sender", "status", "created_at", "sent_at"]
    list_filter = ["status", "sender"]
    search_fields = ["order_id", "recipient"]
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in Notification._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
