"""Settings for the test suite: both services' apps in one process, with test-only values.

The shop reaches the notification service over HTTP (a live server in end-to-end tests); each
test picks the URLconf it needs with ``@pytest.mark.urls`` when the default does not fit.
"""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "insecure-test-only-key-" + "x" * 40)

from .notifications import *  # noqa: E402, F403
from .notifications import INSTALLED_APPS  # noqa: E402

INSTALLED_APPS = [*INSTALLED_APPS, "shop"]
ROOT_URLCONF = "config.urls.test"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# An order's notification is tried in the committing thread: deterministic, no background threads.
SHOP_NOTIFY_AFTER_COMMIT = "inline"
# A file, not ":memory:", so that threads in concurrency tests share one database.
DATABASES["default"]["TEST"] = {"NAME": VAR_DIR / "test.sqlite3"}  # noqa: F405
