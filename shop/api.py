"""The orders API for logged-in customers (session authentication, so CSRF applies)."""

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .selectors import order_list_for_user
from .serializers import OrderCreateSerializer, OrderSerializer
from .services import order_place


class OrderListCreateView(APIView):
    """GET /api/orders/: the customer's orders. POST: place one from {"items": [{"productId", "quantity"}]}."""

    authentication_classes = [SessionAuthentication]
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="orders_list",
        summary="The logged-in customer's orders, newest first",
        responses={
            200: OrderSerializer(many=True),
            403: OpenApiResponse(description="Not logged in (no session cookie, or an expired session)."),
        },
    )
    def get(self, request: Request) -> Response:
        return Response(OrderSerializer(order_list_for_user(user=request.user), many=True).data)

    @extend_schema(
        operation_id="orders_create",
        summary="Place an order",
        request=OrderCreateSerializer,
        responses={
            201: OrderSerializer,
            400: OpenApiResponse(description="Invalid items: unknown or inactive products, quantities out of range."),
            403: OpenApiResponse(description="Not logged in, or no valid `X-CSRFToken` header."),
        },
    )
    def post(self, request: Request) -> Response:
        payload = OrderCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            order = order_place(user=request.user, lines=payload.lines())
        except DjangoValidationError as exc:
            raise ValidationError({"items": exc.messages}, code=exc.code) from None
        order = order_list_for_user(user=request.user).get(pk=order.pk)
        return Response(OrderSerializer(order).data, status=status.HTTP_201_CREATED)
