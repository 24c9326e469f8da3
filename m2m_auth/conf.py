"""The `M2M_AUTH` settings object: defaults, environment names, and the URLs derived from them.

Each key resolves, in order, from the Django setting ``M2M_AUTH = {...}``, then from the
environment variable named in ``ENVIRONMENT`` (the seed's names), then from ``DEFAULTS``.
Values are read when used and re-read after ``override_settings``.
"""

import os
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed

DEFAULTS: dict[str, Any] = {
    # Where this service reaches Keycloak (may be an internal name such as http://keycloak:8080).
    "KEYCLOAK_URL": "http://localhost:8080",
    # Keycloak's host as tokens carry it in `iss`; empty means the same as KEYCLOAK_URL.
    "KEYCLOAK_PUBLIC_URL": "",
    "KEYCLOAK_REALM": "techstore",
    # "" for Keycloak 17+, "/auth" for older servers or --http-relative-path=/auth.
    "KEYCLOAK_AUTH_PATH": "",
    # Receiver: the `aud` value a token must contain to be accepted here. Required by a check.
    "AUDIENCE": "",
    # Receiver: signature algorithms accepted; asymmetric, one family, never "none" or HS*.
    "ALGORITHMS": ["RS256"],
    # Receiver: seconds of clock skew tolerated on exp, nbf and iat.
    "LEEWAY": 30,
    # Receiver: longest Authorization header value accepted, in bytes.
    "MAX_TOKEN_BYTES": 8192,
    # Receiver: the realm named in WWW-Authenticate; empty means KEYCLOAK_REALM.
    "WWW_AUTHENTICATE_REALM": "",
    # Receiver: how many validated tokens each process remembers (0 disables the memo).
    "VALIDATED_TOKEN_CACHE_SIZE": 1024,
    # Both sides: the Django cache alias shared by every process of the service.
    "CACHE_ALIAS": "default",
    # Prefix of every cache key this app writes.
    "CACHE_KEY_PREFIX": "m2m_auth",
    # JWKS: seconds before a key set is refetched in the background of a request.
    "JWKS_REFRESH_INTERVAL": 600,
    # JWKS: seconds the last good key set keeps working while Keycloak is unreachable.
    "JWKS_MAX_STALENESS": 86400,
    # JWKS: at most one refetch per this many seconds, whatever the tokens' `kid`s say.
    "JWKS_REFETCH_COOLDOWN": 30,
    # Caller: this service's Keycloak client (client credentials). The secret has no default.
    "CLIENT_ID": "",
    "CLIENT_SECRET": "",
    # Caller: "client_secret_basic" (Keycloak's default), "client_secret_post" or "private_key_jwt".
    "TOKEN_AUTH_METHOD": "client_secret_basic",
    # Caller, private_key_jwt: PEM file of the key that signs client assertions (no shared secret).
    "CLIENT_PRIVATE_KEY_FILE": "",
    # Caller: scopes and audience to ask for (empty: the client's defaults).
    "TOKEN_SCOPES": [],
    "TOKEN_AUDIENCE": "",
    # Caller: renew this many seconds before expiry, capped at half the token's real lifetime.
    "TOKEN_RENEW_BEFORE": 60,
    # Caller: lifetime assumed when Keycloak's `expires_in` is missing or odd.
    "TOKEN_DEFAULT_LIFETIME": 60,
    # Caller: how long other processes wait for the one fetching a token before fetching themselves.
    "TOKEN_LOCK_TIMEOUT": 10,
    # Caller: the longest back-off after a failed token request (5xx, timeout, 429).
    "TOKEN_BACKOFF_MAX": 60,
    # Caller: how long a credential error (invalid_client) fails fast before Keycloak is asked again.
    "TOKEN_CREDENTIAL_BACKOFF": 300,
    # Every HTTP call to Keycloak: (connect, read) timeouts in seconds.
    "HTTP_CONNECT_TIMEOUT": 3.0,
    "HTTP_READ_TIMEOUT": 5.0,
}

