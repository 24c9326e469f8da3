"""System checks: a missing or unsafe M2M_AUTH setting stops start-up with the fix in the hint."""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from django.conf import settings
from django.core import checks

from .client_auth import METHODS
from .conf import m2m_auth_settings

AUTHENTICATION_CLASS = "m2m_auth.authentication.ServiceAccountAuthentication"
EXCEPTION_HANDLER = "m2m_auth.handlers.exception_handler"
ASYMMETRIC_FAMILIES = {
    "RSA": {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"},
    "EC": {"ES256", "ES384", "ES512"},
    "OKP": {"EdDSA"},
}
NOT_SHARED_BACKENDS = {
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
}


def _is_receiver() -> bool:
    drf = getattr(settings, "REST_FRAMEWORK", {}) or {}
    return AUTHENTICATION_CLASS in drf.get("DEFAULT_AUTHENTICATION_CLASSES", ())


@checks.register(checks.Tags.security)
def check_keycloak_urls(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    errors = []
    for name in ("KEYCLOAK_URL", "KEYCLOAK_PUBLIC_URL"):
        value = getattr(m2m_auth_settings, name)
        parts = urlsplit(value)
        if value and (parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/")):
            errors.append(
                checks.Error(
                    f"M2M_AUTH {name}={value!r} is not a base URL.",
                    hint=f"Set {name} to Keycloak's scheme, host and port only, e.g. http://localhost:8080.",
                    id="m2m_auth.E001",
                )
            )
    path = m2m_auth_settings.KEYCLOAK_AUTH_PATH
    if path and (not path.startswith("/") or path.endswith("/")):
        errors.append(
            checks.Error(
                f"M2M_AUTH KEYCLOAK_AUTH_PATH={path!r} must be empty or start (and not end) with '/'.",
                hint="Leave KEYCLOAK_AUTH_PATH empty for Keycloak 17+, set it to /auth for older servers.",
                id="m2m_auth.E002",
            )
        )
    public = m2m_auth_settings.KEYCLOAK_PUBLIC_URL or m2m_auth_settings.KEYCLOAK_URL
    host = urlsplit(public).hostname or ""
    if not settings.DEBUG and urlsplit(public).scheme == "http" and host not in ("localhost", "127.0.0.1", "::1"):
        errors.append(
            checks.Warning(
                f"Keycloak is reached over plain HTTP at {public}.",
                hint="Serve Keycloak over https in production; tokens and client secrets cross this link.",
                id="m2m_auth.W001",
            )
        )
    return errors


@checks.register(checks.Tags.security)
def check_receiver_settings(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    errors = []
    algorithms = m2m_auth_settings.ALGORITHMS
    families = {family for family, names in ASYMMETRIC_FAMILIES.items() for alg in algorithms if alg in names}
    unknown = [alg for alg in algorithms if not any(alg in names for names in ASYMMETRIC_FAMILIES.values())]
    if not algorithms or unknown or len(families) > 1:
        errors.append(
            checks.Error(
                f"M2M_AUTH ALGORITHMS={list(algorithms)!r} is unsafe or empty.",
                hint="List asymmetric algorithms of one family only, e.g. ['RS256'] (Keycloak's default); "
                "never 'none' or HS*.",
                id="m2m_auth.E003",
            )
        )
    leeway = m2m_auth_settings.LEEWAY
    if not isinstance(leeway, (int, float)) or not 0 <= leeway <= 300:
        errors.append(
            checks.Error(
                f"M2M_AUTH LEEWAY={leeway!r} must be a number of seconds from 0 to 300.",
                hint="Keep the default of 30 s unless clocks are known to drift more.",
                id="m2m_auth.E004",
            )
        )
    if _is_receiver() and not m2m_auth_settings.AUDIENCE:
        errors.append(
            checks.Error(
                "M2M_AUTH AUDIENCE is empty, so no token can be accepted.",
                hint="Set M2M_AUTH['AUDIENCE'] (or M2M_AUTH_AUDIENCE) to this service's Keycloak client id, "
                "e.g. 'notification-service'.",
                id="m2m_auth.E005",
            )
        )
    drf = getattr(settings, "REST_FRAMEWORK", {}) or {}
    if _is_receiver() and drf.get("EXCEPTION_HANDLER") != EXCEPTION_HANDLER:
        errors.append(
            checks.Warning(
                "403 answers will carry no RFC 6750 challenge.",
                hint=f"Set REST_FRAMEWORK['EXCEPTION_HANDLER'] = '{EXCEPTION_HANDLER}'.",
                id="m2m_auth.W002",
            )
        )
    return errors


@checks.register(checks.Tags.caches)
def check_cache(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    alias = m2m_auth_settings.CACHE_ALIAS
    if alias not in settings.CACHES:
        return [
            checks.Error(
                f"M2M_AUTH CACHE_ALIAS={alias!r} names no cache in CACHES.",
                hint=f"Add CACHES[{alias!r}] or set CACHE_ALIAS to one of {sorted(settings.CACHES)}.",
                id="m2m_auth.E006",
            )
        ]
    backend = settings.CACHES[alias].get("BACKEND", "")
    if backend in NOT_SHARED_BACKENDS and not settings.DEBUG:
        return [
            checks.Warning(
                f"The cache {alias!r} ({backend.rsplit('.', 1)[-1]}) is not shared between processes: "
                "each worker will fetch its own tokens and keys.",
                hint="Point the cache at Redis (set REDIS_URL) or another shared backend.",
                id="m2m_auth.W003",
            )
        ]
    return []


@checks.register(checks.Tags.security)
def check_caller_settings(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    client_id = m2m_auth_settings.CLIENT_ID
    method = m2m_auth_settings.TOKEN_AUTH_METHOD
    if method not in METHODS:
        return [
            checks.Error(
                f"M2M_AUTH TOKEN_AUTH_METHOD={method!r} is not supported.",
                hint="Use 'client_secret_basic' (Keycloak's default), 'client_secret_post' or 'private_key_jwt'.",
                id="m2m_auth.E008",
            )
        ]
    if not client_id:
        return []
    if method == "private_key_jwt":
        path = m2m_auth_settings.CLIENT_PRIVATE_KEY_FILE
        if not path or not os.access(path, os.R_OK):
            return [
                checks.Error(
                    f"No readable private key for the Keycloak client '{client_id}' (private_key_jwt): {path!r}.",
                    hint="Set M2M_AUTH_CLIENT_PRIVATE_KEY_FILE to the PEM file whose public key is registered on "
                    "the client (Keycloak: Clients > Credentials > Signed JWT).",
                    id="m2m_auth.E009",
                )
            ]
        return []
    if not m2m_auth_settings.CLIENT_SECRET:
        return [
            checks.Error(
                f"No client secret for the Keycloak client '{client_id}': this service cannot get tokens.",
                hint="Set KEYCLOAK_CLIENT_SECRET in the environment to the client's secret "
                f"(Keycloak admin console: Clients > {client_id} > Credentials); never put it in code.",
                id="m2m_auth.E007",
            )
        ]
    return []
