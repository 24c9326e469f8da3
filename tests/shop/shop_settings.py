"""The shop's real settings module, evaluated against a chosen environment (the test settings lack it)."""

from __future__ import annotations

import os
import runpy
from typing import Any
from unittest import mock

LOGIN_SETTINGS = (
    "AUTHENTICATION_BACKENDS",
    "LOGIN_URL",
    "LOGIN_REDIRECT_URL",
    "LOGIN_REDIRECT_URL_FAILURE",
    "LOGOUT_REDIRECT_URL",
)


def shop_settings_module(**environment: str) -> dict[str, Any]:
    """config/settings/shop.py's names as it computes them with `environment` (and a dummy secret key)."""
    values = {"DJANGO_SECRET_KEY": "x" * 50, **environment}
    with mock.patch.dict(os.environ, values):
        return runpy.run_module("config.settings.shop")


def login_settings(**environment: str) -> dict[str, Any]:
    """What the shop configures for customer login: apply with the `settings` fixture."""
    module = shop_settings_module(**environment)
    return {
        name: value
        for name, value in module.items()
        if name.startswith(("OIDC_", "SHOP_OIDC_")) or name in LOGIN_SETTINGS
    }
