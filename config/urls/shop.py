"""URLconf of the shop."""

from django.contrib import admin
from django.urls import path

admin.site.site_header = "TechStore shop"

urlpatterns = [
    path("admin/", admin.site.urls),
]
