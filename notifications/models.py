"""A notification: one e-mail about one order, requested by one calling service."""

from django.db import models
from django.db.models import Q


class Notification(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    order_id = models.CharField(max_length=64, db_index=True)
    recipient = models.EmailField(max_length=254)
    sender = models.CharField(max_length=255, db_index=True, help_text="Client id of the calling service.")
    token_jti = models.CharField("token id (jti)", max_length=255, blank=True)
    # NULL, not "", for "no key": the unique constraint must not treat two keyless calls as repeats.
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    request_fingerprint = models.CharField(max_length=64, help_text="SHA-256 of the request's order and recipient.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["sender", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="notification_unique_idempotency_key_per_sender",
            )
        ]

    def __str__(self) -> str:
        return f"Order {self.order_id} to {self.recipient} ({self.status})"
