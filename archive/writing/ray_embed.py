"""Embed a build's passages on a Ray cluster: the one part of a build too big for one machine.

The embedding cache (:mod:`archive.index.embcache`) is the hand-off. This process
(the *driver*) finds which passage texts the cache lacks, sends them in
batches to a pool of Ray actors (one encoder loaded per actor), and writes
each batch's vectors into the cache as it comes back, so an interrupted job
keeps everything it finished. A normal build afterwards finds every passage
cached and writes and commits the index exactly as a local build does: the
Ray job never touches the index, and the archive it leads to is the same.

- **Batches grouped by length**: within each window of :data:`WINDOW` texts
  (in the caller's order, so a caller's priority such as leads first holds
  window by window), texts are sorted by length and cut into batches, so a
  batch's texts need about the same work and padding encoders pad little.
- **Dead workers**: a batch whose worker died (process killed, node lost,
  out of memory) goes back to the head of the queue and is retried by any
  live worker; the dead actor is replaced by a new one (at most
  :data:`MAX_ATTEMPTS` replacements per worker), which gets work once it has
  loaded its encoder (so one that cannot be placed holds no batch). A batch
  that fails :data:`MAX_ATTEMPTS` times, an error raised by the encoder itself
  (it would be on every node), or a pool with no live worker stops the job
  with :class:`RayJobError` (the cache keeps what was done).
- **Same encoder everywhere**: every actor reports its encoder's name and
  dimension, and they must equal this machine's (the cache key includes
  the name, so vectors of another version would never be found by the build).

Ray is an optional dependency (``pip install 'news-archive[ray]'``); without
it :func:`embed_texts` raises :class:`RayUnavailableError`. Ray's usage
statistics (which would reach the network) are off unless the environment
sets ``RAY_USAGE_STATS_ENABLED``.
"""

from __future__ import annotations

import functools
import os
import re
import socket
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .building import BuildReport, EmbedJobStats, Progress, fold_duplicates, unique_ids
from ..document import Document
from ..index.embcache import CACHE_NAME, EmbeddingCache
from ..encoders.base import Encoder
from ..encoders.engines.select import requested
from ..encoders.registry import get_encoder
from ..errors import ArchiveError, EncoderError, UsageError

INSTALL_HINT = "pip install 'news-archive[ray]'"
BATCH_SIZE = 64
"""Texts per batch: large enough that an actor call's overhead (milliseconds) is noise
beside the encoding (seconds for e5-small), small enough that a lost batch costs little."""
WINDOW = 4096
"""Texts sorted by length together: the caller's order holds between windows."""
MAX_ATTEMPTS = 3
"""Tries per batch before the job stops: a batch that kills every worker it meets is not retried forever."""
CONNECT_TIMEOUT = 10.0
"""Seconds to wait for a cluster's head to accept a connection before saying it cannot be reached."""
IN_FLIGHT = 2
"""Batches queued on each actor, so it starts the next one while the driver stores the last."""

EncoderFactory = Callable[[str, int], Encoder | None]
"""``make(spec, threads)``: the encoder an actor loads (default: the registry's)."""


class RayUnavailableError(ArchiveError):
    """Ray is not installed (the message says how to install it)."""


class NothingToEmbedError(UsageError):
    """Ray was asked to embed for a lexical-only archive (``encoder="none"``): it has no passages to embed."""


class RayJobError(ArchiveError):
    """The Ray job could not finish: no cluster, a worker that cannot load the encoder, too many failures."""


def registry_encoder(spec: str, threads: int, engine: str | None = None) -> Encoder | None:
    """The registry's encoder for ``spec`` with ``threads`` CPU threads (the default factory);
    ``engine`` as the driver asked (``auto``: each worker's fastest)."""
    return get_encoder(spec, threads=threads, engine=engine)


def passage_texts(documents: Iterable[Document], max_passages: int | None = None) -> list[str]:
    """The texts a build of ``documents`` embeds, in the order the build plans them.

    The same selection as a build: first copy of each id, identical bodies
    folded, each article split as the dense side splits it (at most
    ``max_passages`` passages each: the passage policy, default all).
    """
    from ..index.dense import MAX_PASSAGES, plan_passages  # the dense side's own splitting, reused as is

    canonical, _ = fold_duplicates(unique_ids(documents, BuildReport()))
    return plan_passages(canonical, 0, max_passages or MAX_PASSAGES)[1]


