"""Keycloak stopped and started again mid-run: a new realm import, hence new signing keys.

While Keycloak is down, the shop's cached token and the notification service's known keys carry
the orders. After the restart, once the notification service has learnt the new key set (here
from another client's tokens), the shop's old token is refused with 401 `invalid_token`; the shop
evicts it, fetches one new token for all its processes and sends the request again.
"""

from __future__ import annotations

import time

import pytest

from tests.faults import keycloak_control
from tests.faults.observe import ORDER_PATH, access_log, log_count, post_notification, shop_cached_token
from tests.keycloak_server import decode_unverified

pytestmark = [pytest.mark.faults, pytest.mark.keycloak]

# Calls of the other client after the restart: enough for each notification process to see one.
PROBES = 30


def test_orders_survive_a_keycloak_restart_that_replaces_the_signing_keys(
    techstore, restartable_keycloak, fault_report
):
    keycloak = restartable_keycloak
    techstore.start()
    customer, stack = techstore.customer, techstore.stack
    old_kids = keycloak_control.signing_kids(keycloak)

    before = customer.place_orders(100)
    techstore.wait_until_delivered(100, timeout=60)
    old_token = shop_cached_token(stack)

    # Keycloak stops while orders come in, and stays down for the next ones.
    during = customer.start_orders(50)
    during.wait_answered(10)
    keycloak_control.stop(keycloak)
    down_at = time.monotonic()
    while_down = customer.place_orders(50)
    runs = [before, during.wait(), while_down]
    delivered_while_down = techstore.wait_until_delivered(200, timeout=120)
    assert not keycloak_control.is_ready(keycloak.url)

    restart_seconds = keycloak_control.start_again(keycloak)
    downtime = time.monotonic() - down_at
    new_kids = keycloak_control.signing_kids(keycloak)
    assert new_kids and not new_kids & old_kids, "a restart imports the realm again, with new keys"
    back_at = time.time()

    # Another client calls with tokens signed by the new key: the notification service fetches the
    # new key set (the client is authenticated, then refused: it may not send notifications).
    other_client = keycloak.service_token("reporting-job")
    probes = [post_notification(stack, other_client) for _ in range(PROBES)]
    assert {(probe.status_code, probe.json()["code"]) for probe in probes} == {(403, "missing_role")}

    runs.append(customer.place_orders(100))
    assert [run.failures for run in runs] == [[], [], [], []]
    order_ids = [order_id for run in runs for order_id in run.placed]
    settled = techstore.wait_until_delivered(300, timeout=120)
    delivery = techstore.assert_exactly_once(order_ids)

    # The old token was refused, evicted and replaced by one new token for every process. Two
    # processes that get their 401 at the same moment may both evict it (TokenClient.invalidate
    # compares, then deletes: two steps); the single-flight lock still makes it one new token,
    # unless an eviction comes so late that it deletes the new one: a second token, at worst.
    statuses = access_log(techstore.log("notifications"), path=ORDER_PATH)
    evictions = sum(log_count(path, "after a 401.") for path in techstore.shop_logs())
    new_tokens = techstore.shop_keycloak.token_requests(since=back_at)
    assert statuses[401] >= 1, statuses
    assert evictions >= 1
    assert 1 <= len(new_tokens) <= 2
    assert decode_unverified(shop_cached_token(stack))["iat"] >= back_at - 1
    refused = post_notification(stack, old_token)
    assert (refused.status_code, refused.json()["code"]) == (401, "unknown_key")
    assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]

    jwks = techstore.notifications_keycloak.jwks_requests()
    fault_report(
        f"{delivery}; Keycloak down {downtime:.1f} s (its restart took {restart_seconds:.1f} s); the 100 orders "
        f"placed as it stopped and while it was down were delivered in {delivered_while_down:.1f} s with the "
        f"cached token; after the restart: {statuses[401]} answer(s) 401 to the old token, {evictions} eviction(s), "
        f"{len(new_tokens)} new token(s), all delivered {settled:.1f} s after the last order; JWKS fetched "
        f"{len(jwks)} times in all; shop token requests {len(techstore.shop_keycloak.token_requests())}"
    )
