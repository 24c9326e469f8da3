"""A logged-in customer placing orders through the shop's API (POST /api/orders/), many at once."""

from __future__ import annotations

import secrets
import string
import threading
import time
from dataclasses import dataclass, field

import requests

# Created in the template database once per session (conftest.SEED_CUSTOMER), so every copy has it.
SESSION_COOKIE = "shop_sessionid"
CSRF_COOKIE = "shop_csrftoken"
TIMEOUT = (3, 30)


@dataclass
class OrderRun:
    """What one batch of orders got from the shop."""

    placed: list[int] = field(default_factory=list)  # ids of the orders answered with 201
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0


class Customer:
    """The seeded customer's session (cookie) and a CSRF token, as a browser would send them."""

    def __init__(self, base_url: str, *, session_key: str, product_id: int) -> None:
        self.base_url = base_url.rstrip("/")
        self.session_key = session_key
        self.product_id = product_id
        # A CSRF secret of our own: Django only checks that the cookie and the header agree.
        self.csrf = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32))

    def http(self) -> requests.Session:
        session = requests.Session()
        session.headers["Cookie"] = f"{SESSION_COOKIE}={self.session_key}; {CSRF_COOKIE}={self.csrf}"
        session.headers["X-CSRFToken"] = self.csrf
        return session

    def place_order(self, http: requests.Session) -> int:
        response = http.post(
            f"{self.base_url}/api/orders/",
            json={"items": [{"productId": self.product_id, "quantity": 1}]},
            timeout=TIMEOUT,
        )
        if response.status_code != 201:
            raise AssertionError(f"POST /api/orders/ answered {response.status_code}: {response.text[:300]}")
        return response.json()["id"]

    def start_orders(self, count: int, *, concurrency: int = 32) -> OrderBatch:
        return OrderBatch(self, count=count, concurrency=concurrency)

    def place_orders(self, count: int, *, concurrency: int = 32) -> OrderRun:
        return self.start_orders(count, concurrency=concurrency).wait()

    def place_orders_for(self, seconds: float, *, concurrency: int = 32) -> OrderRun:
        """As many orders as `concurrency` callers place in `seconds`."""
        return OrderBatch(self, count=None, concurrency=concurrency, deadline=time.monotonic() + seconds).wait()


class OrderBatch:
    """`count` orders (or orders until `deadline`) placed by `concurrency` threads in the background."""

    def __init__(
        self, customer: Customer, *, count: int | None, concurrency: int, deadline: float | None = None
    ) -> None:
        self.customer = customer
        self.run = OrderRun()
        self._remaining = count
        self._deadline = deadline
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._threads = [
            threading.Thread(target=self._caller, name=f"customer-{n}", daemon=True) for n in range(concurrency)
        ]
        for thread in self._threads:
            thread.start()

    @property
    def answered(self) -> int:
        with self._lock:
            return len(self.run.placed) + len(self.run.failures)

    def wait_answered(self, count: int, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while self.answered < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"only {self.answered} of {count} orders answered after {timeout} s")
            time.sleep(0.05)

    def wait(self, timeout: float = 300) -> OrderRun:
        for thread in self._threads:
            thread.join(timeout)
        self.run.seconds = time.monotonic() - self._started
        return self.run

    def _take(self) -> bool:
        with self._lock:
            if self._deadline is not None:
                return time.monotonic() < self._deadline
            if self._remaining <= 0:
                return False
            self._remaining -= 1
            return True

    def _caller(self) -> None:
        http = self.customer.http()
        while self._take():
            try:
                order_id = self.customer.place_order(http)
            except (AssertionError, requests.RequestException, ValueError) as exc:
                with self._lock:
                    self.run.failures.append(f"{type(exc).__name__}: {exc}")
            else:
                with self._lock:
                    self.run.placed.append(order_id)
