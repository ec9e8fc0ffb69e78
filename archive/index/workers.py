"""Indexing worker processes that never outlive, hang or silently fail the build that started them.

Whoosh's multiprocessing writer (``whoosh.multiproc.MpWriter``) forks one
worker per process; each loops on ``jobqueue.get()`` until told to finish.
As shipped it has three failure modes this module closes:

- A worker outlives a killed parent: it blocks forever on a queue whose
  other end its sibling still holds, reparented to init. Each worker now
  asks the kernel to kill it when its parent dies (Linux
  ``prctl(PR_SET_PDEATHSIG, SIGKILL)``, through ctypes: no dependency), then
  checks that its parent is still the process that started it, which closes
  the race of a parent dying between the fork and the ``prctl``. Elsewhere,
  if ``prctl`` fails, or when the writer is not the worker's OS parent (the
  ``forkserver`` start method), a daemon thread checks the writer every
  second instead. Either way a worker waiting for a job also wakes every
  second to check the writer, so it never blocks forever on the queue.
- ``cancel()`` only flips a flag in the parent's copy of each worker object,
  so cancelled workers wait for jobs forever and the parent hangs at exit
  joining them. Cancelling now terminates them.
- A worker that dies (killed, out of memory) loses its share of the
  documents without a word: the parent waits a second for each worker's
  result and commits whatever came. The parent now fails the write instead
  (so the previous generation stays live), and stops waiting to hand out a
  job when a worker has died.

Workers ignore SIGINT: a Ctrl-C reaches the whole process group, and the
parent, which owns the write, cancels them itself. The writer lock is not the
workers' concern: it is a POSIX record lock, never inherited over ``fork``
(:func:`archive.index.layout.writer_lock`). ``PR_SET_PDEATHSIG`` fires when the
*thread* that forked the worker ends, so the writer must be used (fed and
committed) by one thread, as :func:`archive.index.lexical.write_index` does.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import queue
import signal
import sys
import threading
from typing import Any

from whoosh.multiproc import MpWriter, SubWriterTask

from ..errors import ArchiveError
from .whoosh_files import install as install_whoosh_guard

POLL_SECONDS = 1.0
"""How often a waiting worker checks its parent, and a waiting parent its workers."""

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


class IndexingWorkerError(ArchiveError):
    """An indexing worker process died before handing back its documents; nothing was committed."""


class _Parent:
    """The writer process that started this worker, and whether it still runs.

    Under the ``fork`` start method (Linux's default up to Python 3.13) the
    writer is this process's OS parent, and a change of ``os.getppid()``
    means it died. Under ``forkserver`` (the default from 3.14) the OS parent
    is the fork server, so liveness comes from multiprocessing's own parent
    sentinel, or failing that from signalling the writer's pid.
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.direct = os.getppid() == pid

    def alive(self) -> bool:
        if self.direct:
            return os.getppid() == self.pid
        parent = multiprocessing.parent_process()
        if parent is not None and parent.pid == self.pid:
            return parent.is_alive()
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass
        return True


def die_with_parent(parent_pid: int) -> _Parent:
    """Make the calling process end when the writer process ``parent_pid`` ends; exit now if it already has."""
    parent = _Parent(parent_pid)
    if not (parent.direct and _kernel_death_signal()):
        threading.Thread(target=_watch_parent, args=(parent,), name="parent-watch", daemon=True).start()
    if not parent.alive():  # the writer died before the watch was armed
        os._exit(1)
    return parent


def _kernel_death_signal() -> bool:
    """Ask Linux to SIGKILL this process when its parent (thread) ends; False where that is not available."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch_parent(parent: _Parent) -> None:
    event = threading.Event()
    while not event.wait(POLL_SECONDS):
        if not parent.alive():
            os._exit(1)


class _ParentCheckingQueue:
    """A worker's view of the job queue: ``get`` wakes up every second to check that the parent lives."""

    def __init__(self, jobs: Any, parent: _Parent) -> None:
        self._jobs = jobs
        self._parent = parent

    def get(self) -> Any:
        while True:
            try:
                return self._jobs.get(timeout=POLL_SECONDS)
            except queue.Empty:
                if not self._parent.alive():
                    os._exit(1)


class _GuardedSubWriterTask(SubWriterTask):
    """Whoosh's worker, bound to the life of the process that started it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.parent_pid = os.getpid()  # set in the parent, read in the child

    def run(self) -> None:
        # A worker started as a fresh interpreter (spawn, forkserver) imports only Whoosh:
        # the guard goes on its index reads there too.
        install_whoosh_guard()

        parent = die_with_parent(self.parent_pid)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        self.jobqueue = _ParentCheckingQueue(self.jobqueue, parent)
        super().run()


class _WorkerCheckingQueue:
    """The parent's view of a queue: never waits on workers that are dead, and says when one died."""

    def __init__(self, inner: Any, tasks: list[SubWriterTask]) -> None:
        self._inner = inner
        self._tasks = tasks

    def _check(self) -> None:
        dead = [t for t in self._tasks if t.exitcode not in (None, 0)]
        if dead:
            codes = ", ".join(f"pid {t.pid} exit {t.exitcode}" for t in dead)
            raise IndexingWorkerError(
                f"an indexing process died before handing back its documents ({codes}); nothing was committed. "
                "Fix: run the command again (with --procs 1 if it keeps happening, e.g. out of memory)"
            )

    def put(self, item: Any) -> None:
        while True:
            self._check()
            try:
                self._inner.put(item, timeout=POLL_SECONDS)
                return
            except queue.Full:
                continue

    def get(self, timeout: float | None = None) -> Any:  # noqa: ARG002 - Whoosh's result wait is too short to be a signal
        """A worker's result: waits while any worker that has not reported is alive."""
        while True:
            try:
                return self._inner.get(timeout=POLL_SECONDS)
            except queue.Empty:
                self._check()
                if not any(t.is_alive() for t in self._tasks):
                    self._check()
                    raise IndexingWorkerError(
                        "an indexing process ended without handing back its documents; nothing was committed. "
                        "Fix: run the command again"
                    ) from None


class GuardedMpWriter(MpWriter):
    """Whoosh's multiprocessing writer whose workers die with it, stop when cancelled, and never fail silently."""

    def __init__(self, ix: Any, **kwargs: Any) -> None:
        super().__init__(ix, **kwargs)
        self._jobs = self.jobqueue
        self._results = self.resultqueue
        self.jobqueue = _WorkerCheckingQueue(self._jobs, self.tasks)
        self.resultqueue = _WorkerCheckingQueue(self._results, self.tasks)

    def _new_task(self) -> SubWriterTask:
        task = _GuardedSubWriterTask(
            self.storage, self.indexname, self._jobs, self._results, self.subargs, self.multisegment
        )
        task.daemon = True  # and multiprocessing ends it when this process exits normally
        self.tasks.append(task)
        task.start()
        return task

    def _stop_workers(self) -> None:
        for task in self.tasks:
            if task.is_alive():
                task.terminate()
        for task in self.tasks:
            task.join()

    def commit(self, *args: Any, **kwargs: Any) -> None:
        try:
            super().commit(*args, **kwargs)
        except BaseException:
            self._stop_workers()  # a failed commit leaves no worker waiting for jobs
            raise

    def cancel(self) -> None:
        try:
            self._stop_workers()
        finally:
            super().cancel()
