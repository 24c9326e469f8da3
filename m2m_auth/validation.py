"""From a raw bearer token to verified Keycloak access-token claims; no Django request, no DRF.

The order matters: the header is parsed and its ``alg`` checked against the allow-list before any
key lookup or network call, so an HS512 refresh token or an ``alg: none`` forgery costs nothing.
A validated token is remembered per process (keyed by its SHA-256, until it expires or the key
set changes): a service that reuses its token is then checked in microseconds.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections import OrderedDict
from typing import Any

import jwt
from django.core.signals import setting_changed

from . import exceptions
from .conf import m2m_auth_settings
from .jwks import get_jwks_store

REQUIRED_CLAIMS = ("exp", "iat", "iss", "aud", "azp", "sub")
NUMERIC_CLAIMS = ("exp", "iat", "nbf")
# Header parameters that point at or carry key material: keys come from the realm's JWKS only.
# `crit` names extensions we do not implement, so a token that sets it cannot be understood.
REFUSED_HEADER_PARAMETERS = ("jku", "x5u", "jwk", "x5c", "crit")
ACCESS_TOKEN_TYPE = "Bearer"  # noqa: S105 - a token type, not a password
# A compact JWS: three base64url segments (RFC 7515 section 7.1), padded or not as PyJWT allows.
COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+={0,2}\.[A-Za-z0-9_-]*={0,2}\.[A-Za-z0-9_-]*={0,2}")
# Claims the services store: the notification service saves azp and jti in 255-character columns.
# No database can encode a lone surrogate, and PostgreSQL refuses NUL; Keycloak writes neither.
IDENTIFIER_CLAIMS = ("azp", "client_id", "clientId", "jti")
_STORABLE_IDENTIFIER = re.compile(r"[^\x00\ud800-\udfff]{0,255}")


def validate_token(token: str) -> dict[str, Any]:
    """Return the claims of a valid access token, or raise an `InvalidToken` subclass."""
    if len(token) > m2m_auth_settings.MAX_TOKEN_BYTES:
        raise exceptions.TokenTooLarge()
    store = get_jwks_store()
    digest = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
    claims = _memo.get(digest, generation=store.generation)
    if claims is not None and store.is_fresh():
        return claims
    header = _parse_header(token)
    alg = _check_algorithm(header)
    _check_header_parameters(header)
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise exceptions.MalformedToken("Token header has no key id (kid).")
    key = store.get_signing_key(kid, alg)
    claims = _decode(token, key, alg)
    _check_claim_types(claims)
    _memo.put(digest, claims, deadline=claims["exp"] + m2m_auth_settings.LEEWAY, generation=store.generation)
    return claims


def _parse_header(token: str) -> dict[str, Any]:
    """The header, parsed and checked by PyJWT, from its own segment only.

    PyJWT decodes every segment it is given (checking the alphabet character by character in
    Python) and `jwt.decode` decodes the whole token again: parsing the header from the whole
    token cost as much as the signature check (bench/receiver.py). The regex rejects junk first.
    """
    if not COMPACT_JWS.fullmatch(token):
        raise exceptions.MalformedToken("Token is not a well-formed JWT.")
    header_only = token[: token.index(".")] + ".."
    try:
        return jwt.get_unverified_header(header_only)
    except (jwt.PyJWTError, ValueError, TypeError, RecursionError):
        raise exceptions.MalformedToken("Token is not a well-formed JWT.") from None


def _check_algorithm(header: dict[str, Any]) -> str:
    alg = header.get("alg")
    if not isinstance(alg, str) or alg.lower() == "none" or alg.startswith("HS"):
        raise exceptions.DisallowedAlgorithm()
    if alg not in m2m_auth_settings.ALGORITHMS:
        raise exceptions.DisallowedAlgorithm()
    return alg


def _check_header_parameters(header: dict[str, Any]) -> None:
    for name in REFUSED_HEADER_PARAMETERS:
        if name in header:
            raise exceptions.DisallowedHeader(f"Token header parameter '{name}' is not accepted.")


def _decode(token: str, key: jwt.PyJWK, alg: str) -> dict[str, Any]:
    try:
        return jwt.decode(
            token,
            key.key,
            algorithms=[alg],
            audience=m2m_auth_settings.AUDIENCE,
            issuer=m2m_auth_settings.issuer,
            leeway=m2m_auth_settings.LEEWAY,
            options={"require": list(REQUIRED_CLAIMS), "verify_sub": True, "verify_jti": True},
        )
    except jwt.InvalidSignatureError:
        raise exceptions.InvalidSignature() from None
    except jwt.ExpiredSignatureError:
        raise exceptions.TokenExpired() from None
    except jwt.ImmatureSignatureError:
        raise exceptions.TokenNotYetValid() from None
    except jwt.InvalidIssuerError:
        raise exceptions.InvalidIssuer() from None
    except jwt.MissingRequiredClaimError as exc:
        raise exceptions.InvalidClaims(f"Token has no '{exc.claim}' claim.") from None
    except jwt.InvalidAudienceError:
        raise exceptions.InvalidAudience() from None
    except jwt.DecodeError:
        raise exceptions.MalformedToken() from None
    except (jwt.PyJWTError, ValueError, TypeError, RecursionError):
        raise exceptions.InvalidClaims() from None


def _check_claim_types(claims: dict[str, Any]) -> None:
    """Deny shapes a forger could use to confuse later checks; numbers must be JSON numbers."""
    for name in NUMERIC_CLAIMS:
        if name in claims and (isinstance(claims[name], bool) or not isinstance(claims[name], (int, float))):
            raise exceptions.InvalidClaims(f"Token claim '{name}' must be a number.")
    if "typ" in claims and claims["typ"] != ACCESS_TOKEN_TYPE:
        raise exceptions.InvalidTokenType()
    for name in ("azp", "sub", "client_id", "clientId", "scope", "jti"):
        if name in claims and not isinstance(claims[name], str):
            raise exceptions.InvalidClaims(f"Token claim '{name}' must be a string.")
    if not claims["azp"]:
        raise exceptions.InvalidClaims("Token claim 'azp' is empty.")
    for name in IDENTIFIER_CLAIMS:
        if name in claims and not _STORABLE_IDENTIFIER.fullmatch(claims[name]):
            raise exceptions.InvalidClaims(f"Token claim '{name}' is not an identifier that can be stored.")
    if "realm_access" in claims and not _is_role_holder(claims["realm_access"]):
        raise exceptions.InvalidClaims("Token claim 'realm_access' is malformed.")
    resource_access = claims.get("resource_access", {})
    if not isinstance(resource_access, dict) or not all(
        isinstance(client, str) and _is_role_holder(holder) for client, holder in resource_access.items()
    ):
        raise exceptions.InvalidClaims("Token claim 'resource_access' is malformed.")


def _is_role_holder(value: Any) -> bool:
    """`{"roles": ["a", "b"]}`, as Keycloak writes realm_access and each resource_access entry."""
    if not isinstance(value, dict):
        return False
    roles = value.get("roles", [])
    return isinstance(roles, list) and all(isinstance(role, str) for role in roles)


class ValidatedTokenMemo:
    """Validated claims keyed by the token's SHA-256 digest; bounded, oldest entries evicted first."""

    def __init__(self) -> None:
        self._entries: OrderedDict[bytes, tuple[dict[str, Any], float, int]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, digest: bytes, *, generation: int) -> dict[str, Any] | None:
        entry = self._entries.get(digest)
        if entry is None:
            return None
        claims, deadline, entry_generation = entry
        if entry_generation != generation or time.time() >= deadline:
            with self._lock:
                self._entries.pop(digest, None)
            return None
        return claims

    def put(self, digest: bytes, claims: dict[str, Any], *, deadline: float, generation: int) -> None:
        size = m2m_auth_settings.VALIDATED_TOKEN_CACHE_SIZE
        if size <= 0:
            return
        with self._lock:
            self._entries[digest] = (claims, deadline, generation)
            self._entries.move_to_end(digest)
            while len(self._entries) > size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_memo = ValidatedTokenMemo()


def _clear_memo_on_change(*, setting: str, **kwargs: Any) -> None:
    if setting == "M2M_AUTH":
        _memo.clear()


setting_changed.connect(_clear_memo_on_change)
