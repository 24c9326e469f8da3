"""What the fault tests read back (the outbox, the notifications, the e-mails, the shop's cached token,
the logs) and what they ask the notification service directly."""

from __future__ import annotations

import pickle
import re
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import psycopg
import redis
import requests
from psycopg.rows import dict_row

from tests.faults.mailbox import sent_order_emails

ORDER_PATH = "/api/notifications/order"


def query(dsn: str, sql: str, params: tuple = ()) -> list[dict]:
    with psycopg.connect(dsn, autocommit=True, row_factory=dict_row, connect_timeout=5) as db:
        return db.execute(sql, params).fetchall()


def outbox(shop_dsn: str) -> list[dict]:
    return query(
        shop_dsn,
        "SELECT id, order_id, status, attempts, claim_token, claimed_until, delivered_at, last_error, created_at"
        " FROM shop_outboxmessage",
    )


def notifications(notifications_dsn: str) -> list[dict]:
    return query(
        notifications_dsn,
        "SELECT order_id, status, attempts, idempotency_key, token_jti, sender, created_at, sent_at"
        " FROM notifications_notification",
    )


def wait_until_delivered(shop_dsn: str, count: int, *, timeout: float) -> float:
    """Seconds until `count` outbox messages are delivered; AssertionError with the outbox's state if not."""
    started = time.monotonic()
    while True:
        statuses = Counter(row["status"] for row in query(shop_dsn, "SELECT status FROM shop_outboxmessage"))
        if statuses["delivered"] >= count:
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise AssertionError(f"after {timeout:g} s the outbox holds {dict(statuses)}, {count} expected delivered")
        time.sleep(0.5)


@dataclass(frozen=True)
class Delivery:
    """The exactly-once evidence for one run."""

    orders: int
    outbox_delivered: int
    first_attempt: int  # delivered by the after-commit thread's first try
    retried: int  # delivered by a worker after at least one failure
    max_attempts: int
    notifications: int
    emails: int
    token_ids: int  # distinct `jti` of the tokens the notifications were accepted with

    def __str__(self) -> str:
        return (
            f"{self.orders} orders, {self.notifications} notifications, {self.emails} e-mails "
            f"({self.first_attempt} delivered at the first attempt, {self.retried} retried, "
            f"at most {self.max_attempts} attempts; {self.token_ids} distinct token jti)"
        )


def assert_exactly_once(*, shop_dsn: str, notifications_dsn: str, mail_dir: Path, order_ids: list[int]) -> Delivery:
    """Every order placed has one delivered outbox message, one sent notification and one e-mail."""
    expected = {str(order_id) for order_id in order_ids}
    assert len(expected) == len(order_ids), "the shop answered the same order id twice"
    in_shop = {str(row["id"]) for row in query(shop_dsn, "SELECT id FROM shop_order")}
    assert in_shop == expected, f"orders in the shop's database differ: {len(in_shop)} vs {len(expected)} placed"

    messages = outbox(shop_dsn)
    assert Counter(str(row["order_id"]) for row in messages) == Counter(dict.fromkeys(expected, 1))
    undelivered = [row for row in messages if row["status"] != "delivered"]
    assert not undelivered, f"{len(undelivered)} outbox messages not delivered, e.g. {undelivered[:3]}"

    rows = notifications(notifications_dsn)
    per_order = Counter(row["order_id"] for row in rows)
    twice = {order: n for order, n in per_order.items() if n != 1}
    assert not twice, f"orders with more than one notification: {twice}"
    assert set(per_order) == expected, f"notifications for {len(per_order)} orders, {len(expected)} placed"
    assert {row["idempotency_key"] for row in rows} == {str(row["id"]) for row in messages}
    assert Counter(row["status"] for row in rows) == {"sent": len(expected)}
    resent = [row for row in rows if row["attempts"] != 1]
    assert not resent, f"notifications whose e-mail was tried more than once: {resent[:3]}"

    emails = sent_order_emails(mail_dir)
    duplicates = {order: n for order, n in emails.items() if n != 1}
    assert not duplicates, f"orders e-mailed more than once: {duplicates}"
    assert set(emails) == expected, f"e-mails for {len(emails)} orders, {len(expected)} placed"

    attempts = [row["attempts"] for row in messages]
    return Delivery(
        orders=len(expected),
        outbox_delivered=len(messages),
        first_attempt=sum(1 for n in attempts if n == 1),
        retried=sum(1 for n in attempts if n > 1),
        max_attempts=max(attempts, default=0),
        notifications=len(rows),
        emails=sum(emails.values()),
        token_ids=len({row["token_jti"] for row in rows}),
    )


# The service token, and the notification API called as another client would


def shop_cached_token(stack) -> str:
    """The service token every shop process uses now, as the shared cache holds it."""
    cache = redis.Redis.from_url(stack.service_env["shop"]["REDIS_URL"])
    (key,) = cache.keys("*m2m_auth:svc:*:token")
    return pickle.loads(cache.get(key))["access_token"]  # noqa: S301 - our own cache


def post_notification(stack, token: str) -> requests.Response:
    """POST an empty body with `token`: authentication runs, nothing is stored (400 at best)."""
    return requests.post(
        stack.url("notifications") + ORDER_PATH,
        json={},
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "probe"},
        timeout=(3, 10),
    )


# Logs

ACCESS_LINE = re.compile(r'"(?P<method>[A-Z]+) (?P<path>\S+) HTTP/[0-9.]+" (?P<status>\d{3}) ')


def access_log(log_path: Path, *, path: str) -> Counter[int]:
    """Status codes gunicorn logged for requests to `path`."""
    statuses: Counter[int] = Counter()
    for match in ACCESS_LINE.finditer(log_path.read_text(errors="replace")):
        if match["path"] == path:
            statuses[int(match["status"])] += 1
    return statuses


def log_count(log_path: Path, text: str) -> int:
    return log_path.read_text(errors="replace").count(text)


def as_timestamp(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None
