"""Writes of the notification service: record a notification once, send its e-mail once."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import timedelta

from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from .models import Notification

logger = logging.getLogger(__name__)

# A delivery claimed longer ago than this is presumed dead (its process crashed) and may be retried.
STALE_CLAIM = timedelta(seconds=60)


class IdempotencyConflict(Exception):
    """The Idempotency-Key was used before by this sender for a different request."""


@dataclass(frozen=True)
class SendResult:
    notification: Notification
    replayed: bool


def notification_send(
    *, order_id: str, recipient: str, sender: str, token_jti: str = "", idempotency_key: str | None = None
) -> SendResult:
    """Record the notification (once per sender and key) and deliver its e-mail unless already sent."""
    fingerprint = hashlib.sha256(f"{order_id}\0{recipient}".encode()).hexdigest()
    notification, replayed = _notification_get_or_create(
        order_id=order_id,
        recipient=recipient,
        sender=sender,
        token_jti=token_jti,
        idempotency_key=idempotency_key,
        fingerprint=fingerprint,
    )
    if notification.status != Notification.Status.SENT:
        notification = _notification_deliver(notification)
    return SendResult(notification=notification, replayed=replayed)


def _notification_get_or_create(
    *, order_id: str, recipient: str, sender: str, token_jti: str, idempotency_key: str | None, fingerprint: str
) -> tuple[Notification, bool]:
    if idempotency_key is not None:
        existing = Notification.objects.filter(sender=sender, idempotency_key=idempotency_key).first()
        if existing is not None:
            return _replay(existing, fingerprint), True
    try:
        with transaction.atomic():
            created = Notification.objects.create(
                order_id=order_id,
                recipient=recipient,
                sender=sender,
                token_jti=token_jti,
                idempotency_key=idempotency_key,
                request_fingerprint=fingerprint,
            )
    except IntegrityError:
        # A concurrent request with the same key won the insert; answer as a repeat of it.
        existing = Notification.objects.get(sender=sender, idempotency_key=idempotency_key)
        return _replay(existing, fingerprint), True
    return created, False


def _replay(existing: Notification, fingerprint: str) -> Notification:
    if existing.request_fingerprint != fingerprint:
        raise IdempotencyConflict()
    return existing


def _notification_deliver(notification: Notification) -> Notification:
    """Claim the notification, send its e-mail, record the outcome; one sender wins each claim."""
    now = timezone.now()
    claimable = Q(status__in=[Notification.Status.PENDING, Notification.Status.FAILED]) | Q(
        status=Notification.Status.SENDING, updated_at__lt=now - STALE_CLAIM
    )
    claimed = Notification.objects.filter(claimable, pk=notification.pk).update(
        status=Notification.Status.SENDING, attempts=F("attempts") + 1, updated_at=now
    )
    if not claimed:
        notification.refresh_from_db()
        return notification
    try:
        send_mail(
            subject=f"Your order {notification.order_id} has been placed",
            message=(
                f"Thank you for your order {notification.order_id}.\nWe will let you know when it ships.\n\nTechStore"
            ),
            from_email=None,
            recipient_list=[notification.recipient],
        )
    except Exception as exc:  # noqa: BLE001 - any mail failure is recorded and retried by the caller
        logger.warning("E-mail for notification %s failed: %s", notification.pk, type(exc).__name__)
        status, error, sent_at = Notification.Status.FAILED, f"{type(exc).__name__}: {exc}"[:1000], None
    else:
        status, error, sent_at = Notification.Status.SENT, "", timezone.now()
    Notification.objects.filter(pk=notification.pk).update(
        status=status, error=error, sent_at=sent_at, updated_at=timezone.now()
    )
    notification.refresh_from_db()
    return notification
