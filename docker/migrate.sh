#!/bin/sh
# The one-shot job before a service starts (docker-compose.yml): migrate its database, then, when
# DJANGO_ADMIN_PASSWORD is set, make sure the admin user exists (as scripts/prepare_services.py
# does for local runs). DJANGO_SETTINGS_MODULE says which service.
set -eu

python manage.py migrate --noinput

if [ -n "${DJANGO_ADMIN_PASSWORD:-}" ]; then
    python manage.py shell --command '
import os
from django.contrib.auth import get_user_model
User = get_user_model()
username = os.environ.get("DJANGO_ADMIN_USERNAME") or "admin"
user, created = User.objects.get_or_create(username=username, defaults={"is_staff": True, "is_superuser": True})
if created:
    user.set_password(os.environ["DJANGO_ADMIN_PASSWORD"])
    user.save()
    print(f"Created the admin user {username!r}.")
'
fi
