"""The notification service's API as the shop calls it: one POST, one small verdict.

The call carries the shop's service token (`ServiceTokenAuth`, which also renews it once after a
401 `invalid_token`) and an `Idempotency-Key`, so sending the same message again is always safe.
The verdict says whether to stop (delivered), try again later, or give up; its text names what
went wrong and never contains a token.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import requests
from django.core.signals import setting_changed

from m2m_auth.exceptions import M2MAuthError
from m2m_auth.requests_auth import ServiceTokenAuth

from .conf import shop_setting

ORDER_PATH = "/api/notifications/order"
# 4xx answers that may succeed later: a token the receiver did not accept yet (401), a timeout
# (408), a concurrent request with the same key (409), rate limiting (429).
RETRYABLE_CLIENT_ERRORS = frozenset({401, 408, 409, 429})
MAX_DETAIL = 300


class Outcome(StrEnum):
    DELIVERED = "delivered"  # the receiver has it (a first answer or a replay): done
    RETRY = "retry"  # may work later: unreachable, 5xx, timeout, no token yet, 401/408/409/429
    PERMANENT = "permanent"  # the receiver refused this request as it is: sending it again won't help


@dataclass(frozen=True)
class DeliveryResult:
    """The verdict on one call; `detail` is safe to store and show (it never holds a token)."""

    outcome: Outcome
    detail: str = ""
    status_code: int | None = None
    retry_after: float | None = None


class NotificationClient:
    """Calls the notification service with this service's token; collaborators are injected."""

    def __init__(
        self,
        *,
        base_url: str,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = (3.05, 10.0),
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        if session is None:
            session = requests.Session()
            session.auth = ServiceTokenAuth()
        self.session = session

    def __repr__(self) -> str:
        return f"NotificationClient(base_url={self.base_url!r})"

    def order_placed(self, *, order_id: str, user_email: str, idempotency_key: str) -> DeliveryResult:
        """Ask for the "order placed" e-mail; the same key always means the same e-mail."""
        url = f"{self.base_url}{ORDER_PATH}"
        try:
            response = self.session.post(
                url,
                json={"orderId": order_id, "userEmail": user_email},
                headers={"Idempotency-Key": idempotency_key, "Accept": "application/json"},
                timeout=self.timeout,
            )
        except M2MAuthError as exc:
            # No token (Keycloak down, backing off, no secret): the message waits for one.
            return DeliveryResult(Outcome.RETRY, _clip(f"No service token: {exc}"))
        except requests.Timeout:
            return DeliveryResult(Outcome.RETRY, f"Timed out calling {url}.")
        except requests.RequestException as exc:
            return DeliveryResult(Outcome.RETRY, _clip(f"Could not reach {url}: {type(exc).__name__}."))
        return _verdict(response)


def _verdict(response: requests.Response) -> DeliveryResult:
    status = response.status_code
    if status in (200, 201):
        return DeliveryResult(Outcome.DELIVERED, status_code=status)
    detail = _clip(f"HTTP {status}{_describe_body(response)}")
    if status >= 500 or status in RETRYABLE_CLIENT_ERRORS:
        return DeliveryResult(Outcome.RETRY, detail, status, _retry_after(response))
    return DeliveryResult(Outcome.PERMANENT, detail, status)


def _describe_body(response: requests.Response) -> str:
    """The receiver's `code` and `detail` (or field errors); it never echoes the token it was sent."""
    try:
        body: Any = response.json()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    if "detail" in body:
        code = f" {body['code']}" if body.get("code") else ""
        return f"{code}: {body['detail']}"
    return f": {body}"


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    return float(value) if value.isdigit() else None


def _clip(text: str) -> str:
    return text if len(text) <= MAX_DETAIL else text[: MAX_DETAIL - 1] + "…"


# One client per thread: a `requests.Session` keeps connections alive but is not promised to be
# thread-safe, and deliveries run on several threads (the after-commit pool, the worker).
_local = threading.local()
_generation = 0


def get_notification_client() -> NotificationClient:
    """This thread's client, built from settings (rebuilt after they change)."""
    client = getattr(_local, "client", None)
    if client is None or _local.generation != _generation:
        client = NotificationClient(
            base_url=shop_setting("NOTIFICATION_URL"), timeout=tuple(shop_setting("SHOP_NOTIFICATION_TIMEOUT"))
        )
        _local.client, _local.generation = client, _generation
    return client


def _reset_default_client(*, setting: str, **kwargs: Any) -> None:
    global _generation
    if setting in ("NOTIFICATION_URL", "SHOP_NOTIFICATION_TIMEOUT"):
        _generation += 1


setting_changed.connect(_reset_default_client)
