"""The shop's own settings, with their defaults, read when used so that tests can override them."""

from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    # Base URL of the notification service (the shop calls {NOTIFICATION_URL}/api/notifications/order).
    "NOTIFICATION_URL": "http://localhost:8001",
    # (connect, read) timeouts of each call to the notification service, in seconds.
    "SHOP_NOTIFICATION_TIMEOUT": (3.05, 10.0),
    # What happens right after an order commits: "thread" (a background thread of this process tries
    # to deliver at once), "inline" (the committing thread does: tests only) or "off" (the worker does).
    "SHOP_NOTIFY_AFTER_COMMIT": "thread",
    # Retry schedule of the outbox: first delay, longest delay (seconds); each delay is jittered.
    "SHOP_OUTBOX_BACKOFF_BASE": 5.0,
    "SHOP_OUTBOX_BACKOFF_MAX": 900.0,
    # How long a claim on an outbox message lasts: a crashed worker's messages are retried after it.
    # Keep it above one call's worst case (token lock wait + token request + the call's timeouts).
    "SHOP_OUTBOX_LEASE": 60.0,
}

AFTER_COMMIT_MODES = ("thread", "inline", "off")


def shop_setting(name: str) -> Any:
    """The Django setting `name`, or its default from DEFAULTS; an unknown name is a programming error."""
    if name not in DEFAULTS:
        raise AttributeError(f"Unknown shop setting: {name!r}")
    return getattr(settings, name, DEFAULTS[name])
