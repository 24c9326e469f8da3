"""The endpoint's rules written out independently of m2m_auth, and the shape every answer must have.

`expected_status` says what POST /api/notifications/order must answer for a correctly signed
token carrying `claims`: 401 when the token is not an acceptable access token, 403 when it is one
but does not authorise the call, 201 otherwise. The fuzz tests compare the endpoint against it.
"""

from __future__ import annotations

import math
import re
from typing import Any

from django.core.exceptions import ValidationError
from django.core.mail.message import sanitize_address
from django.core.validators import validate_email

from tests.conftest import AUDIENCE

URL = "/api/notifications/order"
BODY = {"orderId": "1001", "userEmail": "customer@example.com"}
LEEWAY = 30  # M2M_AUTH LEEWAY default
ROLE = "notifications:send"
REALM_CHALLENGE = 'Bearer realm="techstore"'

# Every code an `InvalidToken` may carry (m2m_auth/exceptions.py), fixed here on purpose.
INVALID_TOKEN_CODES = frozenset(
    {
        "invalid_token",
        "malformed_token",
        "token_too_large",
        "invalid_algorithm",
        "invalid_header",
        "unknown_key",
        "invalid_signature",
        "token_expired",
        "token_not_yet_valid",
        "invalid_issuer",
        "invalid_audience",
        "invalid_token_type",
        "invalid_claims",
    }
)
REFUSED_HEADER_PARAMETERS = ("jku", "x5u", "jwk", "x5c", "crit")
ORDER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")


# The token


def header_is_acceptable(header: Any, kid: str) -> bool:
    """A header the receiver must accept when the token is RS256-signed by the key `kid`."""
    return (
        isinstance(header, dict)
        and header.get("alg") == "RS256"
        and header.get("kid") == kid
        and not any(name in header for name in REFUSED_HEADER_PARAMETERS)
        and header.get("b64", True) is not False  # RFC 7797 detached payloads are not supported
    )


def _is_number(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, int) and not isinstance(value, bool)


def _is_role_holder(value: Any) -> bool:
    roles = value.get("roles", []) if isinstance(value, dict) else None
    return isinstance(roles, list) and all(isinstance(role, str) for role in roles)


def claims_are_acceptable(claims: Any, *, issuer: str, now: float) -> bool:
    """A Keycloak access token for this service, valid now: the receiver's 401 rules."""
    if not isinstance(claims, dict):
        return False
    if any(claims.get(name) is None for name in ("exp", "iat", "iss", "aud", "azp", "sub")):
        return False
    times = {name: claims[name] for name in ("exp", "iat", "nbf") if name in claims}
    if not all(_is_number(value) for value in times.values()):
        return False
    if int(claims["exp"]) <= now - LEEWAY or int(claims["iat"]) > now + LEEWAY:
        return False
    if "nbf" in claims and int(claims["nbf"]) > now + LEEWAY:
        return False
    audiences = [claims["aud"]] if isinstance(claims["aud"], str) else claims["aud"]
    if not isinstance(audiences, list) or not all(isinstance(a, str) for a in audiences) or AUDIENCE not in audiences:
        return False
    if claims["iss"] != issuer or claims.get("typ", "Bearer") != "Bearer":
        return False
    strings = ("azp", "sub", "client_id", "clientId", "scope", "jti")
    if not all(isinstance(claims[name], str) for name in strings if name in claims) or not claims["azp"]:
        return False
    if "realm_access" in claims and not _is_role_holder(claims["realm_access"]):
        return False
    resource_access = claims.get("resource_access", {})
    return isinstance(resource_access, dict) and all(_is_role_holder(h) for h in resource_access.values())


def denial_code(claims: dict[str, Any]) -> str | None:
    """For an acceptable token: why it may not send notifications (the 403 code), or None."""
    client_id = claims["client_id"] if "client_id" in claims else claims.get("clientId")
    if client_id is None or client_id != claims["azp"]:
        return "not_service_account"
    if ROLE not in claims.get("resource_access", {}).get(AUDIENCE, {}).get("roles", []):
        return "missing_role"
    return None


def expected_status(claims: Any, *, issuer: str, now: float) -> int:
    if not claims_are_acceptable(claims, issuer=issuer, now=now):
        return 401
    return 403 if denial_code(claims) else 201


# The body


def order_id_is_valid(value: Any) -> bool:
    """DRF CharField + the RegexField's pattern: a str or number, stripped, then matched."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return False
    return ORDER_ID.fullmatch(str(value).strip()) is not None


def email_is_valid(value: Any) -> bool:
    """Django's EmailField rules, plus what the mail layer can encode (an IDNA-encodable domain)."""
    if not isinstance(value, str):
        return False  # a number never makes an address
    address = value.strip()
    if not address or len(address) > 254 or "\x00" in address:
        return False
    try:
        validate_email(address)
        sanitize_address(address, "utf-8")
    except (ValidationError, ValueError):
        return False
    return True


def invalid_fields(body: Any) -> set[str]:
    """The keys of the 400 answer for this parsed JSON body (empty when the body is valid)."""
    if not isinstance(body, dict):
        return {"non_field_errors"}
    checks = {"orderId": order_id_is_valid, "userEmail": email_is_valid}
    return {name for name, is_valid in checks.items() if name not in body or not is_valid(body[name])}


# Answers


def assert_rejected(response, *, status: int = 401) -> dict[str, Any]:
    """A refusal: `{"detail", "code"}` and, for 401/403, the RFC 6750 challenge that goes with it."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    body = response.json()
    assert set(body) == {"detail", "code"}, body
    assert isinstance(body["detail"], str) and isinstance(body["code"], str), body
    challenge = response.get("WWW-Authenticate")
    if status == 401 and body["code"] == "not_authenticated":
        assert challenge == REALM_CHALLENGE
    elif status == 401:
        assert body["code"] in INVALID_TOKEN_CODES, body
        assert '"' not in body["detail"]
        assert challenge == f'{REALM_CHALLENGE}, error="invalid_token", error_description="{body["detail"]}"'
    elif status == 403:
        assert body["code"] in {"not_service_account", "missing_role"}, body
        assert challenge.startswith(f'{REALM_CHALLENGE}, error="insufficient_scope", error_description="')
    return body


def assert_created(response, *, sender: str = "shop-api", body: dict[str, Any] = BODY) -> dict[str, Any]:
    assert response.status_code == 201, (response.status_code, response.content[:500])
    created = response.json()
    assert created["status"] == "sent"
    assert created["sender"] == sender
    assert (created["orderId"], created["userEmail"]) == (str(body["orderId"]).strip(), body["userEmail"].strip())
    return created
