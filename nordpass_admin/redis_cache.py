"""One raw Redis client for the cache's Redis (CACHE_URL), for hot paths that need one round trip.

Django's RedisCache builds a client object per call and pickles values; the SCIM request path
talks to Redis twice per request (rate-limit bucket, credential generation), so it uses this
shared, thread-safe client with short timeouts instead. None when the cache is not Redis.
"""

from __future__ import annotations

import threading

import redis
from django.conf import settings

_lock = threading.Lock()
_client: redis.Redis | None = None
_client_url: str | None = None


def cache_redis_url() -> str:
    location = settings.CACHES["default"].get("LOCATION", "")
    if isinstance(location, (list, tuple)):
        location = location[0] if location else ""
    return location if isinstance(location, str) and location.startswith("redis") else ""


def client() -> redis.Redis | None:
    global _client, _client_url
    url = cache_redis_url()
    if not url:
        return None
    if _client is None or _client_url != url:
        with _lock:
            if _client is None or _client_url != url:
                _client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
                _client_url = url
    return _client
