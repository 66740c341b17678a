"""Per-organization token bucket for SCIM requests (SCIM_RATE_LIMIT requests per second).

Entra ID needs 25 requests per second per tenant; the default allows far more and only stops a
runaway client from starving the other organizations. Over the limit a request gets 429 with a
Retry-After sized so the identity provider pauses briefly instead of failing the cycle.

With a Redis cache (CACHE_URL=redis://...) the bucket lives in Redis and is shared by every web
worker (one atomic Lua script per request); otherwise each process keeps its own bucket.

The shared bucket is timed by Redis's own clock (`TIME` inside the script), never by the web
process's: web nodes on several machines have clocks that differ, and a bucket refilled by each
caller's clock would refill nothing for a node whose clock is behind the last caller's and far
too much for one ahead of it. Redis 5 and later replicate a script's effects, not the script, so
reading the clock in it is allowed (Redis 7 runs no other way).
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

import redis
from django.conf import settings

from nordpass_admin import redis_cache

# Refill by the time elapsed on Redis's clock, take one token if there is one, and report how
# long until the next.
BUCKET_SCRIPT = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or burst
local ts = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local allowed = 0
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'ts', now)
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 1)
return {allowed, tostring(wait)}
"""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: int = 0


class LocalBuckets:
    """In-process buckets, for the embedded defaults and tests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state: dict[str, tuple[float, float]] = {}

    def take(
        self, key: str, *, rate: float, burst: float, now: float | None = None
    ) -> tuple[bool, float]:
        """`now`: seconds on any steady clock; this process's monotonic clock by default."""
        if now is None:
            now = time.monotonic()
        with self._lock:
            tokens, stamp = self._state.get(key, (burst, now))
            tokens = min(burst, tokens + max(0.0, now - stamp) * rate)
            if tokens >= 1:
                self._state[key] = (tokens - 1, now)
                return True, 0.0
            self._state[key] = (tokens, now)
            return False, (1 - tokens) / rate


class RedisBuckets:
    def __init__(self, client: redis.Redis) -> None:
        self._script = client.register_script(BUCKET_SCRIPT)

    @classmethod
    def from_url(cls, url: str) -> RedisBuckets:
        return cls(redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1))

    def take(self, key: str, *, rate: float, burst: float) -> tuple[bool, float]:
        """Takes no time from the caller: the script reads Redis's clock."""
        allowed, wait = self._script(keys=[key], args=[rate, burst])
        return bool(int(allowed)), float(wait)


_backend: LocalBuckets | RedisBuckets | None = None
_backend_client: redis.Redis | None = None


def _buckets() -> LocalBuckets | RedisBuckets:
    global _backend, _backend_client
    client = redis_cache.client()
    if _backend is None or _backend_client is not client:
        _backend = RedisBuckets(client) if client is not None else LocalBuckets()
        _backend_client = client
    return _backend


def reset_backend() -> None:
    """Forget this process's buckets (tests); shared Redis buckets go with the cache."""
    global _backend
    _backend = None


def scim_rate_limit_check(organization_id: int) -> Decision:
    """Take one request from the organization's bucket. A limit of 0 turns limiting off; if
    Redis cannot be reached the request is allowed (provisioning must not stop for a cache)."""
    rate = float(settings.SCIM_RATE_LIMIT)
    if rate <= 0:
        return Decision(True)
    burst = max(1.0, float(settings.SCIM_RATE_BURST or rate))
    try:
        allowed, wait = _buckets().take(f"scim-rate:{organization_id}", rate=rate, burst=burst)
    except Exception:  # noqa: BLE001 - a cache outage must not become a provisioning outage
        return Decision(True)
    return Decision(allowed, 0 if allowed else max(1, math.ceil(wait)))
