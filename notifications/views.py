"""The notification API: thin views over `services.notification_send`."""

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from m2m_auth.authentication import ServiceAccountAuthentication
from m2m_auth.permissions import HasClientRole, IsServiceAccount

from .models import Notification
from .serializers import IDEMPOTENCY_KEY, NotificationSerializer, OrderNotificationRequestSerializer
from .services import IdempotencyConflict, notification_send

SEND_ROLE = HasClientRole("notifications:send", client="notification-service")
RETRY_AFTER_SECONDS = 30


class OrderNotificationView(APIView):
    """POST /api/notifications/order: e-mail a customer that their order was placed.

    Callers should send an `Idempotency-Key`; a repeat with the same key creates and sends
    nothing new and answers with the first notification.
    """

    authentication_classes = [ServiceAccountAuthentication]
    permission_classes = [IsServiceAccount & SEND_ROLE]

    def post(self, request: Request) -> Response:
        idempotency_key = self._idempotency_key(request)
        payload = OrderNotificationRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            result = notification_send(
                order_id=payload.validated_data["orderId"],
                recipient=payload.validated_data["userEmail"],
                sender=request.user.azp,
                token_jti=request.user.jti or "",
                idempotency_key=idempotency_key,
            )
        except IdempotencyConflict:
            return Response(
                {
                    "detail": "This Idempotency-Key was already used for a different order or recipient.",
                    "code": "idempotency_key_reused",
                },
                status=status.HTTP_422_UNPROCESSABLE_ENTITY,
            )
        return self._response(result.notification, replayed=result.replayed)

    @staticmethod
    def _idempotency_key(request: Request) -> str | None:
        key = request.headers.get("Idempotency-Key")
        if key is None:
            return None
        try:
            IDEMPOTENCY_KEY(key)
        except DjangoValidationError as exc:
            raise ValidationError({"Idempotency-Key": exc.messages}) from None
        return key

    @staticmethod
    def _response(notification: Notification, *, replayed: bool) -> Response:
        body = NotificationSerializer(notification).data
        headers = {"Idempotent-Replayed": "true"} if replayed else {}
        if notification.status == Notification.Status.SENT:
            return Response(body, status=status.HTTP_201_CREATED, headers=headers)
        # Not sent (yet): the caller keeps the job and retries with the same key.
        body.update(
            detail="The e-mail could not be sent yet; retry with the same Idempotency-Key.",
            code="delivery_pending" if notification.status == Notification.Status.SENDING else "delivery_failed",
        )
        headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return Response(body, status=status.HTTP_503_SERVICE_UNAVAILABLE, headers=headers)
