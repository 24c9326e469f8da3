"""Print where to click once the stack is up (run by the Procfile after Keycloak is ready)."""

import os

admin = os.environ.get("DJANGO_ADMIN_USERNAME", "admin")
keycloak = os.environ.get("KEYCLOAK_PUBLIC_URL", "http://localhost:8080")
keycloak_admin = os.environ.get("KC_BOOTSTRAP_ADMIN_USERNAME", "admin")

print(
    f"""
================ TechStore is running ================
 Shop                  http://localhost:8000/
 Shop admin            http://localhost:8000/admin/   ({admin}, password DJANGO_ADMIN_PASSWORD in .env)
 Notifications admin   http://localhost:8001/admin/   (same user)
 Notification API      POST http://localhost:8001/api/notifications/order
 Keycloak console      {keycloak}/admin/   ({keycloak_admin}, password KC_BOOTSTRAP_ADMIN_PASSWORD in .env)
 Demo customer         demo, password KEYCLOAK_DEMO_PASSWORD in .env
 Ctrl-C stops everything.
======================================================
""",
    flush=True,
)
