"""The key store: fetched rarely, shared, rotated safely, and resilient when Keycloak is not."""

import logging
import uuid

import pytest
from django.core.cache import caches

from m2m_auth import exceptions
from m2m_auth.jwks import JWKSStore, get_jwks_store
from m2m_auth.validation import validate_token
from tests.jwks_server import SigningKey


class Clock:
    def __init__(self, start: float = 1_000_000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(jwks_server):
    clock = Clock()
    get_jwks_store().clock = clock
    return clock


def test_fetches_the_key_set_once_for_many_tokens(make_token, jwks_server):
    for _ in range(20):
        validate_token(make_token())
    assert jwks_server.requests == 1


def test_accepts_a_rotated_key_after_exactly_one_refetch(make_token, jwks_server, signing_key, other_key):
    validate_token(make_token())
    jwks_server.serve_keys(signing_key, other_key)
    assert validate_token(make_token(key=other_key))["azp"] == "shop-api"
    assert jwks_server.requests == 2


def test_a_flood_of_unknown_kids_causes_at_most_one_refetch(make_token, jwks_server, other_key):
    validate_token(make_token())
    for _ in range(200):
        with pytest.raises(exceptions.UnknownSigningKey):
            validate_token(make_token(key=other_key, headers={"kid": uuid.uuid4().hex}))
    assert jwks_server.requests == 2


def test_refetches_again_for_an_unknown_kid_after_the_cooldown(make_token, jwks_server, other_key, clock, settings):
    validate_token(make_token())
    with pytest.raises(exceptions.UnknownSigningKey):
        validate_token(make_token(key=other_key))
    clock.now += settings.M2M_AUTH.get("JWKS_REFETCH_COOLDOWN", 30) + 1
    caches["default"].delete(get_jwks_store()._cooldown_key)  # the shared window has expired too
    with pytest.raises(exceptions.UnknownSigningKey):
        validate_token(make_token(key=other_key))
    assert jwks_server.requests == 3


def test_other_processes_reuse_the_shared_key_set(make_token, jwks_server):
    validate_token(make_token())
    another_process = JWKSStore(get_jwks_store().url)
    assert another_process.get_signing_key("key-1", "RS256") is not None
    assert jwks_server.requests == 1


def test_other_processes_do_not_join_a_refetch_flood(make_token, jwks_server, other_key):
    validate_token(make_token())
    with pytest.raises(exceptions.UnknownSigningKey):
        validate_token(make_token(key=other_key))
    another_process = JWKSStore(get_jwks_store().url)
    with pytest.raises(exceptions.UnknownSigningKey):
        another_process.get_signing_key(other_key.kid, "RS256")
    assert jwks_server.requests == 2


def test_known_keys_keep_working_while_keycloak_is_down(make_token, jwks_server, clock, caplog):
    validate_token(make_token())
    jwks_server.status = 503
    clock.now += 3600  # past the refresh interval: a refetch is attempted and fails
    with caplog.at_level(logging.WARNING, logger="m2m_auth.jwks"):
        for _ in range(5):
            validate_token(make_token())
            clock.now += 31
    assert jwks_server.requests > 1
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1


def test_known_keys_stop_working_after_the_staleness_bound(make_token, jwks_server, clock, settings):
    validate_token(make_token())
    jwks_server.status = 503
    clock.now += 86400 + 1
    with pytest.raises(exceptions.KeysUnavailable):
        validate_token(make_token())


@pytest.mark.parametrize("body", [b'{"keys": []}', b"<html>oops</html>", b'{"keys": "x"}', b"[]"])
def test_an_empty_or_garbage_answer_never_evicts_good_keys(make_token, jwks_server, clock, body):
    validate_token(make_token())
    jwks_server.body = body
    clock.now += 3600
    assert validate_token(make_token())
    assert jwks_server.requests == 2


def test_no_keys_at_all_is_keys_unavailable_not_invalid_token(make_token, jwks_server):
    jwks_server.status = 500
    with pytest.raises(exceptions.KeysUnavailable):
        validate_token(make_token())


def test_ignores_encryption_keys(make_token, jwks_server, signing_key):
    jwks_server.document = {"keys": [signing_key.public_jwk(use="enc", alg="RSA-OAEP")]}
    with pytest.raises(exceptions.KeysUnavailable):
        validate_token(make_token())


def test_skips_encryption_key_listed_beside_the_signing_key(make_token, jwks_server, signing_key, other_key):
    jwks_server.serve_keys(signing_key, extra=[other_key.public_jwk(use="enc", alg="RSA-OAEP")])
    assert validate_token(make_token())
    with pytest.raises(exceptions.UnknownSigningKey):
        validate_token(make_token(key=other_key))


def test_chooses_the_key_by_kid_and_alg_together(make_token, jwks_server, signing_key):
    jwks_server.document = {"keys": [signing_key.public_jwk(alg="RS512")]}
    with pytest.raises(exceptions.UnknownSigningKey):
        validate_token(make_token())


def test_a_removed_key_stops_verifying_remembered_tokens(make_token, jwks_server, signing_key, other_key, clock):
    old_token = make_token()
    validate_token(old_token)
    jwks_server.serve_keys(other_key)
    clock.now += 3600
    with pytest.raises(exceptions.UnknownSigningKey):
        validate_token(old_token)


def test_works_without_the_shared_cache_when_its_backend_is_down(make_token, jwks_server, settings, caplog):
    settings.CACHES = {
        **settings.CACHES,
        "broken": {"BACKEND": "tests.broken_cache.BrokenCache"},
    }
    settings.M2M_AUTH = {**settings.M2M_AUTH, "CACHE_ALIAS": "broken"}
    for _ in range(3):
        assert validate_token(make_token())
    assert jwks_server.requests == 1


def test_a_slow_keycloak_is_cut_off_by_the_read_timeout(make_token, jwks_server, settings):
    settings.M2M_AUTH = {**settings.M2M_AUTH, "HTTP_READ_TIMEOUT": 0.2}
    jwks_server.delay = 1.0
    with pytest.raises(exceptions.KeysUnavailable):
        validate_token(make_token())


def test_a_second_signing_key_without_alg_verifies_rs256(make_token, jwks_server, signing_key):
    jwk = signing_key.public_jwk()
    del jwk["alg"]
    jwks_server.document = {"keys": [jwk]}
    assert validate_token(make_token())


def test_unusable_key_material_is_skipped(make_token, jwks_server, signing_key):
    broken = {**SigningKey.generate("key-1").public_jwk(), "n": "AAAA", "e": "!!"}
    jwks_server.document = {"keys": [broken, signing_key.public_jwk()]}
    assert validate_token(make_token())
