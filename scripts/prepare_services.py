"""Migrate both services' databases and make sure each has an admin user (local runs).

Run through `honcho run` (the Makefile does) so that `.env` is loaded.
"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("config.settings.shop", "config.settings.notifications")

ENSURE_ADMIN = """
import os
from django.contrib.auth import get_user_model
User = get_user_model()
username = os.environ["DJANGO_ADMIN_USERNAME"]
user, created = User.objects.get_or_create(username=username, defaults={"is_staff": True, "is_superuser": True})
if created:
    user.set_password(os.environ["DJANGO_ADMIN_PASSWORD"])
    user.save()
"""


def manage(settings_module: str, *args: str) -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": settings_module}
    subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], env=env, check=True, cwd=ROOT)  # noqa: S603


def main() -> int:
    for settings_module in SERVICES:
        manage(settings_module, "migrate", "--noinput", "--verbosity", "0")
        manage(settings_module, "shell", "--command", ENSURE_ADMIN)
    return 0


if __name__ == "__main__":
    sys.exit(main())
