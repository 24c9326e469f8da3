"""The notification API: thin views over `services.notification_send`."""

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, PolymorphicProxySerializer, extend_schema
from rest_framework import serializers, status
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


# The OpenAPI description of the answers (drf-spectacular): the view builds some of them by hand.


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField(help_text="A stable code, e.g. `token_expired`, `missing_role`.")


class NotificationNotSentSerializer(NotificationSerializer):
    sentAt = serializers.DateTimeField(source="sent_at", allow_null=True)  # noqa: N815
    detail = serializers.CharField()
    code = serializers.CharField(help_text="`delivery_pending` or `delivery_failed`.")

    class Meta(NotificationSerializer.Meta):
        fields = [*NotificationSerializer.Meta.fields, "detail", "code"]


FIELD_ERRORS_SCHEMA = {
    "type": "object",
    "description": "The messages for each invalid field of the body, or for the Idempotency-Key header.",
    "properties": {
        name: {"type": "array", "items": {"type": "string"}} for name in ("orderId", "userEmail", "Idempotency-Key")
    },
}
SCHEMA_PARAMETERS = [
    OpenApiParameter(
        "Idempotency-Key",
        str,
        OpenApiParameter.HEADER,
        description="1 to 255 visible ASCII characters. A repeat with the same key sends nothing new and answers "
        "with the first notification; the same key for another order or recipient is a 422.",
        pattern=r"^[\x21-\x7e]{1,255}$",
    ),
    OpenApiParameter(
        "Idempotent-Replayed",
        str,
        OpenApiParameter.HEADER,
        response=[201, 503],
        enum=["true"],
        description="Present when the answer repeats the one given first for this Idempotency-Key.",
    ),
    OpenApiParameter(
        "WWW-Authenticate",
        str,
        OpenApiParameter.HEADER,
        response=[401, 403],
        description='The RFC 6750 challenge: `error="invalid_token"` on a 401, `"insufficient_scope"` on a 403.',
    ),
    OpenApiParameter(
        "Retry-After",
        int,
        OpenApiParameter.HEADER,
        response=[503],
        description="Seconds to wait before trying again with the same Idempotency-Key.",
    ),
]
SCHEMA_RESPONSES = {
    201: OpenApiResponse(NotificationSerializer, description="Sent (now, or before for a repeated key)."),
    400: OpenApiResponse(FIELD_ERRORS_SCHEMA, description="An invalid body or Idempotency-Key."),
    401: OpenApiResponse(ErrorSerializer, description="No token, or a bad one (expired, wrong issuer, ...)."),
    403: OpenApiResponse(ErrorSerializer, description="A user's token, or a service without `notifications:send`."),
    422: OpenApiResponse(ErrorSerializer, description="`idempotency_key_reused`: the key was used for another order."),
    503: OpenApiResponse(
        PolymorphicProxySerializer(
            component_name="NotificationUnavailable",
            serializers=[NotificationNotSentSerializer, ErrorSerializer],
            resource_type_field_name=None,
        ),
        description="Stored but not sent yet (`delivery_pending`, `delivery_failed`): retry with the same key. "
        "Or `jwks_unavailable`: no key to check tokens with right now.",
    ),
}


class OrderNotificationView(APIView):
    """POST /api/notifications/order: e-mail a customer that their order was placed.

    Callers should send an `Idempotency-Key`; a repeat with the same key creates and sends
    nothing new and answers with the first notification.
    """

    authentication_classes = [ServiceAccountAuthentication]
    permission_classes = [IsServiceAccount & SEND_ROLE]

    @extend_schema(
        operation_id="notifications_order_create",
        summary="E-mail a customer that their order was placed",
        request=OrderNotificationRequestSerializer,
        parameters=SCHEMA_PARAMETERS,
        responses=SCHEMA_RESPONSES,
    )
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
