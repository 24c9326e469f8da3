"""System checks of the shop: customer login and the after-commit delivery mode."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_backends
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from .conf import AFTER_COMMIT_MODES, shop_setting


def _oidc_login_enabled() -> bool:
    return any(isinstance(backend, OIDCAuthenticationBackend) for backend in _backends_or_empty())


def _backends_or_empty() -> list:
    try:
        return get_backends()
    except ImproperlyConfigured:  # an OIDC backend refuses to load without its endpoints: not ours to report
        return []


@checks.register(checks.Tags.security)
def check_customer_login(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """A warning, not an error: migrations and the delivery worker run fine without customer login."""
    if not _oidc_login_enabled() or getattr(settings, "OIDC_RP_CLIENT_SECRET", ""):
        return []
    client_id = getattr(settings, "OIDC_RP_CLIENT_ID", "shop-web")
    return [
        checks.Warning(
            f"No client secret for the Keycloak client '{client_id}': customers cannot log in.",
            hint="Set SHOP_WEB_CLIENT_SECRET in the environment to the client's secret "
            f"(Keycloak admin console: Clients > {client_id} > Credentials; `make env` writes one).",
            id="shop.W001",
        )
    ]


@checks.register()
def check_after_commit_mode(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    mode = shop_setting("SHOP_NOTIFY_AFTER_COMMIT")
    if mode in AFTER_COMMIT_MODES:
        return []
    return [
        checks.Error(
            f"SHOP_NOTIFY_AFTER_COMMIT={mode!r} is not a delivery mode.",
            hint="Use 'thread' (default), 'inline' (tests) or 'off' (leave delivery to deliver_notifications).",
            id="shop.E001",
        )
    ]
