"""One client-credentials request to Keycloak's token endpoint (RFC 6749 4.4) and what it means.

Kept apart from the caching client so that the protocol (form fields, client authentication,
error bodies, `Retry-After`, odd `expires_in` values) reads in one place.
"""

from __future__ import annotations

import email.utils
import math
from dataclasses import dataclass
from typing import Any

import requests

from .client_auth import ClientAuthentication
from .exceptions import TokenEndpointError

# Keycloak's answers that mean "these credentials will not work until someone fixes them".
CREDENTIAL_ERRORS = frozenset({"invalid_client", "unauthorized_client"})
# An `expires_in` above this (or not a positive number) is not believed.
MAX_LIFETIME = 24 * 3600


@dataclass(frozen=True)
class TokenResponse:
    access_token: str
    expires_in: float | None  # None when Keycloak's value was missing or not believable

    def __repr__(self) -> str:
        return f"TokenResponse(expires_in={self.expires_in})"


def request_token(
    *,
    session: requests.Session,
    token_url: str,
    credential: ClientAuthentication,
    scopes: tuple[str, ...] = (),
    audience: str | None = None,
    timeout: tuple[float, float],
    now: float,
) -> TokenResponse:
    """POST grant_type=client_credentials; a `TokenEndpointError` for every way it can fail."""
    data = {"grant_type": "client_credentials"}
    auth = credential.apply(data)
    if scopes:
        data["scope"] = " ".join(scopes)
    if audience:
        data["audience"] = audience

    def error(**details: Any) -> TokenEndpointError:
        return TokenEndpointError(client_id=credential.client_id, endpoint=token_url, **details)

    try:
        response = session.post(
            token_url, data=data, auth=auth, timeout=timeout, headers={"Accept": "application/json"}
        )
    except requests.RequestException as exc:
        raise error(cause=type(exc).__name__) from None
    body = _json_or_none(response)
    if response.status_code != 200:
        code = body.get("error") if isinstance(body, dict) else None
        raise error(
            status=response.status_code,
            error=str(code)[:100] if code else None,
            description=str(body.get("error_description"))[:300] if isinstance(body, dict) and code else None,
            retryable=(response.status_code >= 500 or response.status_code == 429) and code not in CREDENTIAL_ERRORS,
            retry_after=retry_after(response, now),
        )
    if not isinstance(body, dict) or not isinstance(body.get("access_token"), str) or not body["access_token"]:
        raise error(status=200, cause="answer without access_token", retryable=True)
    return TokenResponse(body["access_token"], believable_lifetime(body.get("expires_in")))


def believable_lifetime(expires_in: Any) -> float | None:
    """`expires_in` as seconds, or None when it is missing, not a number, not positive or absurd."""
    if isinstance(expires_in, bool):
        return None
    try:
        seconds = float(expires_in)
    except (TypeError, ValueError):
        return None
    return seconds if math.isfinite(seconds) and 0 < seconds <= MAX_LIFETIME else None


def retry_after(response: requests.Response, now: float) -> float | None:
    """Seconds from a `Retry-After` header (delta-seconds or an HTTP date)."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError):
        return None


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
