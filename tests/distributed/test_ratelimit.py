"""The shared LLM rate limit against a real redis-server: several limiters (as on several
workers, each with its own connection) share one token bucket and one semaphore."""

from __future__ import annotations

import threading
import time

import pytest
import redis

from jixiao.distributed.ratelimit import SharedRateLimit, endpoint_key, install_on_llm_client

from .conftest import RedisServer


def limiters(server: RedisServer, n: int, **kw: object) -> list[SharedRateLimit]:
    key = endpoint_key("http://llm.example:8000/v1")
    return [SharedRateLimit(redis.Redis.from_url(server.url), key, **kw) for _ in range(n)]  # type: ignore[arg-type]


def test_requests_per_minute_hold_across_limiters(redis_server: RedisServer) -> None:
    # 600/min = 10/s with a burst of 1: 12 requests from 3 "workers" need at least 1.1 s.
    group = limiters(redis_server, 3, per_minute=600, burst=1)
    starts: list[float] = []
    lock = threading.Lock()

    def run(limit: SharedRateLimit) -> None:
        for _ in range(4):
            with limit.slot(), lock:
                starts.append(time.monotonic())

    threads = [threading.Thread(target=run, args=(lim,)) for lim in group]
    began = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(starts) == 12
    assert time.monotonic() - began >= 1.05
    # No second of the run saw more than burst + rate requests start.
    starts.sort()
    for i, t0 in enumerate(starts):
        assert sum(1 for t in starts[i:] if t < t0 + 1.0) <= 11


def test_concurrent_calls_hold_across_limiters(redis_server: RedisServer) -> None:
    group = limiters(redis_server, 6, concurrent=2, poll_s=0.01)
    inside = 0
    peak = 0
    lock = threading.Lock()

    def run(limit: SharedRateLimit) -> None:
        nonlocal inside, peak
        for _ in range(3):
            with limit.slot():
                with lock:
                    inside += 1
                    peak = max(peak, inside)
                time.sleep(0.03)
                with lock:
                    inside -= 1

    threads = [threading.Thread(target=run, args=(lim,)) for lim in group]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert peak == 2  # reached, never exceeded
    assert group[0].in_flight() == 0  # every slot given back


def test_a_dead_holders_slot_comes_back_after_its_lease(redis_server: RedisServer) -> None:
    dead, alive = limiters(redis_server, 2, concurrent=1, lease_s=0.5, poll_s=0.02)
    dead.acquire_slot()  # never released: its worker was killed
    began = time.monotonic()
    holder = alive.acquire_slot()
    assert 0.3 <= time.monotonic() - began < 5
    alive.release_slot(holder)


def test_installed_limit_wraps_every_llm_request(redis_server: RedisServer) -> None:
    from jixiao.config import LLMSettings
    from jixiao.extract.llm.client import LLMClient

    (limit,) = limiters(redis_server, 1, concurrent=3)
    original = LLMClient._slot
    try:
        install_on_llm_client(limit)
        install_on_llm_client(limit)  # twice: still one limit, not nested
        client = LLMClient(LLMSettings(base_url="http://127.0.0.1:9/v1", model="m"))
        with client._slot():
            assert limit.in_flight() == 1
        assert limit.in_flight() == 0
    finally:
        LLMClient._slot = original  # type: ignore[method-assign]


def test_bad_limits_are_refused(redis_server: RedisServer) -> None:
    with pytest.raises(ValueError):
        limiters(redis_server, 1, per_minute=0)
    with pytest.raises(ValueError):
        limiters(redis_server, 1, concurrent=0)
