"""Delivering the outbox to the notification service: right after commit, then by the worker.

The first attempt runs off the request thread (SHOP_NOTIFY_AFTER_COMMIT); `deliver_notifications`
retries until it succeeds, with capped exponential back-off. Every attempt first claims its message
(a lease, so a crashed worker's claim expires), so two processes never send it at the same time, and
every attempt sends the message's id as the `Idempotency-Key`, so even a claim that expired mid-call
cannot make the customer get two e-mails.
"""

from __future__ import annotations

import logging
import random
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connection, transaction
from django.db.models import F, Q
from django.dispatch import receiver
from django.utils import timezone

from .conf import AFTER_COMMIT_MODES, shop_setting
from .models import OutboxMessage
from .notifications_client import DeliveryResult, Outcome, get_notification_client

try:  # optional: carries the request's trace into the delivery thread (config/telemetry.py)
    from opentelemetry import context as otel_context
except ImportError:  # pragma: no cover
    otel_context = None

logger = logging.getLogger(__name__)


# The first attempt, right after commit


_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()
# Attempts queued in this process at most; beyond that the worker delivers (a slow receiver must
# not grow an unbounded queue of threads' work in every web process).
_in_flight = threading.BoundedSemaphore(200)


def outbox_dispatch_after_commit(*, message_id: uuid.UUID) -> None:
    """Try a delivery at once, as SHOP_NOTIFY_AFTER_COMMIT says; never raises into the caller."""
    mode = shop_setting("SHOP_NOTIFY_AFTER_COMMIT")
    if mode not in AFTER_COMMIT_MODES:
        logger.error(
            "SHOP_NOTIFY_AFTER_COMMIT=%r is not one of %s; leaving it to the worker.", mode, AFTER_COMMIT_MODES
        )
        return
    if mode == "off":
        return
    if mode == "inline":
        _deliver_logging_errors(message_id)
        return
    trace_context = otel_context.get_current() if otel_context is not None else None
    waiting = getattr(_after_response, "messages", None)
    if waiting is not None:
        # Inside a request: start once the response is sent, so that the delivery thread does not
        # compete with the request thread for the GIL while the response is still being built.
        waiting.append((message_id, trace_context))
        return
    _submit(message_id, trace_context)


def _submit(message_id: uuid.UUID, trace_context: object) -> None:
    if not _in_flight.acquire(blocking=False):
        logger.warning("Too many deliveries in flight; outbox message %s waits for the worker.", message_id)
        return
    try:
        _get_executor().submit(_deliver_in_thread, message_id, trace_context)
    except RuntimeError:  # the interpreter is shutting down
        _in_flight.release()


# Deliveries a request asked for, started when Django closes its response. Should the signal never
# come (a crash), the messages are still pending in the database and the worker delivers them.
_after_response = threading.local()


@receiver(request_started)
def _collect_after_response(**kwargs: object) -> None:
    _after_response.messages = []


@receiver(request_finished)
def _start_after_response(**kwargs: object) -> None:
    messages, _after_response.messages = getattr(_after_response, "messages", None) or [], None
    for message_id, trace_context in messages:
        _submit(message_id, trace_context)


def _get_executor() -> ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="shop-outbox")
        return _executor


def _deliver_in_thread(message_id: uuid.UUID, trace_context: object = None) -> None:
    # The checkout's trace context: the call to the notification service joins its trace.
    attached = otel_context.attach(trace_context) if trace_context is not None else None
    # A thread outside the request cycle: manage its database connection as a request would.
    close_old_connections()
    try:
        _deliver_logging_errors(message_id)
    finally:
        close_old_connections()
        _in_flight.release()
        if attached is not None:
            otel_context.detach(attached)


def _deliver_logging_errors(message_id: uuid.UUID) -> None:
    try:
        outbox_message_deliver(message_id=message_id)
    except Exception:  # noqa: BLE001 - the worker retries; the order is placed whatever happens here
        logger.exception("Delivering outbox message %s failed; the worker will retry it.", message_id)


# Claiming and delivering


@dataclass
class DeliveryReport:
    """What one worker pass did, by outcome."""

    delivered: list[uuid.UUID] = field(default_factory=list)
    retrying: list[uuid.UUID] = field(default_factory=list)
    dead: list[uuid.UUID] = field(default_factory=list)
    lost: list[uuid.UUID] = field(default_factory=list)  # claim expired mid-call: the new owner records it

    @property
    def claimed(self) -> int:
        return len(self.delivered) + len(self.retrying) + len(self.dead) + len(self.lost)


def outbox_message_deliver(*, message_id: uuid.UUID) -> Outcome | None:
    """Deliver one message if it is due and nobody holds it; None when there was nothing to do."""
    now = timezone.now()
    claim_token = uuid.uuid4()
    claimed = OutboxMessage.objects.filter(_due(now), pk=message_id).update(**_claim(now, claim_token))
    if not claimed:
        return None
    return _deliver_claimed(message_id, claim_token)


def outbox_deliver_due(*, batch: int = 50) -> DeliveryReport:
    """Claim up to `batch` due messages and deliver each; safe to run in several processes at once."""
    report = DeliveryReport()
    claim_token, message_ids = _outbox_claim_batch(batch=batch)
    for message_id in message_ids:
        outcome = _deliver_claimed(message_id, claim_token)
        {
            Outcome.DELIVERED: report.delivered,
            Outcome.RETRY: report.retrying,
            Outcome.PERMANENT: report.dead,
            None: report.lost,
        }[outcome].append(message_id)
    return report


def _due(now: datetime) -> Q:
    """Waiting for an attempt, and not held by a live claim."""
    return Q(status__in=[OutboxMessage.Status.PENDING, OutboxMessage.Status.FAILED], next_attempt_at__lte=now) & (
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    )


