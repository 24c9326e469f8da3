"""A delivery worker killed (SIGKILL) in the middle of a delivery: its claims expire and are retried.

To catch the worker mid-delivery for sure, the notification service is frozen (SIGSTOP) when the
worker claims its batch: the worker's first call is then sent and waits for an answer. The worker
is killed in that state, holding a claim on every row of its batch; the frozen service then
resumes and handles the request the dead worker sent.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest

from tests.faults.observe import as_timestamp, notifications, outbox, query

pytestmark = [pytest.mark.faults, pytest.mark.keycloak]

ORDERS = 100
BATCH = 50  # deliver_notifications' default --batch
LEASE = 60.0  # shop.conf's SHOP_OUTBOX_LEASE default


def claimed_rows(techstore) -> list[dict]:
    sql = "SELECT id, claim_token, claimed_until FROM shop_outboxmessage WHERE claim_token IS NOT NULL"
    return query(techstore.shop_dsn, sql)


def wait_for(condition, *, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:g} s")
        time.sleep(0.1)
    return result


def test_rows_claimed_by_a_killed_worker_are_delivered_once_after_the_lease(techstore, fault_report):
    techstore.start(delivery_workers=0)
    customer, stack = techstore.customer, techstore.stack

    # Orders whose first delivery fails fast (nothing listens): all wait in the outbox for a worker.
    stack.stop("notifications")
    run = customer.place_orders(ORDERS)
    assert run.failures == []
    wait_for(
        lambda: Counter(row["status"] for row in outbox(techstore.shop_dsn)) == {"failed": ORDERS},
        timeout=60,
        what="every first delivery attempt failed",
    )
    stack.restart("notifications")
    due_at = max(row["next_attempt_at"] for row in query(techstore.shop_dsn, "SELECT * FROM shop_outboxmessage"))
    time.sleep(max(0.0, due_at.timestamp() - time.time()) + 0.5)

    # One worker claims a batch and sends its first request into the frozen service.
    stack.pause("notifications")  # accepts connections, answers nothing
    (victim,) = stack.start_workers(1, interval=1.0)
    wait_for(
        lambda: len(claimed_rows(techstore)) >= BATCH,
        timeout=60,
        what="the worker claimed a batch",
    )
    # Right before its call, the worker renews the claim of the message it sends (a later lease).
    wait_for(lambda: len({row["claimed_until"] for row in claimed_rows(techstore)}) > 1, timeout=30, what="a call")
    time.sleep(0.5)  # the request is on the wire: the token comes from the cache, the POST follows
    claims = claimed_rows(techstore)
    assert len({row["claim_token"] for row in claims}) == 1
    stack.kill(victim.name)  # SIGKILL: no clean-up, the claims stay
    killed_at = time.time()
    lease_ends = {row["id"]: row["claimed_until"].timestamp() for row in claims}
    claimed_ids = set(lease_ends)

    stack.resume("notifications")
    stack.restart(victim.name)  # two workers again, as in production
    stack.start_workers(1, interval=1.0)
    techstore.wait_until_delivered(ORDERS, timeout=LEASE + 90)
    settled = time.time() - killed_at

    order_ids = run.placed
    delivery = techstore.assert_exactly_once(order_ids)
    messages = {row["id"]: row for row in outbox(techstore.shop_dsn)}
    reclaimed = [messages[message_id] for message_id in claimed_ids]
    # Nobody touched the dead worker's rows before their lease ran out; then they went out once more.
    assert all(as_timestamp(row["delivered_at"]) >= lease_ends[row["id"]] for row in reclaimed)
    assert {row["attempts"] for row in reclaimed} == {3}  # after commit, the killed worker, the retry
    # The request the killed worker had sent was handled when the service resumed (a notification
    # created long before its outbox row counted as delivered); the retry was answered as a replay.
    created = {row["idempotency_key"]: row["created_at"] for row in notifications(techstore.notifications_dsn)}
    early = [
        message_id
        for message_id in claimed_ids
        if created[str(message_id)].timestamp() < messages[message_id]["delivered_at"].timestamp() - LEASE / 2
    ]
    assert len(early) == 1, f"expected the dead worker's in-flight request to have reached the service: {early}"
    fault_report(
        f"{delivery}; the killed worker held {len(claimed_ids)} claims (1 request in flight, handled on resume); "
        f"they were delivered {min(as_timestamp(row['delivered_at']) for row in reclaimed) - killed_at:.1f} s "
        f"after the kill (lease {LEASE:g} s); all delivered {settled:.1f} s after the kill"
    )
