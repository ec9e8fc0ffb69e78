"""One BLAS thread for small and memory-bound products, whatever the machine's BLAS would use.

OpenBLAS splits even a matrix-vector product across its threads, and its threads wait for
each other spinning: on a shared machine, where another process holds a core, such a product
waits for the descheduled thread, many times its own cost (the figures are in
docs/performance.md). The e5 encoder's numpy path runs every product on one BLAS thread for
the same reason (:mod:`archive.encoders.e5`).
"""

from __future__ import annotations

from typing import Any

_CONTROLLER: list[Any] = []
"""threadpoolctl's controller of the BLAS libraries loaded, made on first use."""


def one_blas_thread() -> Any:
    """A context manager: one BLAS thread while it is held."""
    if not _CONTROLLER:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0].limit(limits=1, user_api="blas")
