"""Test doubles that are real: RSA keys made here and a local HTTP server that serves their JWKS."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.http_server import serve, write_json

REALM = "techstore"
CERTS_PATH = f"/realms/{REALM}/protocol/openid-connect/certs"


@dataclass
class SigningKey:
    kid: str
    private_key: rsa.RSAPrivateKey

    @classmethod
    def generate(cls, kid: str | None = None) -> SigningKey:
        return cls(kid or uuid.uuid4().hex, rsa.generate_private_key(public_exponent=65537, key_size=2048))

    def public_jwk(self, **extra: Any) -> dict[str, Any]:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private_key.public_key()))
        return {**jwk, "kid": self.kid, "alg": "RS256", "use": "sig", **extra}

    def sign(self, claims: dict[str, Any], *, headers: dict[str, Any] | None = None, alg: str = "RS256") -> str:
        return jwt.encode(claims, self.private_key, algorithm=alg, headers={"kid": self.kid, **(headers or {})})


@dataclass
class JWKSServer:
    """Serves `document` at the realm's certs path; counts requests; can fail on demand."""

    document: dict[str, Any] = field(default_factory=lambda: {"keys": []})
    requests: int = 0
    status: int = 200
    body: bytes | None = None  # raw answer instead of `document`, for garbage tests
    delay: float = 0.0

    def start(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                owner.requests += 1
                if owner.delay:
                    time.sleep(owner.delay)
                if self.path != CERTS_PATH:
                    self.send_error(404)
                    return
                write_json(self, owner.status, owner.body if owner.body is not None else owner.document)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = serve(Handler)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def serve_keys(self, *keys: SigningKey, extra: list[dict[str, Any]] | None = None) -> None:
        self.document = {"keys": [key.public_jwk() for key in keys] + list(extra or [])}
        self.status, self.body = 200, None

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
