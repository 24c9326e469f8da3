"""Load: 32 customers ordering for longer than a token lifetime, 4 shop processes x 8 threads.

Counted at Keycloak's door (the counting proxies): the shop's processes and workers ask Keycloak's
token endpoint once per renewal of their one shared token, whatever the number of requests, and the
notification service fetches the JWKS once per start.
"""

from __future__ import annotations

import time
from itertools import pairwise

import pytest

pytestmark = [pytest.mark.faults, pytest.mark.load, pytest.mark.keycloak]

LIFESPAN = 20  # seconds, the realm's access token lifespan for this test (300 otherwise)
DURATION = 30.0  # seconds of load: one and a half lifetimes (the deliveries go on some 25 s longer)
# The token client renews half a lifetime before expiry (capped by TOKEN_RENEW_BEFORE = 60 s), up to
# 20 % of that earlier at random: a 20 s token is renewed 8 to 10 s after it was issued.
EARLIEST_RENEWAL = LIFESPAN - LIFESPAN * 0.5 * 1.2
NOTIFICATION_PROCESSES = 3


def test_token_endpoint_is_asked_once_per_renewal_and_jwks_once_under_load(techstore, keycloak, fault_report):
    keycloak.set_access_token_lifespan(LIFESPAN)
    try:
        techstore.start(shop_workers=4, shop_threads=8, notifications_workers=NOTIFICATION_PROCESSES)
        run = techstore.customer.place_orders_for(DURATION, concurrency=32)
        load_ended = time.time()
        assert run.failures == []
        settled = techstore.wait_until_delivered(len(run.placed), timeout=300)
    finally:
        keycloak.set_access_token_lifespan(300)
    delivery = techstore.assert_exactly_once(run.placed)

    tokens = techstore.shop_keycloak.token_requests(answered=False)
    assert all(seen.status == 200 for seen in tokens), [seen.status for seen in tokens]
    gaps = [later.at - earlier.at for earlier, later in pairwise(tokens)]
    span = tokens[-1].at - tokens[0].at
    # One request per renewal for all 32 + 16 threads of the shop and both workers, not one per process
    # or per request. One spare: a process that read the old token just before another stored the new
    # one may still win the renewal lock after it (TokenClient._renew_ahead does not look again).
    assert len(tokens) <= 2 + span / EARLIEST_RENEWAL, gaps
    assert delivery.token_ids <= len(tokens)
    assert len(tokens) >= 1 + int(DURATION / LIFESPAN)  # the load outlived the first tokens

    jwks = techstore.notifications_keycloak.jwks_requests(answered=False)
    assert 1 <= len(jwks) <= NOTIFICATION_PROCESSES, "at most one JWKS fetch per process start"

    fault_report(
        f"{delivery}; {len(run.placed)} orders in {run.seconds:.1f} s ({len(run.placed) / run.seconds:.0f}/s, "
        f"32 callers), all delivered {settled:.1f} s after the load ({time.time() - load_ended:.1f} s in all); "
        f"{len(tokens)} token requests in {span:.1f} s with {LIFESPAN} s tokens (gaps "
        f"{', '.join(f'{gap:.1f}' for gap in gaps)} s); {len(jwks)} JWKS fetch(es) for "
        f"{NOTIFICATION_PROCESSES} notification processes"
    )
