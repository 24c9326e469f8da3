"""A counting reverse proxy in front of Keycloak: how often a service really asked it, and for what.

Each service under test reaches Keycloak through its own proxy (KEYCLOAK_URL), while tokens keep
Keycloak's own issuer (KEYCLOAK_PUBLIC_URL), so the proxy changes nothing but what we can count.
When Keycloak does not answer, neither does the proxy: it drops the connection.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

TOKEN_PATH = "/protocol/openid-connect/token"
JWKS_PATH = "/protocol/openid-connect/certs"
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding", "host"}


@dataclass(frozen=True)
class Seen:
    at: float  # time.time()
    method: str
    path: str
    status: int | None  # None: Keycloak did not answer and neither did the proxy


class CountingProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        self._server = self._listen()
        self.port = self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _listen(self) -> ThreadingHTTPServer:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as Keycloak offers it

            def do_GET(self) -> None:
                proxy._forward(self)

            def do_POST(self) -> None:
                proxy._forward(self)

            def log_message(self, format, *args) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, name="keycloak-proxy", daemon=True).start()
        return server

    def _forward(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else None
        headers = {name: value for name, value in handler.headers.items() if name.lower() not in HOP_BY_HOP}
        headers["Accept-Encoding"] = "identity"
        try:
            answer = requests.request(
                handler.command,
                self.upstream + handler.path,
                headers=headers,
                data=body,
                timeout=(3, 30),
                allow_redirects=False,
            )
        except requests.RequestException:
            self._record(handler, None)
            handler.close_connection = True  # no answer at all: the caller sees a dropped connection
            return
        self._record(handler, answer.status_code)
        handler.send_response(answer.status_code)
        for name, value in answer.headers.items():
            if name.lower() not in HOP_BY_HOP:
                handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(answer.content)))
        handler.end_headers()
        handler.wfile.write(answer.content)

    def _record(self, handler: BaseHTTPRequestHandler, status: int | None) -> None:
        with self._lock:
            self.seen.append(Seen(time.time(), handler.command, handler.path.split("?")[0], status))

    # Counting

    def requests_to(self, path_suffix: str, *, since: float = 0.0, answered: bool = True) -> list[Seen]:
        """Requests whose path ends with `path_suffix` (that Keycloak answered, unless answered=False)."""
        with self._lock:
            return [
                seen
                for seen in self.seen
                if seen.path.endswith(path_suffix) and seen.at >= since and (seen.status is not None or not answered)
            ]

    def token_requests(self, **kwargs) -> list[Seen]:
        return self.requests_to(TOKEN_PATH, **kwargs)

    def jwks_requests(self, **kwargs) -> list[Seen]:
        return self.requests_to(JWKS_PATH, **kwargs)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