def length_batches(texts: Sequence[str], batch_size: int = BATCH_SIZE, window: int = WINDOW) -> list[list[str]]:
    """``texts`` cut into batches of similar length (longest first within each window of the input order)."""
    if batch_size < 1 or window < 1:
        raise ValueError("batch_size and window must be positive")
    batches: list[list[str]] = []
    for start in range(0, len(texts), window):
        chunk = sorted(texts[start : start + window], key=len, reverse=True)
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    return batches


def require_ray() -> Any:
    """The ``ray`` module, or :class:`RayUnavailableError` saying how to install it."""
    try:
        import ray
    except ImportError:
        raise RayUnavailableError(f"running on Ray needs the ray package, which is not installed. Fix: {INSTALL_HINT}") from None
    return ray


class EmbedWorker:
    """One encoder in one Ray actor: encodes the passage batches the driver sends."""

    def __init__(self, spec: str, make: EncoderFactory, threads: int) -> None:
        encoder = make(spec, threads)
        if encoder is None:
            raise EncoderError(f"encoder {spec!r} embeds nothing")
        self._encoder = encoder

    def identity(self) -> tuple[str, int, str]:
        """``(encoder name, dimension, host name)``: checked against the driver's before any work."""
        return self._encoder.name, self._encoder.dim, os.uname().nodename

    def encode(self, texts: list[str]) -> tuple[str, np.ndarray]:
        """``(encoder name, vectors)``: the name is checked with every batch, as the cache key depends on it."""
        return self._encoder.name, np.asarray(self._encoder.encode_passages(texts), dtype=np.float32)


def check_address(address: str | None) -> None:
    """Fail at once when a ``HOST:PORT`` cluster address (or ``$RAY_ADDRESS``) is malformed or refuses connections.

    Ray itself keeps retrying an unreachable address for minutes. ``auto``,
    ``ray://`` (Ray Client) and no address are left to Ray.
    """
    address = address or os.environ.get("RAY_ADDRESS")
    if not address or address == "auto" or "://" in address:
        return
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise RayJobError(f"{address!r} is not a Ray cluster address: write HOST:PORT (the head's, e.g. "
                          "10.0.0.5:6379), ray://HOST:10001 or auto")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT).close()
    except OSError as exc:
        raise RayJobError(f"cannot reach the Ray cluster at {address} ({exc.strerror or exc}). "
                          "Fix: start it with `ray start --head`, or check the address") from None


