"""Customer login through Keycloak (mozilla-django-oidc): what the shop adds to the library's defaults."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.shortcuts import resolve_url
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.views import OIDCAuthenticationRequestView


class KeycloakOIDCBackend(OIDCAuthenticationBackend):
    """Users are found, or created on first login, by their e-mail; only a verified one counts.

    The library matches accounts by the `email` claim alone: an unverified address would let whoever
    typed it into Keycloak log in as the shop account that owns it (possibly a staff account).
    """

    def verify_claims(self, claims: dict) -> bool:
        return super().verify_claims(claims) and claims.get("email_verified") is True


class AuthenticationRequestView(OIDCAuthenticationRequestView):
    """Starts the code flow; without the client secret, says what to set instead of failing at the callback."""

    def get(self, request: HttpRequest) -> HttpResponse:
        if not getattr(settings, "OIDC_RP_CLIENT_SECRET", ""):
            raise ImproperlyConfigured(
                "Customer login is not configured: set SHOP_WEB_CLIENT_SECRET to the secret of the Keycloak "
                "client 'shop-web' (`make env` writes one into .env) and restart the shop."
            )
        return super().get(request)


def provider_logout_url(request: HttpRequest) -> str:
    """Keycloak's end-session URL, so that logging out of the shop also ends the Keycloak session.

    Without it the next "Log in" would sign the customer straight back in. The ID token (kept in the
    session at login) tells Keycloak whose session to end and lets it skip its confirmation page.
    """
    after_logout = request.build_absolute_uri(resolve_url(getattr(settings, "LOGOUT_REDIRECT_URL", None) or "/"))
    id_token = request.session.get("oidc_id_token")
    endpoint = getattr(settings, "SHOP_OIDC_OP_LOGOUT_ENDPOINT", "")
    if not id_token or not endpoint:
        return after_logout  # not logged in through Keycloak (e.g. an admin with a password)
    query = urlencode({"id_token_hint": id_token, "post_logout_redirect_uri": after_logout})
    return f"{endpoint}?{query}"
