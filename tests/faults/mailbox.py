"""The fault tests' mailbox: Django's file-based e-mail backend, writing where FAULTS_MAIL_DIR says.

The notification service runs its real settings; only DJANGO_EMAIL_BACKEND names this class,
because the settings read no EMAIL_FILE_PATH from the environment (see the fault tests' README
section). Each message is counted by its subject line, so files shared by two processes do not
matter.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path

from django.core.mail.backends import filebased

SUBJECT = re.compile(r"^Subject: Your order (\S+) has been placed$", re.MULTILINE)


class EmailBackend(filebased.EmailBackend):
    """`django.core.mail.backends.filebased.EmailBackend` with its directory from FAULTS_MAIL_DIR."""

    def __init__(self, *args, file_path=None, **kwargs):
        super().__init__(*args, file_path=file_path or os.environ["FAULTS_MAIL_DIR"], **kwargs)


def sent_order_emails(directory: Path) -> Counter[str]:
    """How many "order placed" e-mails went out for each order id."""
    counts: Counter[str] = Counter()
    for path in directory.glob("*.log"):
        counts.update(SUBJECT.findall(path.read_text(errors="replace")))
    return counts
