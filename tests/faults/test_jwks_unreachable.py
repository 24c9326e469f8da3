"""The JWKS endpoint unreachable (Keycloak stopped): the notification service keeps serving with the
keys it knows, even in processes started during the outage, and valid cached tokens still pass."""

from __future__ import annotations

import time

import pytest

from tests.faults import keycloak_control
from tests.faults.observe import log_count, post_notification, shop_cached_token
from tests.jwks_server import SigningKey
from tests.keycloak_server import decode_unverified

pytestmark = [pytest.mark.faults, pytest.mark.keycloak]


def test_known_keys_keep_serving_while_the_jwks_endpoint_is_unreachable(techstore, restartable_keycloak, fault_report):
    keycloak = restartable_keycloak
    techstore.start()
    customer, stack = techstore.customer, techstore.stack
    warm = customer.place_orders(50)
    techstore.wait_until_delivered(50, timeout=60)
    fetched_before = len(techstore.notifications_keycloak.jwks_requests())

    keycloak_control.stop(keycloak)
    down_at = time.time()
    # New notification-service processes: nothing in memory, the keys come from the shared cache.
    stack.restart("notifications")

    # A token with a kid nobody knows makes the service try the JWKS endpoint: that fails, the
    # token is refused, and the keys already known stay.
    claims = decode_unverified(shop_cached_token(stack))
    forged = SigningKey.generate("not-a-realm-key").sign(claims)
    refused = post_notification(stack, forged)
    assert (refused.status_code, refused.json()["code"]) == (401, "unknown_key")

    outage = customer.place_orders(100)
    assert [warm.failures, outage.failures] == [[], []]
    delivered_in = techstore.wait_until_delivered(150, timeout=60)
    assert not keycloak_control.is_ready(keycloak.url), "Keycloak came back during the test"
    delivery = techstore.assert_exactly_once(warm.placed + outage.placed)

    attempts = techstore.notifications_keycloak.jwks_requests(since=down_at, answered=False)
    assert [seen.status for seen in attempts] == [None], "one JWKS fetch attempt, unanswered"
    assert log_count(techstore.log("notifications"), "keeping the keys already known") == 1

    restart_seconds = keycloak_control.start_again(keycloak)
    fault_report(
        f"{delivery}; with Keycloak stopped and the notification service restarted: 100 orders delivered in "
        f"{delivered_in:.1f} s, {len(attempts)} JWKS fetch attempt (unanswered, for the forged kid), "
        f"{fetched_before} JWKS fetch before the outage; Keycloak restarted in {restart_seconds:.1f} s"
    )
