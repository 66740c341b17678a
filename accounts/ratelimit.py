"""A fixed-window rate limit in the cache (shared by all web workers when the cache is Redis)."""

from __future__ import annotations

from django.core.cache import cache


def allow(key: str, *, limit: int, window: int) -> bool:
    """Count one attempt for `key`; False once more than `limit` happened in `window` seconds."""
    if limit <= 0:
        return True
    cache_key = f"ratelimit:{key}"
    if cache.add(cache_key, 1, timeout=window):
        return True
    try:
        count = cache.incr(cache_key)
    except ValueError:  # expired between add and incr
        cache.add(cache_key, 1, timeout=window)
        return True
    return count <= limit


def failures(key: str) -> int:
    """How many failures were recorded for `key` in its current window."""
    return int(cache.get(f"failures:{key}", 0))


def record_failure(key: str, *, window: int) -> int:
    cache_key = f"failures:{key}"
    if cache.add(cache_key, 1, timeout=window):
        return 1
    try:
        return int(cache.incr(cache_key))
    except ValueError:
        cache.add(cache_key, 1, timeout=window)
        return 1
