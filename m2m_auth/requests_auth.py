"""`ServiceTokenAuth`: a `requests` auth that sends the service token and recovers from one 401.

A 401 with no error or `invalid_token` means the target no longer accepts this token (revoked,
key rotated): the token is evicted if still cached, a new one fetched, and the request sent once
more, but only when replaying it is safe (an idempotent method, or an `Idempotency-Key` header).
A second 401, a 403 or `insufficient_scope` is returned to the caller as is.
"""

from __future__ import annotations

import re
from typing import Any

import requests
from requests.auth import AuthBase

from .tokens import TokenClient, get_token_client

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_ERROR_PARAMETER = re.compile(r'error="([^"]*)"')
_RETRIED = "_m2m_auth_retried"


class ServiceTokenAuth(AuthBase):
    """Attach `Authorization: Bearer <service token>` from a `TokenClient` (default: this service's)."""

    def __init__(self, client: TokenClient | None = None) -> None:
        self._client = client

    @property
    def client(self) -> TokenClient:
        return self._client or get_token_client()

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.client.get_token()}"
        request.register_hook("response", self._retry_after_invalid_token)
        return request

    def _retry_after_invalid_token(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        request = response.request
        if response.status_code != 401 or getattr(request, _RETRIED, False) or not is_replayable(request):
            return response
        match = _ERROR_PARAMETER.search(response.headers.get("WWW-Authenticate", ""))
        if match and match.group(1) != "invalid_token":
            return response
        sent = request.headers.get("Authorization", "").removeprefix("Bearer ")
        self.client.invalidate(sent)
        retry = request.copy()
        retry.headers["Authorization"] = f"Bearer {self.client.get_token()}"
        setattr(retry, _RETRIED, True)
        response.close()
        retried = response.connection.send(retry, **kwargs)
        retried.history.append(response)
        retried.request = retry
        return retried


def is_replayable(request: requests.PreparedRequest) -> bool:
    """Sending it twice cannot do twice what it asks for, and its body can be sent again."""
    if request.body is not None and not isinstance(request.body, (bytes, str)):
        return False
    return request.method in IDEMPOTENT_METHODS or "Idempotency-Key" in request.headers
