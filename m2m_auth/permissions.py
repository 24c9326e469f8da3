"""Permissions for service endpoints: who may call, checked on the authenticated principal.

Each is tiny, returns a bool and composes with ``&``, ``|`` and ``~``. Parametrised ones are used
as instances, in one line::

    permission_classes = [IsServiceAccount & HasClientRole("notifications:send", client="notification-service")]

A denial is recorded on the request so that ``m2m_auth.handlers.exception_handler`` can answer
with its message and an RFC 6750 ``insufficient_scope`` challenge.
"""

from __future__ import annotations

from dataclasses import dataclass

from rest_framework.permissions import BasePermission, OperationHolderMixin
from rest_framework.request import Request

from .principal import ServicePrincipal

DENIAL_ATTRIBUTE = "_m2m_auth_denial"


@dataclass(frozen=True)
class Denial:
    message: str
    code: str
    scope: str | None = None


class ServicePermission(OperationHolderMixin, BasePermission):
    """Base class: subclasses implement `allows`; instances stand in for classes in DRF."""

    message = "The calling service is not allowed to do this."
    code = "permission_denied"

    def __call__(self) -> ServicePermission:
        # DRF instantiates each entry of permission_classes; an instance yields itself.
        return self

    def has_permission(self, request: Request, view: object) -> bool:
        principal = getattr(request, "user", None)
        if not isinstance(principal, ServicePrincipal):
            return self.deny(request, "This endpoint accepts Keycloak service tokens only.", "not_service_token")
        if self.allows(principal):
            return True
        return self.deny(request, self.message, self.code, self.scope_hint())

    def allows(self, principal: ServicePrincipal) -> bool:
        raise NotImplementedError

    def scope_hint(self) -> str | None:
        return None

    @staticmethod
    def deny(request: Request, message: str, code: str, scope: str | None = None) -> bool:
        setattr(request, DENIAL_ATTRIBUTE, Denial(message, code, scope))
        return False


class IsServiceAccount(ServicePermission):
    """A client-credentials token: `client_id` (or the older `clientId`) equals `azp`."""

    message = "This endpoint accepts service account tokens only, not tokens issued to users."
    code = "not_service_account"

    def allows(self, principal: ServicePrincipal) -> bool:
        return principal.is_service_account


class HasClientRole(ServicePermission):
    """The caller holds `role` among the client roles of `client` (`resource_access`)."""

    code = "missing_role"

    def __init__(self, role: str, *, client: str) -> None:
        self.role = role
        self.client = client
        self.message = f"The calling service lacks the client role '{role}' of '{client}'."

    def allows(self, principal: ServicePrincipal) -> bool:
        return principal.has_client_role(self.role, self.client)

    def scope_hint(self) -> str:
        return f"{self.client}:{self.role}" if not self.role.startswith(f"{self.client}:") else self.role


class HasScope(ServicePermission):
    """The token's `scope` claim holds every one of `scopes`."""

    code = "missing_scope"

    def __init__(self, *scopes: str) -> None:
        if not scopes:
            raise ValueError("HasScope needs at least one scope.")
        self.scopes = frozenset(scopes)
        self.message = "The calling service lacks the scope(s): {}.".format(", ".join(sorted(scopes)))

    def allows(self, principal: ServicePrincipal) -> bool:
        return self.scopes <= principal.scopes

    def scope_hint(self) -> str:
        return " ".join(sorted(self.scopes))


class IsAuthorizedParty(ServicePermission):
    """The token was issued to one of the listed clients (`azp`): an explicit allow-list."""

    code = "unauthorized_party"

    def __init__(self, *client_ids: str) -> None:
        if not client_ids:
            raise ValueError("IsAuthorizedParty needs at least one client id.")
        self.client_ids = frozenset(client_ids)
        self.message = "The calling service is not allowed to call this endpoint."

    def allows(self, principal: ServicePrincipal) -> bool:
        return principal.azp in self.client_ids
