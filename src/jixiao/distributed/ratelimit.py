"""A rate limit for one LLM endpoint that holds across every worker process and machine: requests
per minute (a token bucket) and calls in flight (a semaphore), both kept in Redis and changed by
Lua scripts, so each check-and-take is atomic whichever worker runs it.

The clock is Redis's own (TIME), so workers on machines whose clocks disagree still share one
bucket. A semaphore slot is a lease: a worker killed while holding one loses it when the lease
runs out (`lease_s`, longer than one request may take), so a crash cannot shrink the pool for
good.
"""

from __future__ import annotations

import contextlib
import hashlib
import random
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

# KEYS[1]: the bucket (hash: tokens, ts). ARGV: refill rate (tokens/s), capacity.
# Returns the seconds to wait before a token is there (as a string: Lua numbers returned to
# Redis are truncated to integers); "0" means one was taken.
_BUCKET_LUA = """
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = capacity
  ts = now
end
tokens = math.min(capacity, tokens + math.max(0, now - ts) * rate)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(capacity / rate) + 60)
return tostring(wait)
"""

# KEYS[1]: the holders (sorted set, score = lease end). ARGV: limit, holder id, lease seconds.
# Returns 1 when the slot was taken, 0 when all are held.
_ACQUIRE_LUA = """
local limit = tonumber(ARGV[1])
local lease = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], now + lease, ARGV[2])
  redis.call('EXPIRE', KEYS[1], math.ceil(lease) + 60)
  return 1
end
return 0
"""


def endpoint_key(base_url: str | None) -> str:
    """The Redis key prefix for one endpoint: every worker naming the same URL shares it."""
    digest = hashlib.sha256((base_url or "embedded").rstrip("/").encode()).hexdigest()[:16]
    return f"jixiao:ratelimit:{digest}"


class SharedRateLimit:
    """`with limit.slot(): <one HTTP request>` waits until the endpoint may take one more.

    `per_minute`: requests started per minute across all workers (None: no bound);
    `concurrent`: requests in flight at once across all workers (None: no bound);
    `burst`: requests that may start back to back after a quiet spell (default: one second's
    worth), so a per-minute limit is spread over the minute rather than spent at its start.
    """

    def __init__(
        self,
        client: Any,
        key: str,
        *,
        per_minute: float | None = None,
        concurrent: int | None = None,
        burst: float | None = None,
        lease_s: float = 600.0,
        poll_s: float = 0.05,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if per_minute is not None and per_minute <= 0:
            raise ValueError("per_minute must be positive")
        if concurrent is not None and concurrent < 1:
            raise ValueError("concurrent must be at least 1")
        self.redis = client
        self.key = key
        self.per_minute = per_minute
        self.concurrent = concurrent
        self.burst = burst if burst is not None else max(1.0, (per_minute or 60.0) / 60.0)
        self.lease_s = lease_s
        self.poll_s = poll_s
        self._sleep = sleep
        self._bucket = client.register_script(_BUCKET_LUA)
        self._acquire = client.register_script(_ACQUIRE_LUA)

    @property
    def enabled(self) -> bool:
        return self.per_minute is not None or self.concurrent is not None

    def take_token(self) -> float:
        """Take one request token, waiting as long as needed; returns the seconds waited."""
        if self.per_minute is None:
            return 0.0
        waited = 0.0
        rate = self.per_minute / 60.0
        while True:
            wait = float(self._bucket(keys=[f"{self.key}:bucket"], args=[rate, self.burst]))
            if wait <= 0:
                return waited
            # Jitter: workers that were told the same wait do not all come back at once.
            pause = wait * random.uniform(1.0, 1.2)
            self._sleep(pause)
            waited += pause

    def acquire_slot(self) -> str | None:
        """Hold one of the `concurrent` slots (waiting for one); returns the holder id."""
        if self.concurrent is None:
            return None
        holder = uuid.uuid4().hex
        key = f"{self.key}:inflight"
        while not int(self._acquire(keys=[key], args=[self.concurrent, holder, self.lease_s])):
            self._sleep(self.poll_s * random.uniform(0.5, 1.5))
        return holder

    def release_slot(self, holder: str | None) -> None:
        if holder is not None:
            self.redis.zrem(f"{self.key}:inflight", holder)

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        holder = self.acquire_slot()  # the slot first: a token is not spent while queueing
        try:
            self.take_token()
            yield
        finally:
            self.release_slot(holder)

    def in_flight(self) -> int:
        """Slots held now (expired leases not counted)."""
        key = f"{self.key}:inflight"
        now = self.redis.time()
        return int(self.redis.zcount(key, now[0] + now[1] / 1e6, "+inf"))


def install_on_llm_client(limit: SharedRateLimit) -> None:
    """Make every HTTP request of every LLMClient in this process go through `limit`.

    LLMClient wraps each attempt of each request in its `_slot()` context manager (its own
    per-client bound); the shared limit is taken inside it, so it counts real requests
    (transport retries included, cache hits not). Installed once per worker process, before any
    extractor is opened; covers the `llm` and the lazily opened `hybrid` clients alike.
    """
    from jixiao.extract.llm import client as client_module

    cls = client_module.LLMClient
    original = getattr(cls, "_slot", None)
    if original is None:
        raise RuntimeError("LLMClient has no _slot(): the shared rate limit cannot be installed")
    if getattr(original, "_jixiao_shared_limit", None) is not None:
        original = original._jixiao_original  # re-install replaces the earlier limit

    @contextlib.contextmanager
    def limited(self: Any) -> Iterator[None]:
        with original(self), limit.slot():
            yield

    limited._jixiao_shared_limit = limit  # type: ignore[attr-defined]
    limited._jixiao_original = original  # type: ignore[attr-defined]
    cls._slot = limited  # type: ignore[method-assign]
