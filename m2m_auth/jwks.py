"""The realm's signing keys: fetched rarely, shared through the Django cache, rotated safely.

Reads are served from an in-process copy; the shared cache lets every process of a service reuse
one fetch. The network is touched only when the copy is older than ``JWKS_REFRESH_INTERVAL`` or a
token names an unknown ``kid``, and never more than once per ``JWKS_REFETCH_COOLDOWN`` across all
processes, so a flood of forged ``kid``s cannot become a flood of requests to Keycloak. A failed
or empty answer never replaces good keys; they keep working for ``JWKS_MAX_STALENESS`` seconds.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jwt
import requests
from django.core.cache import caches

from .conf import m2m_auth_settings
from .exceptions import KeysUnavailable, UnknownSigningKey

logger = logging.getLogger(__name__)

UNKNOWN_KID = "unknown kid"

# The JWK key type each algorithm family verifies with.
_KTY_BY_ALG_PREFIX = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}


def key_type_for(alg: str) -> str | None:
    return _KTY_BY_ALG_PREFIX.get(alg[:2])


@dataclass(frozen=True)
class KeySet:
    """One parsed answer of the JWKS endpoint."""

    jwks: dict[str, list[dict[str, Any]]]
    fetched_at: float
    _parsed: dict[tuple[str, str], jwt.PyJWK] = field(default_factory=dict, compare=False)

    @classmethod
    def from_document(cls, document: Any, fetched_at: float) -> KeySet:
        """Keep the signature keys that have a `kid`; skip encryption keys and junk entries."""
        keys = document.get("keys") if isinstance(document, dict) else None
        by_kid: dict[str, list[dict[str, Any]]] = {}
        for jwk in keys if isinstance(keys, list) else []:
            if not isinstance(jwk, dict) or jwk.get("use", "sig") != "sig":
                continue
            kid = jwk.get("kid")
            if isinstance(kid, str) and kid and isinstance(jwk.get("kty"), str):
                by_kid.setdefault(kid, []).append(jwk)
        return cls(jwks=by_kid, fetched_at=fetched_at)

    def find(self, kid: str, alg: str) -> jwt.PyJWK | None:
        """The key with this `kid` that may verify `alg`: its own `alg` must match if it has one."""
        cached = self._parsed.get((kid, alg))
        if cached is not None:
            return cached
        for jwk in self.jwks.get(kid, ()):
            if jwk.get("alg", alg) != alg or jwk["kty"] != key_type_for(alg):
                continue
            try:
                key = jwt.PyJWK(jwk, algorithm=alg)
            except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError, KeyError):
                logger.warning("Ignoring an unusable JWKS entry (kid %s).", kid)
                continue
            self._parsed[(kid, alg)] = key
            return key
        return None

    def age(self, now: float) -> float:
        return now - self.fetched_at


class JWKSStore:
    """Signing keys of one JWKS URL, for one process, backed by the shared Django cache."""

    def __init__(
        self,
        url: str,
        *,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.url = url
        self.session = session or requests.Session()
        self.clock = clock
        self.generation = 0  # bumped whenever the set of kids changes
        self._keys: KeySet | None = None
        self._lock = threading.Lock()
        self._last_attempt = float("-inf")
        self._last_kid_refetch = float("-inf")
        self._failing = False
        url_hash = hashlib.sha256(url.encode()).hexdigest()[:16]
        prefix = m2m_auth_settings.CACHE_KEY_PREFIX
        self._cache_key = f"{prefix}:jwks:{url_hash}"
        self._cooldown_key = f"{prefix}:jwks-cooldown:{url_hash}"

    def get_signing_key(self, kid: str, alg: str) -> jwt.PyJWK:
        """The verification key for a token header, refetching at most once per cooldown."""
        keys = self._usable_keys()
        if keys is None:
            raise KeysUnavailable()
        key = keys.find(kid, alg)
        if key is None:
            keys = self._refresh(reason=UNKNOWN_KID) or keys
            key = keys.find(kid, alg)
        if key is None:
            raise UnknownSigningKey()
        return key

    def is_fresh(self) -> bool:
        """True while the in-process keys need no refresh: remembered tokens may skip the store."""
        keys = self._keys
        return keys is not None and keys.age(self.clock()) <= m2m_auth_settings.JWKS_REFRESH_INTERVAL

    def _usable_keys(self) -> KeySet | None:
        """The freshest keys we may use, refreshing the in-process copy when it is due."""
        now = self.clock()
        keys = self._keys
        if keys is None or keys.age(now) > m2m_auth_settings.JWKS_REFRESH_INTERVAL:
            keys = self._adopt(self._read_shared()) or keys
        if keys is None or keys.age(now) > m2m_auth_settings.JWKS_REFRESH_INTERVAL:
            # With usable keys in hand, nobody waits for a refresh another thread is doing.
            keys = self._refresh(reason="refresh interval" if keys else "first use", wait=keys is None) or keys
        if keys is not None and keys.age(now) > m2m_auth_settings.JWKS_MAX_STALENESS:
            return None
        return keys

    def _refresh(self, *, reason: str, wait: bool = True) -> KeySet | None:
        """Fetch from Keycloak, throttled: failed refreshes and unknown-kid refetches each at
        most once per cooldown, the latter across all processes sharing the cache."""
        if not self._lock.acquire(blocking=wait):
            return self._keys
        try:
            cooldown = m2m_auth_settings.JWKS_REFETCH_COOLDOWN
            now = self.clock()
            if reason == UNKNOWN_KID:
                if now - self._last_kid_refetch < cooldown:
                    return self._keys
                self._last_kid_refetch = now
                if not self._claim_shared_cooldown(cooldown):
                    # Another process refetched within the window: use what it stored.
                    return self._adopt(self._read_shared()) or self._keys
            elif now - self._last_attempt < cooldown:
                return self._keys
            self._last_attempt = now
            fetched = self._fetch(reason)
            if fetched is None:
                return self._keys
            self._write_shared(fetched)
            return self._adopt(fetched)
        finally:
            self._lock.release()

    def _fetch(self, reason: str) -> KeySet | None:
        try:
            response = self.session.get(
                self.url, timeout=m2m_auth_settings.http_timeout, headers={"Accept": "application/json"}
            )
            response.raise_for_status()
            keys = KeySet.from_document(response.json(), fetched_at=self.clock())
        except (requests.RequestException, ValueError) as exc:
            self._warn_once("JWKS fetch from %s failed (%s): keeping the keys already known.", exc)
            return None
        if not keys.jwks:
            self._warn_once("JWKS from %s held no usable signing key (%s): keeping the keys already known.", None)
            return None
        if self._failing:
            logger.info("JWKS fetch from %s works again.", self.url)
        self._failing = False
        logger.info("Fetched JWKS from %s (%s): kids %s.", self.url, reason, sorted(keys.jwks))
        return keys

    def _warn_once(self, message: str, exc: Exception | None) -> None:
        """One warning per outage, not one per request."""
        if not self._failing:
            detail = type(exc).__name__ if exc is not None else "empty or unusable answer"
            logger.warning(message, self.url, detail)
        self._failing = True

    def _adopt(self, keys: KeySet | None) -> KeySet | None:
        """Make `keys` the in-process copy if they are newer than what we hold."""
        if keys is None:
            return None
        current = self._keys
        if current is not None and current.fetched_at >= keys.fetched_at:
            return current
        if current is None or set(current.jwks) != set(keys.jwks):
            self.generation += 1
        self._keys = keys
        return keys

    # The shared cache is an optimisation: when it fails we behave as if it were empty.

    def _read_shared(self) -> KeySet | None:
        try:
            stored = caches[m2m_auth_settings.CACHE_ALIAS].get(self._cache_key)
        except Exception:  # noqa: BLE001 - any backend failure means "not cached"
            logger.warning("Cache read of the JWKS failed; using the in-process copy.", exc_info=True)
            return None
        if not isinstance(stored, dict):
            return None
        try:
            return KeySet.from_document(json.loads(stored["document"]), fetched_at=float(stored["fetched_at"]))
        except (KeyError, TypeError, ValueError):
            return None

    def _write_shared(self, keys: KeySet) -> None:
        document = json.dumps({"keys": [jwk for group in keys.jwks.values() for jwk in group]})
        try:
            caches[m2m_auth_settings.CACHE_ALIAS].set(
                self._cache_key,
                {"document": document, "fetched_at": keys.fetched_at},
                timeout=int(m2m_auth_settings.JWKS_MAX_STALENESS),
            )
        except Exception:  # noqa: BLE001
            logger.warning("Cache write of the JWKS failed; other processes will fetch their own.", exc_info=True)

    def _claim_shared_cooldown(self, cooldown: float) -> bool:
        """True if this process may fetch now; `add` makes exactly one process win per window."""
        try:
            return bool(caches[m2m_auth_settings.CACHE_ALIAS].add(self._cooldown_key, 1, timeout=max(1, int(cooldown))))
        except Exception:  # noqa: BLE001 - the in-process cooldown still limits us
            return True


_stores: dict[str, JWKSStore] = {}
_stores_lock = threading.Lock()


def get_jwks_store() -> JWKSStore:
    """The process-wide store for the configured realm."""
    url = m2m_auth_settings.jwks_url
    store = _stores.get(url)
    if store is None:
        with _stores_lock:
            store = _stores.setdefault(url, JWKSStore(url))
    return store


def reset_jwks_stores() -> None:
    """Forget every in-process key set (tests, or after changing realms at run time)."""
    with _stores_lock:
        _stores.clear()