ENVIRONMENT: dict[str, str] = {
    "KEYCLOAK_URL": "KEYCLOAK_URL",
    "KEYCLOAK_PUBLIC_URL": "KEYCLOAK_PUBLIC_URL",
    "KEYCLOAK_REALM": "KEYCLOAK_REALM",
    "KEYCLOAK_AUTH_PATH": "KEYCLOAK_AUTH_PATH",
    "AUDIENCE": "M2M_AUTH_AUDIENCE",
    "ALGORITHMS": "M2M_AUTH_ALGORITHMS",
    "LEEWAY": "M2M_AUTH_LEEWAY",
    "CACHE_ALIAS": "M2M_AUTH_CACHE_ALIAS",
    "CLIENT_ID": "KEYCLOAK_CLIENT_ID",
    "CLIENT_SECRET": "KEYCLOAK_CLIENT_SECRET",
    "TOKEN_AUTH_METHOD": "M2M_AUTH_TOKEN_AUTH_METHOD",
    "CLIENT_PRIVATE_KEY_FILE": "M2M_AUTH_CLIENT_PRIVATE_KEY_FILE",
    "TOKEN_SCOPES": "M2M_AUTH_TOKEN_SCOPES",
    "TOKEN_AUDIENCE": "M2M_AUTH_TOKEN_AUDIENCE",
}


def _from_environment(raw: str, default: Any) -> Any:
    """Convert an environment string to the type of the key's default."""
    if isinstance(default, bool):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    if isinstance(default, list):
        return [item.strip() for item in raw.split(",") if item.strip()]
    return raw


class M2MAuthSettings:
    """Attribute access to resolved settings, with the derived Keycloak URLs."""

    def __init__(self) -> None:
        self._cache: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        if name not in DEFAULTS:
            raise AttributeError(f"Invalid M2M_AUTH setting: {name!r}")
        if name not in self._cache:
            self._cache[name] = self._resolve(name)
        return self._cache[name]

    @staticmethod
    def _resolve(name: str) -> Any:
        user_settings = getattr(settings, "M2M_AUTH", {}) or {}
        if name in user_settings:
            return user_settings[name]
        env_name = ENVIRONMENT.get(name)
        if env_name and os.environ.get(env_name) not in (None, ""):
            return _from_environment(os.environ[env_name], DEFAULTS[name])
        return DEFAULTS[name]

    def reload(self) -> None:
        self._cache.clear()

    @property
    def realm_base_url(self) -> str:
        """The realm as this service reaches it (back channel)."""
        return f"{self.KEYCLOAK_URL.rstrip('/')}{self.KEYCLOAK_AUTH_PATH}/realms/{self.KEYCLOAK_REALM}"

    @property
    def issuer(self) -> str:
        public = (self.KEYCLOAK_PUBLIC_URL or self.KEYCLOAK_URL).rstrip("/")
        return f"{public}{self.KEYCLOAK_AUTH_PATH}/realms/{self.KEYCLOAK_REALM}"

    @property
    def jwks_url(self) -> str:
        return f"{self.realm_base_url}/protocol/openid-connect/certs"

    @property
    def token_url(self) -> str:
        return f"{self.realm_base_url}/protocol/openid-connect/token"

    @property
    def http_timeout(self) -> tuple[float, float]:
        return (float(self.HTTP_CONNECT_TIMEOUT), float(self.HTTP_READ_TIMEOUT))

    @property
    def www_authenticate_realm(self) -> str:
        return self.WWW_AUTHENTICATE_REALM or self.KEYCLOAK_REALM


m2m_auth_settings = M2MAuthSettings()


def _reload_on_change(*, setting: str, **kwargs: Any) -> None:
    if setting == "M2M_AUTH":
        m2m_auth_settings.reload()


setting_changed.connect(_reload_on_change)
