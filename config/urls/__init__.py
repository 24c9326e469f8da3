"""One URLconf per service; both serve their OpenAPI schema and Swagger UI the same way."""

from django.urls import URLPattern, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView


def api_docs_patterns(urlconf: str, docs: dict) -> list[URLPattern]:
    """OpenAPI 3 schema of `urlconf` (JSON with ?format=json) at api/schema/, Swagger UI at api/docs/."""
    return [
        path("api/schema/", SpectacularAPIView.as_view(urlconf=urlconf, custom_settings=docs), name="api-schema"),
        path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema", title=docs["TITLE"]), name="api-docs"),
    ]
