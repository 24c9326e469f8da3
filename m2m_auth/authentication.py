"""`ServiceAccountAuthentication`: the DRF authentication class for Keycloak service tokens.

A small pipeline of overridable steps: header -> raw token -> validated claims -> principal.
It follows DRF's contract: ``None`` when the request carries no bearer token (another
authenticator may try), ``AuthenticationFailed`` when it carries a bad one, ``(principal, claims)``
otherwise. It makes no database query.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from . import exceptions
from .conf import m2m_auth_settings
from .principal import ServicePrincipal
from .validation import validate_token

try:  # optional: with OpenTelemetry installed, the request's span names the calling client
    from opentelemetry import trace as otel_trace
except ImportError:  # pragma: no cover - exercised by a test that hides the package
    otel_trace = None

logger = logging.getLogger(__name__)

# RFC 6750 token68 in the shape of a compact JWS: three base64url segments.
_JWS_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_FAILURE_ATTRIBUTE = "_m2m_auth_failure"


def bearer_challenge(*, error: str | None = None, description: str | None = None, scope: str | None = None) -> str:
    """A `WWW-Authenticate` value per RFC 6750 section 3."""
    parts = [f'realm="{m2m_auth_settings.www_authenticate_realm}"']
    if error:
        parts.append(f'error="{error}"')
    if description:
        parts.append('error_description="{}"'.format(description.replace("\\", "").replace('"', "'")))
    if scope:
        parts.append(f'scope="{scope}"')
    return "Bearer " + ", ".join(parts)


class ServiceAccountAuthentication(BaseAuthentication):
    """Authenticate a calling service by its Keycloak access token."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[ServicePrincipal, dict[str, Any]] | None:
        header = self.get_header(request)
        if header is None:
            return None
        token = self.get_raw_token(request, header)
        if token is None:
            return None
        claims = self.get_validated_claims(request, token)
        principal = self.get_principal(claims)
        self.annotate_span(principal)
        return principal, claims

    def get_header(self, request: Request) -> str | None:
        """The Authorization header, or None."""
        return request.META.get("HTTP_AUTHORIZATION")

    def get_raw_token(self, request: Request, header: str) -> str | None:
        """The bearer token, None for another scheme, or a failure for a malformed header."""
        if len(header) > m2m_auth_settings.MAX_TOKEN_BYTES + len(self.keyword) + 1:
            self.fail(request, exceptions.TokenTooLarge())
        scheme, _, rest = header.strip().partition(" ")
        if scheme.lower() != self.keyword.lower():
            return None
        token = rest.strip()
        if not token:
            self.fail(request, exceptions.MalformedToken("Authorization header has no token after 'Bearer'."))
        if not _JWS_SHAPE.fullmatch(token):
            self.fail(request, exceptions.MalformedToken("Bearer token is not a compact JWT."))
        return token

    def get_validated_claims(self, request: Request, token: str) -> dict[str, Any]:
        """Verified claims, or a 401 that says what is wrong (503 when no keys can be had)."""
        try:
            return validate_token(token)
        except exceptions.InvalidToken as exc:
            self.fail(request, exc)
        except exceptions.KeysUnavailable as exc:
            logger.error("Cannot check bearer tokens: %s", exc.message)
            unavailable = exceptions.ServiceUnavailable()
            unavailable.wait = m2m_auth_settings.JWKS_REFETCH_COOLDOWN
            raise unavailable from None

    def get_principal(self, claims: dict[str, Any]) -> ServicePrincipal:
        """The object DRF stores as `request.user`."""
        return ServicePrincipal.from_claims(claims)

    def annotate_span(self, principal: ServicePrincipal) -> None:
        """Record the calling client (never its token) on the current trace span, if one is recording."""
        span = otel_trace.get_current_span() if otel_trace is not None else None
        if span is not None and span.is_recording():
            span.set_attributes({"m2m.client_id": principal.azp, "enduser.id": principal.azp})

    def fail(self, request: Request, error: exceptions.InvalidToken) -> None:
        """Raise a 401 whose challenge `authenticate_header` can describe."""
        setattr(request, _FAILURE_ATTRIBUTE, error)
        logger.info("Rejected a bearer token: %s", error.code)
        raise AuthenticationFailed(detail=error.message, code=error.code) from None

    def authenticate_header(self, request: Request) -> str:
        """RFC 6750: no error code when no token was sent, `invalid_token` when it was bad."""
        error = getattr(request, _FAILURE_ATTRIBUTE, None)
        if error is None:
            return bearer_challenge()
        return bearer_challenge(error="invalid_token", description=error.message)
