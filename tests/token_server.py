"""A local token endpoint that counts requests and can be slow, failing or gated on demand."""

from __future__ import annotations

import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.http_server import serve, write_json

TOKEN_PATH = "/realms/techstore/protocol/openid-connect/token"


@dataclass
class TokenServer:
    expires_in: Any = 300
    status: int = 200
    error_body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    gate: threading.Event | None = None  # when set, each request waits for it
    token_factory: Any = None  # number -> access token; default "token-<number>"
    requests: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        """Back to a healthy server with no requests seen."""
        self.expires_in, self.status, self.error_body, self.headers = 300, 200, None, {}
        self.delay, self.gate, self.token_factory = 0.0, None, None
        self.requests.clear()

    @property
    def count(self) -> int:
        return len(self.requests)

    def start(self) -> TokenServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", 0))
                form = urllib.parse.parse_qs(self.rfile.read(length).decode())
                with owner._lock:
                    owner.requests.append({"form": form, "authorization": self.headers.get("Authorization")})
                    number = len(owner.requests)
                if owner.gate is not None:
                    owner.gate.wait(10)
                if owner.delay:
                    time.sleep(owner.delay)
                if owner.status == 200:
                    token = owner.token_factory(number) if owner.token_factory else f"token-{number}"
                    body = {"access_token": token, "token_type": "Bearer", "expires_in": owner.expires_in}
                    if owner.expires_in is ...:
                        del body["expires_in"]
                else:
                    body = owner.error_body or {"error": "server_error"}
                write_json(self, owner.status, body, owner.headers)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = serve(Handler)
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{TOKEN_PATH}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def build_client(**options: Any):
    """A TokenClient whose `TokenPolicy` fields may be passed inline, as the tests do."""
    from dataclasses import fields

    from m2m_auth.tokens import TokenClient, TokenPolicy

    policy_names = {field.name for field in fields(TokenPolicy)}
    policy = TokenPolicy(**{name: options.pop(name) for name in list(options) if name in policy_names})
    return TokenClient(policy=policy, **options)
