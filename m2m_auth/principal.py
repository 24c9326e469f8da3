"""The authenticated calling service, as DRF's ``request.user``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True)
class ServicePrincipal:
    """Who called, read from verified claims: the client, its roles and scopes, the token id."""

    azp: str
    subject: str
    client_id: str | None = None
    jti: str | None = None
    scopes: frozenset[str] = frozenset()
    realm_roles: frozenset[str] = frozenset()
    client_roles: Mapping[str, frozenset[str]] = field(default_factory=dict)
    claims: Mapping[str, Any] = field(default_factory=dict, repr=False)

    is_authenticated = True
    is_anonymous = False
    is_active = True

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any]) -> ServicePrincipal:
        """Build from claims whose shapes `validation.validate_token` has already checked."""
        return cls(
            azp=claims["azp"],
            subject=claims["sub"],
            # Keycloak before 21.1 wrote `clientId`; newer versions write `client_id`.
            client_id=claims.get("client_id", claims.get("clientId")),
            jti=claims.get("jti"),
            scopes=frozenset(claims.get("scope", "").split()),
            realm_roles=frozenset(claims.get("realm_access", {}).get("roles", ())),
            client_roles=MappingProxyType(
                {
                    client: frozenset(holder.get("roles", ()))
                    for client, holder in claims.get("resource_access", {}).items()
                }
            ),
            claims=MappingProxyType(dict(claims)),
        )

    @property
    def is_service_account(self) -> bool:
        """A client-credentials token: Keycloak sets `client_id` to the authorized party."""
        return self.client_id is not None and self.client_id == self.azp

    @property
    def pk(self) -> str:
        """A stable identifier for throttling and logging: the calling client."""
        return self.azp

    @property
    def username(self) -> str:
        return self.client_id or self.azp

    def has_client_role(self, role: str, client: str) -> bool:
        return role in self.client_roles.get(client, frozenset())

    def __str__(self) -> str:
        return f"service:{self.username}"
