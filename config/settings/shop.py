"""The shop (port 8000 by default): customers log in through Keycloak; calls other services."""

from config.env import env_str

from .base import *  # noqa: F403
from .base import INSTALLED_APPS, service_database

INSTALLED_APPS = [*INSTALLED_APPS, "mozilla_django_oidc", "shop"]
ROOT_URLCONF = "config.urls.shop"
DATABASES = {"default": service_database("shop")}

M2M_AUTH = {
    # The shop's service account; KEYCLOAK_CLIENT_SECRET must come from the environment.
    "CLIENT_ID": env_str("KEYCLOAK_CLIENT_ID", "shop-api"),
}

SESSION_COOKIE_NAME = "shop_sessionid"
CSRF_COOKIE_NAME = "shop_csrftoken"

# Customer login: OpenID Connect authorization code flow against Keycloak (client shop-web).
# The browser is sent to KEYCLOAK_PUBLIC_URL; the shop itself talks to KEYCLOAK_URL.
_keycloak_url = (env_str("KEYCLOAK_URL") or "http://localhost:8080").rstrip("/")
_keycloak_public_url = (env_str("KEYCLOAK_PUBLIC_URL") or _keycloak_url).rstrip("/")
_oidc_path = f"{env_str('KEYCLOAK_AUTH_PATH') or ''}/realms/{env_str('KEYCLOAK_REALM') or 'techstore'}"
_oidc_path += "/protocol/openid-connect"

AUTHENTICATION_BACKENDS = [
    "shop.oidc.KeycloakOIDCBackend",
    "django.contrib.auth.backends.ModelBackend",  # the admin's username and password
]
OIDC_RP_CLIENT_ID = "shop-web"
# Empty when unset, so that migrations and the worker run without it; the shop.W001 check warns and
# /oidc/authenticate/ says what to set.
OIDC_RP_CLIENT_SECRET = env_str("SHOP_WEB_CLIENT_SECRET", "")
OIDC_RP_SIGN_ALGO = "RS256"
OIDC_RP_SCOPES = "openid email profile"
OIDC_USE_PKCE = True
OIDC_OP_AUTHORIZATION_ENDPOINT = f"{_keycloak_public_url}{_oidc_path}/auth"
OIDC_OP_TOKEN_ENDPOINT = f"{_keycloak_url}{_oidc_path}/token"
OIDC_OP_USER_ENDPOINT = f"{_keycloak_url}{_oidc_path}/userinfo"
OIDC_OP_JWKS_ENDPOINT = f"{_keycloak_url}{_oidc_path}/certs"
# Keycloak's end-session endpoint, used by shop.oidc.provider_logout_url (seen by the browser).
SHOP_OIDC_OP_LOGOUT_ENDPOINT = f"{_keycloak_public_url}{_oidc_path}/logout"
OIDC_OP_LOGOUT_URL_METHOD = "shop.oidc.provider_logout_url"
OIDC_STORE_ID_TOKEN = True  # the id_token_hint of the logout above
OIDC_AUTHENTICATE_CLASS = "shop.oidc.AuthenticationRequestView"
# The library's default is no timeout at all: a hung Keycloak would hold a worker forever.
OIDC_TIMEOUT = (3.05, 10)
LOGIN_URL = "oidc_authentication_init"
LOGIN_REDIRECT_URL = "shop:product_list"
LOGIN_REDIRECT_URL_FAILURE = "/"  # used as is by the library, not reversed
LOGOUT_REDIRECT_URL = "shop:product_list"

# The notification service, and when the first delivery attempt of an order's e-mail happens.
NOTIFICATION_URL = env_str("NOTIFICATION_URL") or "http://localhost:8001"
# "thread": a background thread of the web process tries at once; "off": only the worker delivers.
SHOP_NOTIFY_AFTER_COMMIT = "thread"
