"""How the server spends its threads: a few requests at a time, a slow one steps aside, none
runs past the time limit.

Searches are CPU work on two cores: more than a few at once only make them
contend (``docs/performance.md``), so :data:`WORKER_THREADS` requests run at a
time and the rest wait their turn, first come first served. A request still
running after :data:`SLOW_AFTER` seconds gives its turn to the next one and
finishes beside it (at most :data:`OVERTIME_THREADS` of them at once; past
that a slow request keeps its turn): four slow searches no longer hold every
turn while a quick request waits behind them. A request not answered within
the time limit (:data:`TIME_LIMIT`, ``archive serve --time-limit``) gets 504,
and one that could not even start within it 503, each with the reason as
JSON or as a page. Python cannot stop a thread: the abandoned work finishes
in the background (the library bounds what one query can cost), and its
thread counts against :data:`OVERTIME_THREADS` (or keeps its turn, when
those are all taken) until it does: the threads in use never exceed
``WORKER_THREADS + OVERTIME_THREADS``, and when all are taken a new request
waits, then gets 503.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

WORKER_THREADS = 4
"""Requests that run at once with a turn each."""
OVERTIME_THREADS = 8
"""Slow requests (past :data:`SLOW_AFTER`) that may run beside the turns."""
SLOW_AFTER = 0.5
"""Seconds after which a running request gives its turn away."""
TIME_LIMIT = 10.0
"""Seconds from a request's arrival to its answer, by default; then 504 (or 503 if it never started)."""

T = TypeVar("T")


class TooSlow(Exception):
    """A request was not answered within the time limit (504)."""


class Busy(Exception):
    """A request could not start within the time limit (503)."""


class Runner:
    """Runs each request's blocking work on a thread, with turns and a time limit (see the module)."""

    def __init__(self, *, workers: int = WORKER_THREADS, overtime: int = OVERTIME_THREADS,
                 slow_after: float = SLOW_AFTER, time_limit: float = TIME_LIMIT) -> None:
        self.workers, self.overtime_max = workers, overtime
        self.slow_after, self.time_limit = slow_after, time_limit
        self._pool = ThreadPoolExecutor(workers + overtime, thread_name_prefix="archive-web")
        self._lock = threading.Lock()
        self._free = workers
        self._waiting: deque[asyncio.Future[None]] = deque()
        self.overtime = 0
        """Requests running (or abandoned and finishing) without a turn."""

    async def run(self, work: Callable[[], T]) -> T:
        """``work()`` on a worker thread; raises :class:`TooSlow` or :class:`Busy` past the limit."""
        arrived = time.monotonic()
        await self._take_turn(self.time_limit)
        holding = True
        try:
            running = asyncio.get_running_loop().run_in_executor(self._pool, work)
            done, _ = await asyncio.wait({running}, timeout=self.slow_after)
            if not done and self._step_aside(running):
                holding = False
                self._give_turn()
            left = self.time_limit - (time.monotonic() - arrived)
            done, _ = await asyncio.wait({running}, timeout=max(left, 0.0))
            if not done:
                if holding:  # its thread runs on: as overtime if there is room, else on its turn
                    holding = False
                    if self._step_aside(running):
                        self._give_turn()
                    else:
                        running.add_done_callback(lambda _: self._give_turn())
                raise TooSlow
            return running.result()
        finally:
            if holding:
                self._give_turn()

    def _step_aside(self, running: asyncio.Future[T]) -> bool:
        with self._lock:
            if self.overtime >= self.overtime_max:
                return False
        self._count_overtime(running)
        return True

    def _count_overtime(self, running: asyncio.Future[T]) -> None:
        with self._lock:
            self.overtime += 1

        def finished(_: object) -> None:
            with self._lock:
                self.overtime -= 1

        running.add_done_callback(finished)

    async def _take_turn(self, limit: float) -> None:
        with self._lock:
            if self._free > 0 and not self._waiting:
                self._free -= 1
                return
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiting.append(waiter)
        try:
            await asyncio.wait_for(asyncio.shield(waiter), limit)
        except (TimeoutError, asyncio.CancelledError) as exc:
            with self._lock:
                if waiter in self._waiting:
                    self._waiting.remove(waiter)
                    given = False
                else:
                    given = True  # the turn was handed over as the wait ended: pass it on
            if given:
                self._give_turn()
            if isinstance(exc, TimeoutError):
                raise Busy from None
            raise

    def _give_turn(self) -> None:
        with self._lock:
            while self._waiting:
                waiter = self._waiting.popleft()
                if not waiter.done():
                    waiter.get_loop().call_soon_threadsafe(_wake, waiter)
                    return
            self._free += 1

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
