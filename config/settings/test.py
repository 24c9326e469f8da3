"""Settings for the test suite: the notification service with a fixed, test-only secret key."""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "insecure-test-only-key-" + "x" * 40)

from .notifications import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# A file, not ":memory:", so that threads in concurrency tests share one database.
DATABASES["default"]["TEST"] = {"NAME": VAR_DIR / "test-notifications.sqlite3"}  # noqa: F405
