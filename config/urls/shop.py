"""URLconf of the shop."""

from django.contrib import admin
from django.urls import include, path

from config.urls import api_docs_patterns

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
    *api_docs_patterns("config.urls.shop", API_DOCS),
]
