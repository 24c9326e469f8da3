"""Orders placed while the notification service is down: each is notified once, when it is back."""

from __future__ import annotations

import time

import pytest

pytestmark = [pytest.mark.faults, pytest.mark.keycloak]

OUTAGE = 8.0  # seconds the notification service stays down, at the least


def test_every_order_is_notified_once_across_a_notification_service_outage(techstore, fault_report):
    techstore.start()
    customer, stack = techstore.customer, techstore.stack

    # 100 orders with everything up, 100 while the notification service stops and stays down,
    # 100 while it starts again: 32 customers' requests at a time throughout.
    before = customer.place_orders(100)
    during = customer.start_orders(100)
    during.wait_answered(10)
    stack.stop("notifications")  # SIGTERM: gunicorn finishes the requests it holds, then exits
    down_at = time.monotonic()
    during_run = during.wait()
    time.sleep(max(0.0, OUTAGE - (time.monotonic() - down_at)))
    after = customer.start_orders(100)
    after.wait_answered(10)
    stack.restart("notifications")
    downtime = time.monotonic() - down_at
    after_run = after.wait()

    runs = [before, during_run, after_run]
    assert [run.failures for run in runs] == [[], [], []]
    order_ids = [order_id for run in runs for order_id in run.placed]
    assert len(order_ids) == 300
    settled = techstore.wait_until_delivered(300, timeout=180)

    delivery = techstore.assert_exactly_once(order_ids)
    assert delivery.retried > 0, "no delivery failed: the outage did not happen while orders were delivered"
    fault_report(
        f"{delivery}; notification service down {downtime:.1f} s; orders placed in "
        f"{before.seconds:.1f} + {during_run.seconds:.1f} + {after_run.seconds:.1f} s; "
        f"all delivered {settled:.1f} s after the last order"
    )
