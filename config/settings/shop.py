"""The shop (port 8000 by default): customers log in through Keycloak; calls other services."""

from config.env import env_str

from .base import *  # noqa: F403
from .base import INSTALLED_APPS, service_database

INSTALLED_APPS = [*INSTALLED_APPS, "shop"]
ROOT_URLCONF = "config.urls.shop"
DATABASES = {"default": service_database("shop")}

M2M_AUTH = {
    # The shop's service account; KEYCLOAK_CLIENT_SECRET must come from the environment.
    "CLIENT_ID": env_str("KEYCLOAK_CLIENT_ID", "shop-api"),
}

SESSION_COOKIE_NAME = "shop_sessionid"
CSRF_COOKIE_NAME = "shop_csrftoken"
