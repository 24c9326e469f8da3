"""URLconf of the shop."""

from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "TechStore shop"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("oidc/", include("mozilla_django_oidc.urls")),
    path("", include("shop.urls")),
]
