"""URLconf of the test suite: both services' routes in one process (their paths do not overlap)."""

from config.urls.notifications import urlpatterns as notification_patterns
from config.urls.shop import urlpatterns as shop_patterns

urlpatterns = [*notification_patterns, *(p for p in shop_patterns if str(p.pattern) != "admin/")]
