"""The cache the throttles count in: Redis, shared by every web process, or, while Redis cannot
be reached, a counter in each process.

Redis is only a doorbell, so a stopped Redis must not turn placements and sign-ins into 500s.
The fallback is a per-process counter rather than failing open: the sign-in throttle guards
against password guessing, and during an outage it still holds at (rate x web processes)
instead of vanishing. After a failure the shared cache is left alone for `RETRY_SHARED_SECONDS`,
so each request does not pay a connect attempt; then it is tried again.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

RETRY_SHARED_SECONDS = 5.0


class RedisOrLocalCache(RedisCache):
    """Django's Redis cache whose reads and writes fall back to process memory on failure."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._local = LocMemCache("throttle-fallback", {"OPTIONS": {"MAX_ENTRIES": 10_000}})
        self._shared_down_until = 0.0

    def _shared(self, method: str, *args: Any, **kwargs: Any) -> Any:
        if time.monotonic() >= self._shared_down_until:
            try:
                return getattr(super(), method)(*args, **kwargs)
            except (RedisError, OSError) as exc:
                self._shared_down_until = time.monotonic() + RETRY_SHARED_SECONDS
                log.warning("cache unreachable (%s: %s); counting in this process for %.0fs",
                            type(exc).__name__, exc, RETRY_SHARED_SECONDS)
        return getattr(self._local, method)(*args, **kwargs)

    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        return self._shared("get", key, default, version)

    def set(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT,
            version: int | None = None) -> None:
        self._shared("set", key, value, timeout, version)

    def add(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT,
            version: int | None = None) -> bool:
        return self._shared("add", key, value, timeout, version)

    def delete(self, key: Any, version: int | None = None) -> bool:
        return self._shared("delete", key, version)

    def clear(self) -> None:
        self._local.clear()
        self._shared("clear")
