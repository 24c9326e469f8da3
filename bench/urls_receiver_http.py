"""Bench-only URLconf for bench/receiver_http.py: the notification service's routes, plus the
order view without authentication at NO_AUTH_PATH.

The copy's only changes are no authentication classes and `AllowAny`; it is handed the principal
that the benchmark's token names (BENCH_PRINCIPAL_CLAIMS, the token's claims as JSON), so the
serializer, the rows written and the e-mail are the same work as on the real route. The copy's
route comes first: the real route then pays for one more failed pattern match (well under a
microsecond), which can only lower the authenticated figure.
"""

import json
import os
from typing import Any

from django.urls import path
from rest_framework.permissions import AllowAny

from config.urls.notifications import urlpatterns as service_urlpatterns
from m2m_auth.principal import ServicePrincipal
from notifications.views import OrderNotificationView

NO_AUTH_PATH = "bench/no-auth/api/notifications/order"
PRINCIPAL = ServicePrincipal.from_claims(json.loads(os.environ["BENCH_PRINCIPAL_CLAIMS"]))


class OrderViewWithoutAuthentication(OrderNotificationView):
    """The same view and work; the caller is taken as given instead of read from a token."""

    authentication_classes = []
    permission_classes = [AllowAny]

    def perform_authentication(self, request: Any) -> None:
        request.user = PRINCIPAL


urlpatterns = [
    path(NO_AUTH_PATH, OrderViewWithoutAuthentication.as_view(), name="order-no-auth"),
    *service_urlpatterns,
]
