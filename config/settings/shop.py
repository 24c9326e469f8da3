"""The shop (port 8000 by default): customers log in through Keycloak; calls other services."""

from .base import *  # noqa: F403
from .base import INSTALLED_APPS, sqlite_database

INSTALLED_APPS = [*INSTALLED_APPS, "shop"]
ROOT_URLCONF = "config.urls.shop"
DATABASES = {"default": sqlite_database("shop")}

SESSION_COOKIE_NAME = "shop_sessionid"
CSRF_COOKIE_NAME = "shop_csrftoken"
