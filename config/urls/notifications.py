"""URLconf of the notification service."""

from django.contrib import admin
from django.urls import include, path

from config.urls import api_docs_patterns

admin.site.site_header = "Notification service"
admin.site.site_url = None  # this service has no pages of its own to link to

API_DOCS = {
    "TITLE": "Notification service API",
    "DESCRIPTION": (
        "Sends the e-mails of other services. Callers authenticate as themselves with a Keycloak "
        "service token (OAuth 2.0 client credentials) that holds the client role `notifications:send`."
    ),
}

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("notifications.urls")),
    *api_docs_patterns("config.urls.notifications", API_DOCS),
]
