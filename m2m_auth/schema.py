"""OpenAPI description of `ServiceAccountAuthentication` for drf-spectacular: Keycloak's client-credentials flow.

`M2MAuthConfig.ready()` imports this module only when drf-spectacular is installed, which registers
the extension; m2m_auth itself never needs drf-spectacular. The token URL is the one a browser
reaches (``KEYCLOAK_PUBLIC_URL``), since Swagger UI asks Keycloak for the token. The operation's
required scopes come from its permissions: each `HasClientRole` and `HasScope` under ``&`` is
required, ``|`` makes alternatives, anything under ``~`` is left out.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework.permissions import AND, OR

from .conf import m2m_auth_settings
from .permissions import HasClientRole, HasScope

SECURITY_SCHEME_NAME = "keycloakClientCredentials"


def public_token_url() -> str:
    """Keycloak's token endpoint as a browser reaches it (KEYCLOAK_PUBLIC_URL, else KEYCLOAK_URL)."""
    return f"{m2m_auth_settings.issuer}/protocol/openid-connect/token"


def _requirements(permission: Any) -> list[frozenset[str]]:
    """Alternatives (OR) of scope sets (AND) that satisfy `permission`."""
    if isinstance(permission, AND):
        return [a | b for a in _requirements(permission.op1) for b in _requirements(permission.op2)]
    if isinstance(permission, OR):
        return list(dict.fromkeys([*_requirements(permission.op1), *_requirements(permission.op2)]))
    if isinstance(permission, HasClientRole):
        return [frozenset({permission.role})]
    if isinstance(permission, HasScope):
        return [frozenset(permission.scopes)]
    return [frozenset()]  # NOT, and permissions that need no scope


def _descriptions(permission: Any) -> dict[str, str]:
    """What each scope named by `permission` is, for the security scheme's `scopes` map."""
    if isinstance(permission, (AND, OR)):
        return {**_descriptions(permission.op1), **_descriptions(permission.op2)}
    if isinstance(permission, HasClientRole):
        return {
            permission.role: f"Client role '{permission.role}' of '{permission.client}': Keycloak grants it to the "
            "caller's service account and puts it in `resource_access`; it need not be requested as a scope."
        }
    if isinstance(permission, HasScope):
        return {scope: f"The token's `scope` claim holds '{scope}'." for scope in sorted(permission.scopes)}
    return {}  # NOT (its scopes are not required), and permissions that name no scope


class ServiceAccountAuthenticationScheme(OpenApiAuthenticationExtension):
    """OAuth 2.0 client credentials against the realm's token endpoint; scopes from the view's permissions."""

    target_class = "m2m_auth.authentication.ServiceAccountAuthentication"
    match_subclasses = True
    name = SECURITY_SCHEME_NAME

    def get_security_requirement(self, auto_schema: Any) -> dict[str, list[str]] | list[dict[str, list[str]]]:
        alternatives = [frozenset()]
        for permission in auto_schema.view.get_permissions():
            alternatives = [a | b for a in alternatives for b in _requirements(permission)]
        requirements = [{self.name: sorted(scopes)} for scopes in dict.fromkeys(alternatives)]
        return requirements[0] if len(requirements) == 1 else requirements

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        scopes: dict[str, str] = {}
        for permission in auto_schema.view.get_permissions():
            scopes.update(_descriptions(permission))
        # drf-spectacular keeps the first view's definition: add this view's scopes to it.
        registered = ResolvedComponent(
            name=self.name, type=ResolvedComponent.SECURITY_SCHEMA, object=self.target.__class__
        )
        if registered in auto_schema.registry:
            auto_schema.registry[registered].schema["flows"]["clientCredentials"]["scopes"].update(scopes)
        return {
            "type": "oauth2",
            "description": (
                "A Keycloak access token from the client credentials grant: the calling service's "
                f"client id and secret at the realm's token endpoint. The token's `aud` must name "
                f"'{m2m_auth_settings.AUDIENCE}'. Send it as `Authorization: Bearer <token>`."
            ),
            "flows": {"clientCredentials": {"tokenUrl": public_token_url(), "scopes": scopes}},
        }
