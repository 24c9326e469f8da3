"""Where service tokens live: the Django cache, or this process's memory while the cache fails."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from django.core.cache import caches

logger = logging.getLogger(__name__)

_MISSING = object()


class _FallbackStore:
    """An in-process stand-in for the Django cache, used while the cache backend fails."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._entries: dict[str, tuple[Any, float]] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def get(self, key: str, default: Any = None) -> Any:
        value, expires = self._entries.get(key, (default, float("inf")))
        return default if expires <= self._clock() else value

    def add(self, key: str, value: Any, timeout: float) -> bool:
        with self._lock:
            if self.get(key, _MISSING) is not _MISSING:
                return False
            self._entries[key] = (value, self._clock() + timeout)
            return True

    def set(self, key: str, value: Any, timeout: float) -> None:
        self._entries[key] = (value, self._clock() + timeout)

    def delete(self, key: str) -> None:
        self._entries.pop(key, None)


class TokenStore:
    """The cache API narrowed to what the client needs, falling back in-process when it fails."""

    def __init__(self, alias: str, clock: Callable[[], float]) -> None:
        self.alias = alias
        self.fallback = _FallbackStore(clock)
        self._warned = False

    def _call(self, method: str, *args: Any) -> Any:
        try:
            return getattr(caches[self.alias], method)(*args)
        except Exception as exc:  # noqa: BLE001 - any backend failure: keep serving tokens
            if not self._warned:
                logger.warning(
                    "Cache %r failed (%s): service tokens fall back to this process's memory.",
                    self.alias,
                    type(exc).__name__,
                )
                self._warned = True
            return getattr(self.fallback, method)(*args)

    def get(self, key: str) -> Any:
        return self._call("get", key, None)

    def add(self, key: str, value: Any, timeout: float) -> bool:
        return bool(self._call("add", key, value, max(1, int(timeout))))

    def set(self, key: str, value: Any, timeout: float) -> None:
        self._call("set", key, value, max(1, int(timeout)))

    def delete(self, key: str) -> None:
        self._call("delete", key)
