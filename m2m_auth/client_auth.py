"""How a service proves its identity to Keycloak's token endpoint (RFC 6749 2.3, RFC 7523).

Each method adds its credential to the token request and names a fingerprint of it, so that a
rotated secret or key gets a new cache key. None of them ever shows its secret in `repr()`.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization

METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt")
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME = 60


class ClientAuthentication:
    """Adds the client's credential to a token request's form data or HTTP auth."""

    method = ""

    def __init__(self, client_id: str) -> None:
        self.client_id = client_id

    def apply(self, data: dict[str, str]) -> tuple[str, str] | None:
        """Update `data` in place; return HTTP Basic credentials, if any."""
        raise NotImplementedError

    @property
    def fingerprint(self) -> str:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(client_id={self.client_id!r})"


class ClientSecretBasic(ClientAuthentication):
    """The secret in an `Authorization: Basic` header: Keycloak's default."""

    method = "client_secret_basic"

    def __init__(self, client_id: str, secret: str) -> None:
        super().__init__(client_id)
        self._secret = secret

    def apply(self, data: dict[str, str]) -> tuple[str, str] | None:
        return (self.client_id, self._secret)

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(f"{self.method}\0{self._secret}".encode()).hexdigest()


class ClientSecretPost(ClientSecretBasic):
    """The secret in the form body, for servers that do not read Basic credentials."""

    method = "client_secret_post"

    def apply(self, data: dict[str, str]) -> tuple[str, str] | None:
        data.update(client_id=self.client_id, client_secret=self._secret)
        return None


class PrivateKeyJWT(ClientAuthentication):
    """A short-lived JWT signed with the client's own key: no shared secret (Keycloak "Signed JWT").

    Keycloak verifies it with the public key registered on the client and expects `aud` to be the
    realm's issuer URL.
    """

    method = "private_key_jwt"

    def __init__(self, client_id: str, private_key_pem: str | bytes, audience: str, algorithm: str = "RS256") -> None:
        super().__init__(client_id)
        pem = private_key_pem.encode() if isinstance(private_key_pem, str) else private_key_pem
        self._key = serialization.load_pem_private_key(pem, password=None)
        self.audience = audience
        self.algorithm = algorithm

    def apply(self, data: dict[str, str]) -> tuple[str, str] | None:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": self.audience,
            "jti": str(uuid.uuid4()),
            "iat": now,
            "exp": now + ASSERTION_LIFETIME,
        }
        data.update(
            client_id=self.client_id,
            client_assertion_type=JWT_BEARER,
            client_assertion=jwt.encode(claims, self._key, algorithm=self.algorithm),
        )
        return None

    @property
    def fingerprint(self) -> str:
        public = self._key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return hashlib.sha256(public).hexdigest()


def client_authentication(
    method: str,
    *,
    client_id: str,
    secret: str = "",
    private_key_pem: str | bytes | None = None,
    audience: str | None = None,
) -> ClientAuthentication:
    """The method's credential, or a ValueError saying what is missing."""
    if method in ("client_secret_basic", "client_secret_post"):
        if not secret:
            raise ValueError(f"{method} needs the client secret of '{client_id}'.")
        cls = ClientSecretBasic if method == "client_secret_basic" else ClientSecretPost
        return cls(client_id, secret)
    if method == "private_key_jwt":
        if not private_key_pem or not audience:
            raise ValueError(f"private_key_jwt needs the private key of '{client_id}' and the realm's issuer.")
        return PrivateKeyJWT(client_id, private_key_pem, audience)
    raise ValueError(f"Unsupported client authentication method: {method!r} (use one of {', '.join(METHODS)}).")
