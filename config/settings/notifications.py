"""The notification service (port 8001 by default): accepts service tokens from Keycloak."""

from config.env import env_str

from .base import *  # noqa: F403
from .base import INSTALLED_APPS, REST_FRAMEWORK, service_database

INSTALLED_APPS = [*INSTALLED_APPS, "notifications"]
ROOT_URLCONF = "config.urls.notifications"
DATABASES = {"default": service_database("notifications")}

# Both services run on localhost in development: distinct cookie names keep their admins apart.
SESSION_COOKIE_NAME = "notifications_sessionid"
CSRF_COOKIE_NAME = "notifications_csrftoken"

REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_AUTHENTICATION_CLASSES": ["m2m_auth.authentication.ServiceAccountAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["m2m_auth.permissions.IsServiceAccount"],
}

M2M_AUTH = {
    # The Keycloak client id of this service: tokens must name it in `aud`.
    "AUDIENCE": env_str("M2M_AUTH_AUDIENCE", "notification-service"),
}
