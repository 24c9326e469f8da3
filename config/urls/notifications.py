"""URLconf of the notification service."""

from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "Notification service"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("notifications.urls")),
]
