"""End-to-end benchmark: orders/s from checkout to stored notification, and what delivery adds to checkout.

The shop runs in this process (Django test client on `POST /api/orders/`, SQLite on /dev/shm); the
notification service runs under gunicorn in a child process with its own database; the shop's
service token comes from a local token endpoint issuing JWTs that the notification service checks
against a local JWKS (Keycloak itself is asked once per token lifetime, so it does not shape
these figures; the fault tests and the integration tests use the real one).

Two measurements:
1. Checkout latency, interleaved rounds: delivery tried after commit in a background thread
   (`SHOP_NOTIFY_AFTER_COMMIT="thread"`, the default) vs left to the worker (`"off"`). Target: the
   thread adds nothing to checkout, since delivery happens after the commit, off the request.
   Each delivery finishes before the next checkout is timed.
2. Throughput: N orders placed from 4 threads; the time from the first checkout to the last
   notification stored gives orders/s end to end. A PNG chart of both goes to bench/results/.

Run: `.venv/bin/python bench/end_to_end.py [--quick]`
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

ROOT = _common.REPO_ROOT
RESULTS = _common.RESULTS_DIR


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class NotificationService:
    """The notification service under gunicorn, on its own SQLite database."""

    def __init__(self, workdir: Path, keycloak_url: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.var_dir = workdir / "notifications"
        self.var_dir.mkdir()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "KEYCLOAK_", "M2M_AUTH_", "OTEL_"))},
            "DJANGO_SETTINGS_MODULE": "config.settings.notifications",
            "DJANGO_SECRET_KEY": "insecure-bench-only-key-" + "y" * 40,
            "DJANGO_VAR_DIR": str(self.var_dir),
            "DJANGO_LOG_LEVEL": "WARNING",
            "DJANGO_EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
            "KEYCLOAK_URL": keycloak_url,
        }
        python = sys.executable
        subprocess.run([python, "manage.py", "migrate", "--verbosity", "0"], env=env, cwd=ROOT, check=True)  # noqa: S603
        self.log = (workdir / "gunicorn.log").open("wb")
        self.process = subprocess.Popen(  # noqa: S603
            [
                str(Path(python).with_name("gunicorn")),
                f"--bind=127.0.0.1:{self.port}",
                "--workers=2",
                "--threads=4",
                "--no-control-socket",
                "django.core.wsgi:get_wsgi_application()",
            ],
            env=env,
            cwd=ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        import requests

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/admin/login/", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not start")

    def stored_times(self, order_ids: set[str]) -> list[float]:
        """When each of these orders' notifications was stored (epoch seconds), from the service's database."""
        with sqlite3.connect(self.var_dir / "notifications.sqlite3", timeout=20) as db:
            rows = db.execute(
                "SELECT order_id, created_at FROM notifications_notification WHERE status = 'sent'"
            ).fetchall()
        rows = [(created,) for order_id, created in rows if order_id in order_ids]
        from datetime import datetime

        return sorted(datetime.fromisoformat(value).timestamp() for (value,) in rows)

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=30)
        self.log.close()


def configure_shop(service: NotificationService, jwks_url: str, token_url: str) -> None:
    from django.test.utils import override_settings

    override_settings(
        NOTIFICATION_URL=service.url,
        M2M_AUTH={
            "KEYCLOAK_URL": jwks_url,
            "CLIENT_ID": "shop-api",
            "CLIENT_SECRET": "bench-secret",
            "AUDIENCE": "notification-service",
        },
    ).enable()
    from m2m_auth import tokens

    tokens._default_client = tokens.build_token_client(token_url=token_url)


def customer_client(name: str):
    from django.contrib.auth import get_user_model
    from django.test import Client

    user = get_user_model().objects.create_user(name, email=f"{name}@example.com")
    client = Client()
    client.force_login(user)
    return client, user


def checkout(client, product_id: int) -> None:
    response = client.post(
        "/api/orders/", {"items": [{"productId": product_id, "quantity": 1}]}, content_type="application/json"
    )
    if response.status_code != 201:
        raise RuntimeError(f"checkout answered {response.status_code}: {response.content[:200]!r}")


def wait_delivered(user, timeout: float = 120) -> None:
    """Until every outbox message of `user`'s orders is delivered (threads run after commit)."""
    from shop.models import OutboxMessage

    deadline = time.monotonic() + timeout
    while OutboxMessage.objects.filter(order__user=user).exclude(status="delivered").exists():
        if time.monotonic() > deadline:
            raise RuntimeError("deliveries did not finish")
        time.sleep(0.05)


