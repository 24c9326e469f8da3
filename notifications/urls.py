from django.urls import path

from .views import OrderNotificationView

app_name = "notifications"

urlpatterns = [
    path("api/notifications/order", OrderNotificationView.as_view(), name="order"),
]
