"""Print where to click once the stack is up (run by the Procfile after Keycloak is ready)."""

import os

print(
    f"""
================ TechStore is running ================
 Shop                  http://localhost:8000/
 Shop admin            http://localhost:8000/admin/   ({os.environ.get("DJANGO_ADMIN_USERNAME")} / see .env DJANGO_ADMIN_PASSWORD)
 Notifications admin   http://localhost:8001/admin/   (same user)
 Notification API      POST http://localhost:8001/api/notifications/order
 Keycloak console      {os.environ.get("KEYCLOAK_PUBLIC_URL", "http://localhost:8080")}/admin/   ({os.environ.get("KC_BOOTSTRAP_ADMIN_USERNAME")} / see .env KC_BOOTSTRAP_ADMIN_PASSWORD)
 Demo customer         demo / see .env KEYCLOAK_DEMO_PASSWORD
 Ctrl-C stops everything.
======================================================
""",
    flush=True,
)
