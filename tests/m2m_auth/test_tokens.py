"""The token client: one request per token lifetime, renewal ahead of expiry, failures contained."""

import logging
import threading

import pytest
from django.core.cache import caches

from m2m_auth.tokens import TokenEndpointError
from tests.token_server import TokenServer, build_client

SECRET = "s3cr3t-value-never-logged"


class Clock:
    def __init__(self, now: float = 1_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def _server_process():
    server = TokenServer().start()
    yield server
    server.stop()


@pytest.fixture
def server(_server_process):
    _server_process.reset()
    caches["default"].clear()
    yield _server_process
    caches["default"].clear()


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def make_client(server, clock):
    def make(**options):
        defaults = {"token_url": server.url, "client_id": "shop-api", "client_secret": SECRET, "clock": clock}
        return build_client(**{**defaults, **options})

    return make


def test_reuses_one_token_for_many_calls(make_client, server):
    client = make_client()
    assert {client.get_token() for _ in range(100)} == {"token-1"}
    assert server.count == 1


def test_processes_sharing_the_cache_share_the_token(make_client, server):
    assert make_client().get_token() == make_client().get_token() == "token-1"
    assert server.count == 1


@pytest.mark.parametrize(("lifetime", "buffer"), [(5, 2.5), (30, 15), (300, 60)])
def test_renews_before_expiry_with_a_buffer_capped_by_the_lifetime(make_client, server, clock, lifetime, buffer):
    server.expires_in = lifetime
    client = make_client(renew_jitter=0)
    start = clock.now
    client.get_token()
    clock.now = start + lifetime - buffer - 0.01
    assert client.get_token() == "token-1"
    clock.now = start + lifetime - buffer + 0.01
    assert client.get_token() == "token-2"
    assert server.count == 2


def test_renewal_times_are_spread_by_jitter(make_client, server, clock):
    renew_times = {make_client()._schedule("t", 300, clock.now).renew_at for _ in range(50)}
    assert len(renew_times) > 40
    assert min(renew_times) >= clock.now + 300 - 60 - 12
    assert max(renew_times) <= clock.now + 300 - 60


@pytest.mark.parametrize("expires_in", [..., None, "soon", -5, 0, True, 10**9, float("nan")])
def test_odd_expires_in_gets_the_default_lifetime(make_client, server, clock, expires_in):
    server.expires_in = expires_in if expires_in is ... or not isinstance(expires_in, float) else "nan"
    client = make_client(default_lifetime=60, renew_jitter=0)
    start = clock.now
    client.get_token()
    clock.now = start + 29
    client.get_token()
    assert server.count == 1  # cached, not fetched on every call
    clock.now = start + 31
    client.get_token()
    assert server.count == 2  # and not kept forever


def test_inside_the_renewal_window_others_use_the_current_token_without_waiting(make_client, server, clock):
    server.expires_in = 300
    client = make_client(renew_jitter=0)
    first = client.get_token()
    clock.now += 250  # inside the window, still valid
    server.gate = threading.Event()
    renewer = threading.Thread(target=client.get_token)
    renewer.start()
    while server.count < 2:
        threading.Event().wait(0.01)
    # The renewal is in flight and blocked at the server: other callers are not.
    others = [client.get_token() for _ in range(20)]
    assert others == [first] * 20
    server.gate.set()
    renewer.join()
    assert client.get_token() == "token-2"
    assert server.count == 2


def test_a_failed_renewal_keeps_the_valid_token_until_its_hard_expiry(make_client, server, clock):
    client = make_client(renew_jitter=0)
    start = clock.now
    client.get_token()
    server.status = 503
    clock.now = start + 250
    assert client.get_token() == "token-1"
    clock.now = start + 290
    assert client.get_token() == "token-1"
    clock.now = start + 296  # past use_until (expiry minus 5 s)
    with pytest.raises(TokenEndpointError):
        client.get_token()


def test_concurrent_callers_in_one_process_cause_one_request(make_client, server):
    server.delay = 0.2
    client = make_client()
    results = []
    threads = [threading.Thread(target=lambda: results.append(client.get_token())) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == ["token-1"] * 20
    assert server.count == 1


def test_failures_back_off_and_callers_fail_fast_meanwhile(make_client, server, clock):
    server.status = 503
    client = make_client(backoff_base=2, backoff_max=60)
    with pytest.raises(TokenEndpointError) as first:
        client.get_token()
    assert first.value.status == 503 and first.value.retryable
    for _ in range(10):
        with pytest.raises(TokenEndpointError, match="backing off|503"):
            client.get_token()
    assert server.count == 1
    clock.now += 2.01
    server.status = 200
    assert client.get_token() == "token-2"


def test_backoff_grows_exponentially(make_client, server, clock):
    server.status = 500
    client = make_client(backoff_base=1, backoff_max=60)
    delays = []
    for _ in range(5):
        with pytest.raises(TokenEndpointError):
            client.get_token()
        failure = caches["default"].get(client._failure_key)
        delays.append(failure["until"] - clock.now)
        clock.now = failure["until"] + 0.001
    assert all(0.5 * 2**n <= delay <= 2**n for n, delay in enumerate(delays))


def test_retry_after_is_honoured(make_client, server, clock):
    server.status, server.headers = 429, {"Retry-After": "45"}
    client = make_client()
    with pytest.raises(TokenEndpointError):
        client.get_token()
    clock.now += 44
    with pytest.raises(TokenEndpointError):
        client.get_token()
    assert server.count == 1


def test_invalid_client_latches_longer_and_names_keycloaks_error(make_client, server, clock):
    server.status = 401
    server.error_body = {
        "error": "unauthorized_client",
        "error_description": "Invalid client or Invalid client credentials",
    }
    client = make_client(credential_backoff=300)
    with pytest.raises(TokenEndpointError) as raised:
        client.get_token()
    assert str(raised.value) == (
        f"Keycloak issued no token for client 'shop-api' at {server.url}: "
        "HTTP 401 unauthorized_client (Invalid client or Invalid client credentials)."
    )
    assert not raised.value.retryable
    clock.now += 299
    with pytest.raises(TokenEndpointError, match="unauthorized_client"):
        client.get_token()
    assert server.count == 1


def test_a_rotated_secret_is_not_latched_by_the_old_ones_failure(make_client, server):
    server.status, server.error_body = 401, {"error": "invalid_client"}
    with pytest.raises(TokenEndpointError):
        make_client(client_secret="old").get_token()
    server.status = 200
    assert make_client(client_secret="new").get_token() == "token-2"


def test_unreachable_keycloak_is_a_clear_error(make_client, clock):
    client = make_client(token_url="http://127.0.0.1:9/token")
    with pytest.raises(TokenEndpointError, match="ConnectionError"):
        client.get_token()


def test_slow_keycloak_is_cut_off_by_the_read_timeout(make_client, server):
    server.delay = 1.0
    with pytest.raises(TokenEndpointError, match="ReadTimeout"):
        make_client(timeout=(1, 0.2)).get_token()


def test_scopes_and_audiences_never_share_a_token(make_client, server):
    tokens = {
        make_client().get_token(),
        make_client(scopes=["notifications"]).get_token(),
        make_client(scopes=["reports"]).get_token(),
        make_client(audience="billing").get_token(),
    }
    assert len(tokens) == server.count == 4
    assert make_client(scopes=["b", "a"]).get_token() == make_client(scopes=["a", "b", "a"]).get_token()


def test_sends_scope_and_audience(make_client, server):
    make_client(scopes=["b", "a"], audience="notification-service").get_token()
    assert server.requests[0]["form"]["scope"] == ["a b"]
    assert server.requests[0]["form"]["audience"] == ["notification-service"]


def test_client_secret_basic_is_the_default(make_client, server):
    make_client().get_token()
    request = server.requests[0]
    assert request["authorization"].startswith("Basic ")
    assert "client_secret" not in request["form"]
    assert request["form"]["grant_type"] == ["client_credentials"]


def test_client_secret_post_sends_credentials_in_the_form(make_client, server):
    make_client(auth_method="client_secret_post").get_token()
    request = server.requests[0]
    assert request["authorization"] is None
    assert request["form"]["client_id"] == ["shop-api"]
    assert request["form"]["client_secret"] == [SECRET]


def test_invalidate_evicts_only_the_token_still_cached(make_client, server):
    client = make_client()
    old = client.get_token()
    assert client.invalidate(old) is True
    new = client.get_token()
    assert client.invalidate(old) is False
    assert client.get_token() == new
    assert server.count == 2


def test_fifty_concurrent_invalidations_cause_one_new_fetch(make_client, server):
    client = make_client()
    old = client.get_token()
    barrier = threading.Barrier(50)

    def report_401():
        barrier.wait()
        client.invalidate(old)
        client.get_token()

    threads = [threading.Thread(target=report_401) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert server.count == 2


def test_works_on_its_own_memory_when_the_cache_backend_is_down(make_client, server, settings, caplog):
    settings.CACHES = {**settings.CACHES, "broken": {"BACKEND": "tests.broken_cache.BrokenCache"}}
    client = make_client(cache_alias="broken")
    with caplog.at_level(logging.WARNING, logger="m2m_auth"):
        assert {client.get_token() for _ in range(10)} == {"token-1"}
    assert server.count == 1
    assert len([r for r in caplog.records if "fall back" in r.getMessage()]) == 1


def test_secret_and_tokens_never_reach_logs_exceptions_or_repr(make_client, server, clock, caplog):
    client = make_client()
    with caplog.at_level(logging.DEBUG):
        token = client.get_token()
        client.invalidate(token)
        server.status, server.error_body = 401, {"error": "invalid_client"}
        with pytest.raises(TokenEndpointError) as raised:
            client.get_token()
    texts = [r.getMessage() for r in caplog.records] + [str(raised.value), repr(raised.value), repr(client)]
    assert caplog.records
    assert not [text for text in texts if SECRET in text or token in text]


def test_a_dead_lock_holder_blocks_nobody_past_the_bound(make_client, server):
    client = make_client(lock_timeout=0.5)
    caches["default"].add(client._lock_key, "a-process-that-died", 30)
    assert client.get_token() == "token-1"
    assert server.count == 1


def test_a_lock_freed_by_a_finished_fetch_does_not_cause_a_second_request(make_client, server):
    """The lock is free again once its holder stored a token: whoever takes it next must use that token."""
    fetching, waiting = make_client(), make_client()
    lock_key = waiting._lock_key
    caches["default"].add(lock_key, "other-process", 30)
    real_add = waiting.store.add

    def add_after_the_other_process_finished(key, value, timeout):
        if key == lock_key and caches["default"].get(lock_key) == "other-process":
            caches["default"].delete(lock_key)
            fetching.get_token()  # stores token-1 and frees the lock, as the holder would
        return real_add(key, value, timeout)

    waiting.store.add = add_after_the_other_process_finished
    assert waiting.get_token() == "token-1"
    assert server.count == 1
