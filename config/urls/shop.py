"""URLconf of the shop."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

admin.site.site_header = "TechStore shop"

API_DOCS = {
    "TITLE": "TechStore shop API",
    "DESCRIPTION": (
        "The orders of the logged-in customer. Log in through the shop's pages first (Keycloak, "
        "then the session cookie); unsafe methods also need the `X-CSRFToken` header."
    ),
}

urlpatterns = [
    path("admin/", admin.site.urls),
    path("oidc/", include("mozilla_django_oidc.urls")),
    path("", include("shop.urls")),
    # OpenAPI 3 schema of this service's API (JSON with ?format=json) and Swagger UI over it.
    path(
        "api/schema/",
        SpectacularAPIView.as_view(urlconf="config.urls.shop", custom_settings=API_DOCS),
        name="api-schema",
    ),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema", title=API_DOCS["TITLE"]), name="api-docs"),
]