def measure_latency(product_id: int, *, rounds: int, ops: int) -> dict[str, list[float]]:
    """Checkout seconds per order, median per round, rounds interleaved: delivery by a thread after
    commit vs left to the worker. Each order's delivery finishes (untimed) before the next checkout,
    so what is timed is the checkout itself, not its competition with earlier deliveries; the
    throughput run shows the saturated case."""
    from django.test.utils import override_settings

    customers = {"thread": customer_client("thread-customer"), "off": customer_client("worker-customer")}
    samples: dict[str, list[float]] = {name: [] for name in customers}
    for number in range(rounds):
        order = list(customers) if number % 2 == 0 else list(reversed(customers))
        for name in order:
            client, user = customers[name]
            with override_settings(SHOP_NOTIFY_AFTER_COMMIT=name):
                checkout(client, product_id)  # warm-up
                wait_delivered(customers["thread"][1])
                times = []
                for _ in range(ops):
                    started = time.perf_counter()
                    checkout(client, product_id)
                    times.append(time.perf_counter() - started)
                    wait_delivered(customers["thread"][1])
            samples[name].append(statistics.median(times))
        print(f"  round {number + 1}/{rounds}", file=sys.stderr, flush=True)
    return samples


def measure_throughput(product_id: int, *, orders: int, threads: int) -> tuple[list[float], float, set[str]]:
    """Orders from `threads` customers at once: checkout end times, the first start, the order ids."""
    from django.db import connection
    from django.test.utils import override_settings

    from shop.models import Order, OutboxMessage

    override_settings(SHOP_NOTIFY_AFTER_COMMIT="thread").enable()
    clients = [customer_client(f"load-{n}") for n in range(threads)]
    placed: list[float] = []
    lock = threading.Lock()
    started = time.time()

    def place(client) -> None:
        for _ in range(orders // threads):
            checkout(client, product_id)
            with lock:
                placed.append(time.time())
        connection.close()

    workers = [threading.Thread(target=place, args=(client,)) for client, _ in clients]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    # Past the after-commit threads' queue bound, messages wait for the worker, as in production.
    from django.core.management import call_command

    pending = OutboxMessage.objects.exclude(status="delivered").filter(order__user__in=[u for _, u in clients])
    deadline = time.monotonic() + 300
    while pending.exists() and time.monotonic() < deadline:
        call_command("deliver_notifications", "--once", stdout=io.StringIO())
        time.sleep(0.2)
    for _, user in clients:
        wait_delivered(user, timeout=10)
    order_ids = {str(pk) for pk in Order.objects.filter(user__in=[u for _, u in clients]).values_list("pk", flat=True)}
    return sorted(placed), started, order_ids


def draw_chart(path: Path, latency: dict[str, list[float]], placed: list[float], stored: list[float], start: float):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    left.plot([t - start for t in placed], range(1, len(placed) + 1), label="orders placed (checkout done)")
    left.plot([t - start for t in stored], range(1, len(stored) + 1), label="notifications stored")
    left.set_xlabel("seconds since the first checkout")
    left.set_ylabel("count")
    left.set_title("End to end: orders and their notifications")
    left.legend()
    labels = {"thread": "delivery after commit\n(thread)", "off": "delivery by the worker\n(off)"}
    right.boxplot([[s * 1000 for s in latency[name]] for name in labels], tick_labels=list(labels.values()))
    right.set_ylabel("checkout latency, ms (median per round)")
    right.set_title("What delivery adds to checkout")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small batches: a smoke run")
    parser.add_argument("--orders", type=int, default=None, help="orders in the throughput run (default 400)")
    arguments = parser.parse_args()
    rounds, ops = (3, 20) if arguments.quick else (7, 60)
    orders = arguments.orders or (80 if arguments.quick else 400)

    workdir = _common.setup_django("config.settings.test")
    from decimal import Decimal

    from shop.models import Product
    from tests.conftest import service_claims
    from tests.jwks_server import JWKSServer, SigningKey
    from tests.token_server import TokenServer

    key = SigningKey.generate()
    jwks = JWKSServer()
    jwks.start()
    jwks.serve_keys(key)
    issuer = f"{jwks.base_url}/realms/techstore"
    token_server = TokenServer(token_factory=lambda number: key.sign(service_claims(issuer))).start()
    service = NotificationService(workdir, jwks.base_url)
    try:
        configure_shop(service, jwks.base_url, token_server.url)
        product = Product.objects.create(sku="BENCH-1", name="Bench keyboard", price=Decimal("10.00"))
        print(f"checkout latency: {rounds} rounds x {ops} orders per variant...", file=sys.stderr, flush=True)
        latency = measure_latency(product.pk, rounds=rounds, ops=ops)
        print(f"throughput: {orders} orders from 4 threads...", file=sys.stderr, flush=True)
        placed, start, order_ids = measure_throughput(product.pk, orders=orders, threads=4)
        stored = service.stored_times(order_ids)
        report(latency, placed, stored, start, token_requests=token_server.count, jwks_fetches=jwks.requests)
        chart = RESULTS / "end_to_end.png"
        draw_chart(chart, latency, placed, stored, start)
        print(f"chart: {chart}")
    finally:
        service.stop()
        token_server.stop()
        jwks.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def report(latency, placed, stored, start, *, token_requests: int, jwks_fetches: int) -> None:
    thread_ms = statistics.median(latency["thread"]) * 1000
    off_ms = statistics.median(latency["off"]) * 1000
    ratio = _common.compare(latency["thread"], latency["off"])
    rows = [
        ["checkout, delivery after commit (thread)", f"{thread_ms:.2f}"],
        ["checkout, delivery left to the worker", f"{off_ms:.2f}"],
    ]
    print(_common.format_table(["checkout latency (median of round medians)", "ms"], rows))
    print(
        f"\nadded checkout latency from delivery: {thread_ms - off_ms:+.2f} ms "
        f"(ratio {ratio['value']:.3f}, rounds {ratio['rounds_min']:.3f}-{ratio['rounds_max']:.3f}); "
        f"target: none -> {'PASS' if ratio['value'] <= 1.05 else 'MISS'} (within 5 %)"
    )
    placing = placed[-1] - start
    end_to_end = stored[-1] - start if stored else float("nan")
    print(
        f"\nthroughput: {len(placed)} orders placed in {placing:.1f} s ({len(placed) / placing:.0f} orders/s); "
        f"{len(stored)} notifications stored {end_to_end:.1f} s after the first checkout "
        f"({len(stored) / end_to_end:.0f} orders/s end to end)"
    )
    print(f"token-endpoint requests: {token_requests}; JWKS fetches by the notification service: {jwks_fetches}")
    _common.write_json(
        RESULTS / "end_to_end.json",
        {
            "benchmark": "end_to_end",
            "checkout_ms": {"thread": thread_ms, "off": off_ms},
            "ratio_thread_over_off": ratio,
            "orders": len(placed),
            "notifications_stored": len(stored),
            "seconds_placing": placing,
            "seconds_end_to_end": end_to_end,
            "token_requests": token_requests,
            "jwks_fetches": jwks_fetches,
        },
    )


if __name__ == "__main__":
    sys.exit(main())
