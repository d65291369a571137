"""The heap a large request freed goes back to the system once the worker is idle, not after
every request (compute.HeapRelease)."""

from __future__ import annotations

import asyncio

import pytest

from service.api import compute
from service.api.compute import HeapRelease

MIB = 2**20


def _trims(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    monkeypatch.setattr(compute, "_MALLOC_TRIM", lambda pad: calls.append(pad))
    return calls


def test_small_requests_are_not_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    _trims(monkeypatch)
    heap = HeapRelease(min_body_bytes=8 * MIB, idle_seconds=0.05)
    assert heap.started(8 * MIB - 1) is False
    assert heap.in_flight == 0
    assert heap.started(8 * MIB) is True
    assert heap.in_flight == 1


def test_the_heap_is_trimmed_once_idle_and_not_between_busy_requests(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = _trims(monkeypatch)

    async def scenario() -> None:
        heap = HeapRelease(min_body_bytes=1, idle_seconds=0.05)
        heap.started(10)
        heap.finished()
        # Another large request before the idle time is out: no trim under it, nor after it
        # until the worker is idle again.
        await asyncio.sleep(0.02)
        heap.started(10)
        await asyncio.sleep(0.1)
        assert calls == []
        heap.finished()
        await asyncio.sleep(0.02)
        assert calls == []
        await asyncio.sleep(0.1)
        assert calls == [0]
        # Two in flight: the first to finish does not start the clock.
        heap.started(10)
        heap.started(10)
        heap.finished()
        await asyncio.sleep(0.1)
        assert calls == [0]
        heap.finished()
        await asyncio.sleep(0.1)
        assert calls == [0, 0]

    asyncio.run(scenario())