def _connect(ray: Any, address: str | None) -> bool:
    """Join the cluster at ``address`` (None: ``$RAY_ADDRESS``, a running one, else a new local one).

    True when this call connected (and so should disconnect). An existing
    connection of this process is used as it is.
    """
    if ray.is_initialized():
        return False
    check_address(address)
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    try:
        ray.init(address=address, log_to_driver=False, configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = address or os.environ.get("RAY_ADDRESS") or "this machine"
        raise RayJobError(f"cannot join the Ray cluster at {where} ({_cause(exc)}). "
                          "Fix: start one with `ray start --head`, or give its address") from None
    return True


def embed_texts(
    texts: Sequence[str],
    encoder_spec: str,
    cache_path: Path,
    *,
    address: str | None = None,
    workers: int | None = None,
    cpus_per_worker: int = 1,
    batch_size: int = BATCH_SIZE,
    progress: Progress | None = None,
    make_encoder: EncoderFactory = registry_encoder,
) -> EmbedJobStats:
    """Embed every text of ``texts`` that the cache at ``cache_path`` lacks, on Ray; store the vectors there.

    ``encoder_spec`` is a registry name (``e5-small``, ``use``, ``st:…``);
    each actor loads it with ``cpus_per_worker`` threads. ``workers``
    defaults to the cluster's CPUs divided by ``cpus_per_worker``. Nothing
    is started when every text is cached. ``progress("embed", done, total)``
    follows the distinct texts stored.
    """
    if make_encoder is registry_encoder:  # the workers run the engine this process was asked for
        make_encoder = functools.partial(registry_encoder, engine=requested())
    started = time.perf_counter()
    if cpus_per_worker < 1 or (workers is not None and workers < 1):
        raise ValueError("workers and cpus_per_worker must be positive")
    local = make_encoder(encoder_spec, 1)
    if local is None:
        raise EncoderError(f"encoder {encoder_spec!r} embeds nothing: there is nothing to run on Ray")
    with EmbeddingCache(cache_path, local.name, local.dim) as cache:
        _, found = cache.get_many(texts)
        todo = list(dict.fromkeys(t for t, hit in zip(texts, found.tolist()) if not hit))
        cached = int(found.sum())
        if not todo:
            return EmbedJobStats(0, cached, 0, 0, 0, time.perf_counter() - started)
        ray = require_ray()
        connected = _connect(ray, address)
        try:
            if workers is None:
                workers = int(ray.cluster_resources().get("CPU", 0) // cpus_per_worker)
                if workers < 1:
                    raise RayJobError(f"the Ray cluster has no node with {cpus_per_worker} CPUs for a worker")
            pool = _Pool(ray, encoder_spec, make_encoder, (local.name, local.dim), workers, cpus_per_worker)
            try:
                batches = length_batches(todo, batch_size)
                pool.run(batches, cache, progress)
            finally:
                pool.close()
        finally:
            if connected:
                ray.shutdown()
    return EmbedJobStats(len(todo), cached, workers, len(batches), pool.retried, time.perf_counter() - started)


@dataclass(slots=True)
class _Slot:
    """One place in the pool: its current actor, whether it has loaded its encoder, its queued batches."""

    actor: Any
    ready: bool = False
    load: int = 0


class _Pool:
    """The actors, kept at full strength: a dead one is replaced and its batches requeued (see the module)."""

    def __init__(
        self, ray: Any, spec: str, make: EncoderFactory, expected: tuple[str, int], workers: int, cpus: int
    ) -> None:
        self._ray = ray
        ex = ray.exceptions  # the errors that mean a worker or its node went away (the batch is not at fault)
        self._lost = (ex.RayActorError, ex.WorkerCrashedError, ex.NodeDiedError, ex.OutOfMemoryError,
                      ex.ObjectLostError)
        self._spec = spec
        self._expected = expected
        actor_class = ray.remote(num_cpus=cpus, max_restarts=0)(EmbedWorker)
        self._new_actor = lambda: actor_class.remote(spec, make, cpus)
        self._slots: list[_Slot] = []
        self._starting: dict[Any, _Slot] = {}  # identity ref -> slot
        self.replacements = MAX_ATTEMPTS * workers
        self.retried = 0
        for _ in range(workers):
            self._slots.append(self._start(_Slot(None)))

    def _start(self, slot: _Slot) -> _Slot:
        slot.actor, slot.ready, slot.load = self._new_actor(), False, 0
        self._starting[slot.actor.identity.remote()] = slot
        return slot

    def _started(self, ref: Any, slot: _Slot) -> None:
        """Check a new actor's encoder: one that raised stops the job, a worker that died loading is replaced."""
        try:
            name, dim, host = self._ray.get(ref)
        except self._lost as exc:
            if not getattr(exc, "actor_init_failed", False):
                self._replace(slot, slot.actor)
                return
            raise RayJobError(f"a Ray worker could not load encoder {self._spec!r}: {_cause(exc, raised=True)}. "
                              "Fix: install news-archive (the same version) on every node") from None
        except self._ray.exceptions.RayError as exc:
            raise RayJobError(f"a Ray worker could not start: {_cause(exc, raised=True)}") from None
        if (name, dim) != self._expected:
            raise RayJobError(
                f"the Ray worker on {host} runs encoder {name} ({dim} dimensions), this machine "
                f"{self._expected[0]} ({self._expected[1]}): install the same news-archive and encoder "
                "versions on every node"
            )
        slot.ready = True

    def run(self, batches: list[list[str]], cache: EmbeddingCache, progress: Progress | None) -> None:
        """Send ``batches`` to the actors until every one is stored in ``cache``."""
        ray = self._ray
        total = sum(map(len, batches))
        queue = deque(range(len(batches)))
        attempts = [0] * len(batches)
        running: dict[Any, tuple[_Slot, Any, int]] = {}  # result ref -> (slot, actor, batch)
        done = 0
        given_up: list[str] = []
        if progress is not None:
            progress("embed", 0, total)
        while queue or running:
            for slot in self._slots:
                while queue and slot.ready and slot.load < IN_FLIGHT:
                    batch = queue.popleft()
                    attempts[batch] += 1
                    running[slot.actor.encode.remote(batches[batch])] = (slot, slot.actor, batch)
                    slot.load += 1
            if not running and not self._starting:
                raise RayJobError(f"every Ray worker died; {done} of {total} passages were embedded and kept in the cache")
            [ref], _ = ray.wait([*running, *self._starting], num_returns=1)
            if ref in self._starting:
                self._started(ref, self._starting.pop(ref))
                continue
            slot, actor, batch = running.pop(ref)
            try:
                name, vectors = ray.get(ref)
            except self._lost as exc:
                self._replace(slot, actor)
                if attempts[batch] >= MAX_ATTEMPTS:  # given up; the other batches still finish and are kept
                    given_up.append(f"a batch of {len(batches[batch])} passages failed {attempts[batch]} times, "
                                    f"its worker dying each time (last: {_cause(exc)})")
                    continue
                queue.appendleft(batch)
                self.retried += 1
                continue
            except ray.exceptions.RayTaskError as exc:
                raise RayJobError(f"the encoder failed on a Ray worker: {_cause(exc, raised=True)}") from None
            except ray.exceptions.RayError as exc:  # the cluster itself failed (object store, raylet...)
                raise RayJobError(f"the Ray job failed: {_cause(exc)}; {done} of {total} passages were embedded "
                                  "and kept in the cache") from None
            if slot.actor is actor:
                slot.load -= 1
            texts = batches[batch]
            if name != self._expected[0] or vectors.shape != (len(texts), self._expected[1]):
                raise RayJobError(f"a Ray worker returned {vectors.shape} vectors of {name} for {len(texts)} texts")
            cache.put_many(texts, vectors)
            done += len(texts)
            if progress is not None:
                progress("embed", done, total)
        if given_up:
            raise RayJobError(f"{given_up[0]}; {done} of {total} passages were embedded and kept in the cache")

    def _replace(self, slot: _Slot, dead: Any) -> None:
        """Give ``slot`` a new actor, unless that was already done for ``dead`` or the budget is spent."""
        if slot.actor is not dead:
            return
        self._ray.kill(dead, no_restart=True)
        if self.replacements > 0:
            self.replacements -= 1
            self._start(slot)
        else:
            self._slots.remove(slot)

    def close(self) -> None:
        for slot in self._slots:
            self._ray.kill(slot.actor, no_restart=True)


def _cause(exc: BaseException, *, raised: bool = False) -> str:
    """One line of a Ray error: with ``raised``, the worker's own exception, else what happened to it.

    Ray's messages run to dozens of lines: an error raised in a worker ends
    with the original ``Type: message`` line; a lost worker's starts with what happened.
    """
    lines = [line.strip() for line in _ANSI.sub("", str(exc)).splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    return lines[-1] if raised else lines[0]


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def embed_build(
    documents: Iterable[Document],
    index: Path,
    encoder_spec: str,
    *,
    progress: Progress | None = None,
    **options: Any,
) -> EmbedJobStats:
    """Embed on Ray every passage a build of ``documents`` into ``index`` would embed and the cache lacks.

    ``options`` go to :func:`embed_texts`. Articles the archive keeps but
    ``documents`` do not hold are left to the build (their vectors are
    normally cached already).
    """
    texts = passage_texts(documents, options.pop("max_passages", None))
    return embed_texts(texts, encoder_spec, Path(index) / CACHE_NAME, progress=progress, **options)
