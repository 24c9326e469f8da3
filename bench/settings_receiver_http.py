"""Bench-only settings for bench/receiver_http.py: the notification service as deployed, plus a
second route to the same view without authentication (bench/urls_receiver_http.py).

Nothing here is for a real deployment. bench/receiver_http.py sets every variable read below and
starts gunicorn with this module; what differs from config/settings/notifications.py:

- the database is a throw-away SQLite file (BENCH_DATABASE, on /dev/shm), in WAL mode (set by the
  script) so that the workers' writes do not block each other's reads;
- the cache is each process's own memory, and REDIS_URL or *_DATABASE_URL are ignored;
- e-mails go to the dummy backend: send_mail builds the message object, nothing renders or sends it;
- m2m_auth checks tokens against the script's local JWKS server (BENCH_KEYCLOAK_URL).
"""

import os

from config.settings.notifications import *  # noqa: F403
from config.settings.notifications import M2M_AUTH

ROOT_URLCONF = "bench.urls_receiver_http"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1"]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ["BENCH_DATABASE"],
        "OPTIONS": {"timeout": 20},  # as config/env.py gives SQLite
    }
}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"
M2M_AUTH = {**M2M_AUTH, "KEYCLOAK_URL": os.environ["BENCH_KEYCLOAK_URL"], "KEYCLOAK_REALM": "techstore"}
