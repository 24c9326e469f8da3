"""The caller side: one service token per client, shared by every thread and process of a service.

The token lives in the Django cache (``M2M_AUTH["CACHE_ALIAS"]``), so N workers ask Keycloak once
per token lifetime, not N times. Renewal starts ahead of expiry (a buffer capped to a fraction of
the real lifetime, with jitter); inside that window one caller renews while the others keep the
still-valid token without any network I/O. With no valid token, callers single-flight: threads
wait on a lock, processes on a ``cache.add`` lock with a bounded wait. Failures back off
exponentially and are remembered in the cache so that callers fail fast instead of hammering
Keycloak. Neither the secret nor a token ever reaches a log line, an exception or ``repr()``.
"""

from __future__ import annotations

import hashlib
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import requests
from django.core.signals import setting_changed

from .client_auth import client_authentication
from .conf import m2m_auth_settings
from .exceptions import M2MAuthError, TokenEndpointError
from .token_endpoint import CREDENTIAL_ERRORS, request_token
from .token_store import TokenStore

logger = logging.getLogger(__name__)


def token_fingerprint(token: str) -> str:
    """What logs may say about a token: a short hash, never the token."""
    return hashlib.sha256(token.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class TokenPolicy:
    """When to renew, how long to wait for another process, how to back off (seconds)."""

    renew_before: float = 60  # renew this long before expiry...
    max_renew_fraction: float = 0.5  # ...but never earlier than this fraction of the lifetime
    renew_jitter: float = 0.2  # renew up to this fraction of the buffer earlier still, at random
    default_lifetime: float = 60  # when `expires_in` is missing or odd
    lock_timeout: float = 10  # longest wait for the process that is fetching
    backoff_base: float = 1  # first back-off after a retryable failure, doubled each time...
    backoff_max: float = 60  # ...up to this
    credential_backoff: float = 300  # after invalid_client / unauthorized_client


@dataclass(frozen=True)
class CachedToken:
    """A token and its schedule: renew from `renew_at`, stop using it at `use_until`."""

    access_token: str
    renew_at: float
    use_until: float

    def __repr__(self) -> str:
        return f"CachedToken(sha256={token_fingerprint(self.access_token)}, use_until={self.use_until:.0f})"


class TokenClient:
    """Client-credentials tokens for one client, scope set and audience, cached in a shared store."""

    def __init__(
        self,
        *,
        token_url: str,
        client_id: str,
        client_secret: str = "",
        private_key_pem: str | bytes | None = None,
        assertion_audience: str | None = None,
        scopes: Iterable[str] = (),
        audience: str | None = None,
        auth_method: str = "client_secret_basic",
        cache_alias: str = "default",
        key_prefix: str = "m2m_auth",
        session: requests.Session | None = None,
        timeout: tuple[float, float] = (3.0, 5.0),
        policy: TokenPolicy = TokenPolicy(),  # noqa: B008 - immutable
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.credential = client_authentication(
            auth_method,
            client_id=client_id,
            secret=client_secret,
            private_key_pem=private_key_pem,
            audience=assertion_audience,
        )
        self.token_url = token_url
        self.client_id = client_id
        self.scopes = tuple(sorted(set(scopes)))
        self.audience = audience or None
        self.session = session or requests.Session()
        self.timeout = timeout
        self.policy = policy
        self.clock = clock
        self.store = TokenStore(cache_alias, clock)
        key = self._cache_key(key_prefix)
        self._token_key, self._lock_key, self._failure_key = f"{key}:token", f"{key}:lock", f"{key}:failure"
        self._local: CachedToken | None = None
        self._thread_lock = threading.Lock()
        self._renewing = threading.Lock()
        self.requests_made = 0  # token-endpoint requests from this object, for tests and benchmarks

    def __repr__(self) -> str:
        return f"TokenClient(client_id={self.client_id!r}, token_url={self.token_url!r}, scopes={self.scopes!r})"

    def _cache_key(self, prefix: str) -> str:
        """Endpoint + client + credential fingerprint + normalised scope/audience: a rotated secret
        or another scope never shares a token, a lock or a remembered failure."""
        material = "\0".join(
            [self.token_url, self.client_id, self.credential.fingerprint, " ".join(self.scopes), self.audience or ""]
        )
        return f"{prefix}:svc:{hashlib.sha256(material.encode()).hexdigest()[:32]}"

    # Reading

    def get_token(self) -> str:
        """A valid access token, from the cache when possible."""
        now = self.clock()
        entry = self._current(now)
        if entry is not None and now < entry.renew_at:
            return entry.access_token
        if entry is not None:
            return self._renew_ahead(entry)
        return self._fetch_single_flight()

    def _current(self, now: float) -> CachedToken | None:
        """The in-process copy while it needs no renewal, else what the shared cache holds."""
        local = self._local
        if local is not None and now < local.renew_at:
            return local
        entry = self._read_shared()
        if entry is not None and now < entry.use_until:
            self._local = entry
            return entry
        return None

    def _read_shared(self) -> CachedToken | None:
        value = self.store.get(self._token_key)
        if not isinstance(value, dict):
            return None
        try:
            return CachedToken(str(value["access_token"]), float(value["renew_at"]), float(value["use_until"]))
        except (KeyError, TypeError, ValueError):
            return None

    def _renew_ahead(self, entry: CachedToken) -> str:
        """Inside the renewal window: one caller renews, the others use `entry` with no I/O."""
        if not self._renewing.acquire(blocking=False):
            return entry.access_token
        try:
            owner = uuid.uuid4().hex
            if self._failure() is not None or not self.store.add(self._lock_key, owner, self.policy.lock_timeout):
                return entry.access_token
            try:
                # Another process may have renewed between our read and taking the lock.
                renewed = self._read_shared()
                if renewed is not None and self.clock() < renewed.renew_at:
                    self._local = renewed
                    return renewed.access_token
                return self._fetch_and_store().access_token
            except TokenEndpointError as exc:
                logger.warning("Renewing the token of %s failed; keeping the current one: %s", self.client_id, exc)
                return entry.access_token
            finally:
                self._release(owner)
        finally:
            self._renewing.release()

    def _fetch_single_flight(self) -> str:
        """No valid token: one request for this process, and one for all processes when possible."""
        with self._thread_lock:
            entry = self._current(self.clock())
            if entry is not None:
                return entry.access_token
            self._raise_if_backing_off()
            owner = uuid.uuid4().hex
            deadline = time.monotonic() + self.policy.lock_timeout
            while not self.store.add(self._lock_key, owner, self.policy.lock_timeout):
                # Another process is fetching: wait for its result, within a bound.
                if time.monotonic() >= deadline:
                    logger.warning(
                        "Token lock for %s held past %ss; fetching anyway.", self.client_id, self.policy.lock_timeout
                    )
                    return self._fetch_and_store().access_token
                time.sleep(0.05)
                entry = self._current(self.clock())
                if entry is not None:
                    return entry.access_token
                self._raise_if_backing_off()
            try:
                # The lock may be free because its holder just stored a token: check before fetching.
                entry = self._current(self.clock())
                if entry is not None:
                    return entry.access_token
                return self._fetch_and_store().access_token
            finally:
                self._release(owner)

    def _release(self, owner: str) -> None:
        """Drop the cross-process lock unless it expired and another process took it since."""
        if self.store.get(self._lock_key) == owner:
            self.store.delete(self._lock_key)

    # Invalidation

    def invalidate(self, token: str) -> bool:
        """Forget `token` if it is still the cached one (compare, then evict); True if evicted.

        A 401 from a target means this token is no longer accepted; many callers may report the
        same token at once, but only the first eviction counts, so only one new token is fetched.
        """
        with self._thread_lock:
            if self._local is not None and self._local.access_token == token:
                self._local = None
            current = self._read_shared()
            if current is None or current.access_token != token:
                return False
            self.store.delete(self._token_key)
            logger.info("Evicted token sha256=%s of %s after a 401.", token_fingerprint(token), self.client_id)
            return True

    # Fetching

    def _fetch_and_store(self) -> CachedToken:
        try:
            access_token, lifetime = self._request_token()
        except TokenEndpointError as exc:
            self._remember_failure(exc)
            raise
        self.store.delete(self._failure_key)
        entry = self._schedule(access_token, lifetime, self.clock())
        self.store.set(
            self._token_key,
            {"access_token": entry.access_token, "renew_at": entry.renew_at, "use_until": entry.use_until},
            entry.use_until - self.clock(),
        )
        self._local = entry
        logger.info(
            "Fetched a token for %s (sha256=%s, lifetime %ss).",
            self.client_id,
            token_fingerprint(access_token),
            lifetime,
        )
        return entry

    def _schedule(self, access_token: str, lifetime: float, now: float) -> CachedToken:
        """Renew `renew_before` seconds ahead, capped to a fraction of the lifetime, with jitter."""
        buffer = min(self.policy.renew_before, lifetime * self.policy.max_renew_fraction)
        jitter = random.uniform(0, buffer * self.policy.renew_jitter)  # noqa: S311 - spreading, not secrecy
        expires_at = now + lifetime
        # Stop using a token a little before it expires so that it does not expire in flight.
        use_until = expires_at - min(5.0, lifetime * 0.1)
        return CachedToken(access_token, renew_at=expires_at - buffer - jitter, use_until=use_until)

    def _request_token(self) -> tuple[str, float]:
        self.requests_made += 1
        answer = request_token(
            session=self.session,
            token_url=self.token_url,
            credential=self.credential,
            scopes=self.scopes,
            audience=self.audience,
            timeout=self.timeout,
            now=self.clock(),
        )
        return answer.access_token, answer.expires_in or float(self.policy.default_lifetime)

    def _error(self, **details: Any) -> TokenEndpointError:
        return TokenEndpointError(client_id=self.client_id, endpoint=self.token_url, **details)

    # Remembered failures

    def _remember_failure(self, exc: TokenEndpointError) -> None:
        """Back off exponentially with jitter (or as Retry-After says); credentials latch longer."""
        previous = self.store.get(self._failure_key)
        attempts = (previous.get("attempts", 0) if isinstance(previous, dict) else 0) + 1
        if exc.error in CREDENTIAL_ERRORS:
            delay = self.policy.credential_backoff
        else:
            delay = min(self.policy.backoff_max, self.policy.backoff_base * 2 ** (attempts - 1))
            delay = random.uniform(delay / 2, delay)  # noqa: S311
        if exc.retry_after is not None:
            delay = max(delay, min(exc.retry_after, self.policy.credential_backoff))
        until = self.clock() + delay
        self.store.set(self._failure_key, {**exc.to_cache(), "attempts": attempts, "until": until}, delay + 60)
        logger.warning("%s Backing off for %.1fs (attempt %d).", exc, delay, attempts)

    def _failure(self) -> dict[str, Any] | None:
        failure = self.store.get(self._failure_key)
        if isinstance(failure, dict) and self.clock() < failure.get("until", 0):
            return failure
        return None

    def _raise_if_backing_off(self) -> None:
        failure = self._failure()
        if failure is not None:
            raise self._error(
                status=failure.get("status"),
                error=failure.get("error"),
                description=failure.get("description"),
                retryable=failure.get("retryable", True),
                retry_after=failure["until"] - self.clock(),
                cause=failure.get("cause") or "backing off after a recent failure",
            )


def build_token_client(**overrides: Any) -> TokenClient:
    """A client configured from M2M_AUTH; `overrides` pick another client, scope or audience."""
    s = m2m_auth_settings
    options: dict[str, Any] = {
        "token_url": s.token_url,
        "client_id": s.CLIENT_ID,
        "client_secret": s.CLIENT_SECRET,
        "scopes": s.TOKEN_SCOPES,
        "audience": s.TOKEN_AUDIENCE,
        "auth_method": s.TOKEN_AUTH_METHOD,
        "cache_alias": s.CACHE_ALIAS,
        "key_prefix": s.CACHE_KEY_PREFIX,
        "timeout": s.http_timeout,
        "policy": TokenPolicy(
            renew_before=s.TOKEN_RENEW_BEFORE,
            default_lifetime=s.TOKEN_DEFAULT_LIFETIME,
            lock_timeout=s.TOKEN_LOCK_TIMEOUT,
            backoff_max=s.TOKEN_BACKOFF_MAX,
            credential_backoff=s.TOKEN_CREDENTIAL_BACKOFF,
        ),
    }
    if s.TOKEN_AUTH_METHOD == "private_key_jwt":  # noqa: S105 - a method name
        options.update(private_key_pem=_read_private_key(s.CLIENT_PRIVATE_KEY_FILE), assertion_audience=s.issuer)
    options.update(overrides)
    try:
        return TokenClient(**options)
    except ValueError as exc:
        raise M2MAuthError(
            f"{exc} Set KEYCLOAK_CLIENT_SECRET, or M2M_AUTH_CLIENT_PRIVATE_KEY_FILE for private_key_jwt."
        ) from None


def _read_private_key(path: str) -> bytes | None:
    if not path:
        return None
    try:
        with open(path, "rb") as key_file:
            return key_file.read()
    except OSError as exc:
        raise M2MAuthError(f"Cannot read the client's private key file {path}: {exc.strerror}.") from None


_default_client: TokenClient | None = None
_default_lock = threading.Lock()


def get_token_client() -> TokenClient:
    """The process-wide client for the configured service account."""
    global _default_client
    if _default_client is None:
        with _default_lock:
            if _default_client is None:
                _default_client = build_token_client()
    return _default_client


def get_service_token() -> str:
    """A valid access token for this service's own Keycloak client (the seed's getServiceToken)."""
    return get_token_client().get_token()


def _reset_default_client(*, setting: str, **kwargs: Any) -> None:
    global _default_client
    if setting in ("M2M_AUTH", "CACHES"):
        _default_client = None


setting_changed.connect(_reset_default_client)
