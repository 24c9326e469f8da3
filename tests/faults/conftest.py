"""The production-like stack (scripts/stack/) for the fault and load tests, with the session's real
Keycloak (the `keycloak` fixture of tests/conftest.py).

One PostgreSQL cluster and one Redis serve the whole session; each test gets fresh copies of the
migrated databases, an empty cache, its own gunicorn services and workers, its own mailbox and logs,
and two counting proxies: one through which the shop and its workers reach Keycloak, one for the
notification service.
"""

from __future__ import annotations

import itertools
import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from scripts.stack import Stack, missing_programs
from tests.faults import keycloak_control
from tests.faults.counting_proxy import CountingProxy
from tests.faults.observe import Delivery, assert_exactly_once, wait_until_delivered
from tests.faults.shop_client import Customer
from tests.keycloak_server import Keycloak, is_ready

IN_CI = os.environ.get("CI", "").lower() in ("1", "true")

# Run once in the template databases: the customer, a product, and a logged-in session.
SEED = """
import json
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.sessions.backends.db import SessionStore
from shop.models import Product

user = get_user_model().objects.create_user("customer", email="customer@example.com")
product = Product.objects.create(sku="FAULT-1", name="Fault-tolerant cable", price="9.99")
session = SessionStore()
session.update({
    SESSION_KEY: str(user.pk),
    BACKEND_SESSION_KEY: "django.contrib.auth.backends.ModelBackend",
    HASH_SESSION_KEY: user.get_session_auth_hash(),
})
session.create()
print(json.dumps({"session_key": session.session_key, "product_id": product.pk}))
"""

REPORT = pytest.StashKey[list[str]]()


def _unavailable(reason: str) -> None:
    """In CI a missing prerequisite fails the run; elsewhere the tests are skipped, saying why."""
    if IN_CI:
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def stack_base(request, tmp_path_factory) -> Iterator[tuple[Stack, dict]]:
    """PostgreSQL with the migrated, seeded databases, and Redis; no service runs yet."""
    missing = missing_programs()
    if missing:
        _unavailable(f"the fault tests need the Debian package(s) {', '.join(missing)} (apt-get install ...)")
    server: Keycloak = request.getfixturevalue("keycloak")
    workdir = tmp_path_factory.mktemp("stack")
    stack = Stack(
        workdir,
        inherit_config=False,
        env={
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_DEBUG": "false",
            "DJANGO_LOG_LEVEL": "INFO",
            "DJANGO_VAR_DIR": str(workdir / "django"),
            "DJANGO_EMAIL_BACKEND": "tests.faults.mailbox.EmailBackend",
            "FAULTS_MAIL_DIR": str(workdir / "mail"),
            "KEYCLOAK_URL": server.url,
            "KEYCLOAK_PUBLIC_URL": server.public_url,
            "KEYCLOAK_REALM": "techstore",
            "KEYCLOAK_CLIENT_ID": "shop-api",
            "KEYCLOAK_CLIENT_SECRET": server.secrets["SHOP_API_CLIENT_SECRET"],
            "SHOP_WEB_CLIENT_SECRET": server.secrets["SHOP_WEB_CLIENT_SECRET"],
        },
    )
    try:
        stack.start_postgres()
        stack.start_redis()
        stack.prepare()
        seed = json.loads(stack.manage("shop", "shell", "--command", SEED).strip().splitlines()[-1])
        yield stack, seed
    finally:
        stack.close()


_copies = itertools.count(1)


@dataclass
class TechStore:
    """The stack as one test sees it."""

    stack: Stack
    keycloak: Keycloak
    customer: Customer
    mail_dir: Path
    shop_keycloak: CountingProxy  # Keycloak as the shop's web processes and workers reach it
    notifications_keycloak: CountingProxy  # Keycloak as the notification service reaches it

    def start(
        self,
        *,
        shop_workers: int = 4,
        shop_threads: int = 8,
        notifications_workers: int = 3,
        notifications_threads: int = 4,
        delivery_workers: int = 2,
    ) -> None:
        stack = self.stack
        stack.start_service("notifications", workers=notifications_workers, threads=notifications_threads, wait=False)
        stack.start_service("shop", workers=shop_workers, threads=shop_threads, wait=False)
        self.stack.wait_ready("notifications")
        self.stack.wait_ready("shop")
        if delivery_workers:
            self.stack.start_workers(delivery_workers, interval=1.0)

    @property
    def shop_dsn(self) -> str:
        return self.stack.env["SHOP_DATABASE_URL"]

    @property
    def notifications_dsn(self) -> str:
        return self.stack.env["NOTIFICATIONS_DATABASE_URL"]

    def log(self, name: str) -> Path:
        return self.stack.processes[name].log_path

    def shop_logs(self) -> list[Path]:
        """The logs of every process that calls the notification service: the shop and its workers."""
        processes = self.stack.processes
        return [process.log_path for name, process in processes.items() if name == "shop" or "worker" in name]

    def wait_until_delivered(self, count: int, *, timeout: float = 180) -> float:
        return wait_until_delivered(self.shop_dsn, count, timeout=timeout)

    def assert_exactly_once(self, order_ids: list[int]) -> Delivery:
        return assert_exactly_once(
            shop_dsn=self.shop_dsn,
            notifications_dsn=self.notifications_dsn,
            mail_dir=self.mail_dir,
            order_ids=order_ids,
        )


@pytest.fixture
def techstore(stack_base, keycloak, tmp_path) -> Iterator[TechStore]:
    """Fresh databases, cache, mailbox, logs and Keycloak proxies; `start()` runs the services."""
    stack, seed = stack_base
    stack.copy_databases(str(next(_copies)))
    stack.flush_redis()
    stack.log_dir = tmp_path / "logs"
    mail_dir = tmp_path / "mail"
    stack.env["FAULTS_MAIL_DIR"] = str(mail_dir)
    shop_proxy, notifications_proxy = CountingProxy(keycloak.url), CountingProxy(keycloak.url)
    stack.service_env["shop"]["KEYCLOAK_URL"] = shop_proxy.url
    stack.service_env["notifications"]["KEYCLOAK_URL"] = notifications_proxy.url
    customer = Customer(stack.url("shop"), session_key=seed["session_key"], product_id=seed["product_id"])
    try:
        yield TechStore(stack, keycloak, customer, mail_dir, shop_proxy, notifications_proxy)
    finally:
        for name in [name for name in stack.processes if name not in ("postgres", "redis")]:
            stack.remove(name)
        shop_proxy.close()
        notifications_proxy.close()


@pytest.fixture
def restartable_keycloak(keycloak) -> Iterator[Keycloak]:
    """The session's Keycloak, which this test may stop; it answers again when the test ends."""
    if keycloak.process is None:
        _unavailable(f"the Keycloak at {keycloak.url} was not started by this test run: it cannot be restarted")
    yield keycloak
    if not is_ready(keycloak.url):
        keycloak.stop()
        keycloak_control.start_again(keycloak)


@pytest.fixture
def fault_report(request):
    """`fault_report(text)`: a measured result, printed in the summary at the end of the run."""
    lines = request.config.stash.setdefault(REPORT, [])

    def report(text: str) -> None:
        lines.append(f"{request.node.name}: {text}")

    return report


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    lines = config.stash.get(REPORT, [])
    if lines:
        terminalreporter.section("fault and load tests: what they measured")
        for line in lines:
            terminalreporter.write_line(line)