def _claim(now: datetime, claim_token: uuid.UUID) -> dict:
    # Counting the attempt at claim time means a worker that crashes mid-call still counts one.
    lease = timedelta(seconds=float(shop_setting("SHOP_OUTBOX_LEASE")))
    return {"claimed_until": now + lease, "claim_token": claim_token, "attempts": F("attempts") + 1, "updated_at": now}


def _outbox_claim_batch(*, batch: int) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """Claim due messages for this caller: (the claim's token, the ids it holds)."""
    now = timezone.now()
    claim_token = uuid.uuid4()
    due = OutboxMessage.objects.filter(_due(now)).order_by("next_attempt_at")
    if connection.features.has_select_for_update_skip_locked:
        # PostgreSQL: rows another worker is claiming right now are skipped, not waited for, so
        # concurrent workers take disjoint batches. The lease then outlives the row lock.
        with transaction.atomic():
            ids = list(due.select_for_update(skip_locked=True).values_list("pk", flat=True)[:batch])
            OutboxMessage.objects.filter(_due(now), pk__in=ids).update(**_claim(now, claim_token))
        return claim_token, ids
    # Elsewhere (SQLite): compare and set, row by row; a row another worker claimed first no longer
    # matches `_due` and is skipped.
    candidates = list(due.values_list("pk", flat=True)[:batch])
    ids = [pk for pk in candidates if OutboxMessage.objects.filter(_due(now), pk=pk).update(**_claim(now, claim_token))]
    return claim_token, ids


def _deliver_claimed(message_id: uuid.UUID, claim_token: uuid.UUID) -> Outcome | None:
    """Send a message this caller holds and record the outcome; None if the claim was lost meanwhile."""
    if not _renew_claim(message_id, claim_token):
        return None
    message = OutboxMessage.objects.filter(pk=message_id).first()
    if message is None:  # deleted with its order meanwhile
        return None
    sender = _SENDERS.get(message.topic)
    if sender is None:
        result = DeliveryResult(Outcome.PERMANENT, f"No sender for topic {message.topic!r}.")
    else:
        try:
            result = sender(message)
        except Exception as exc:  # noqa: BLE001 - recorded and retried like any other failure
            logger.exception("Unexpected error delivering outbox message %s.", message_id)
            result = DeliveryResult(Outcome.RETRY, f"Unexpected error: {type(exc).__name__}.")
    return _record(message, claim_token, result)


def _renew_claim(message_id: uuid.UUID, claim_token: uuid.UUID) -> bool:
    """A full lease for the call about to start; False if the claim expired (a long batch) and was taken."""
    now = timezone.now()
    lease = timedelta(seconds=float(shop_setting("SHOP_OUTBOX_LEASE")))
    return bool(
        OutboxMessage.objects.filter(pk=message_id, claim_token=claim_token, claimed_until__gte=now).update(
            claimed_until=now + lease
        )
    )


def _send_order_placed(message: OutboxMessage) -> DeliveryResult:
    return get_notification_client().order_placed(
        order_id=message.payload["orderId"],
        user_email=message.payload["userEmail"],
        idempotency_key=str(message.pk),
    )


_SENDERS: dict[str, Callable[[OutboxMessage], DeliveryResult]] = {
    OutboxMessage.Topic.ORDER_PLACED: _send_order_placed,
}


def _record(message: OutboxMessage, claim_token: uuid.UUID, result: DeliveryResult) -> Outcome | None:
    now = timezone.now()
    release = {"claimed_until": None, "claim_token": None, "updated_at": now}
    if result.outcome == Outcome.DELIVERED:
        changes = {"status": OutboxMessage.Status.DELIVERED, "delivered_at": now, "last_error": ""}
    elif result.outcome == Outcome.PERMANENT:
        changes = {"status": OutboxMessage.Status.DEAD, "last_error": result.detail}
    else:
        delay = outbox_backoff(attempts=message.attempts, retry_after=result.retry_after)
        changes = {"status": OutboxMessage.Status.FAILED, "last_error": result.detail, "next_attempt_at": now + delay}
    recorded = OutboxMessage.objects.filter(pk=message.pk, claim_token=claim_token).update(**changes, **release)
    if not recorded:
        logger.warning(
            "Outbox message %s: claim expired during the call; its new holder records the outcome.", message.pk
        )
        return None
    if result.outcome == Outcome.DELIVERED:
        logger.info("Outbox message %s delivered (attempt %d).", message.pk, message.attempts)
    elif result.outcome == Outcome.PERMANENT:
        logger.error("Outbox message %s is dead after attempt %d: %s", message.pk, message.attempts, result.detail)
    else:
        logger.warning(
            "Outbox message %s failed (attempt %d), next attempt in %.0f s: %s",
            message.pk,
            message.attempts,
            delay.total_seconds(),
            result.detail,
        )
    return result.outcome


def outbox_backoff(
    *, attempts: int, retry_after: float | None = None, rand: Callable[[], float] = random.random
) -> timedelta:
    """Delay after the `attempts`-th failure: doubling from the base, capped, jittered into its upper half.

    The jitter keeps messages that failed together (the receiver was down) from all coming back in
    the same second; a `Retry-After` from the receiver lengthens the delay, never beyond the cap.
    """
    base = float(shop_setting("SHOP_OUTBOX_BACKOFF_BASE"))
    cap = float(shop_setting("SHOP_OUTBOX_BACKOFF_MAX"))
    delay = min(cap, base * 2 ** min(max(attempts - 1, 0), 32))
    delay = delay / 2 + delay / 2 * rand()
    if retry_after is not None:
        delay = max(delay, min(float(retry_after), cap))
    return timedelta(seconds=delay)
