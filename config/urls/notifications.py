"""URLconf of the notification service."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

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
    # OpenAPI 3 schema of this service's API (JSON with ?format=json) and Swagger UI over it.
    path(
        "api/schema/",
        SpectacularAPIView.as_view(urlconf="config.urls.notifications", custom_settings=API_DOCS),
        name="api-schema",
    ),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema", title=API_DOCS["TITLE"]), name="api-docs"),
]
