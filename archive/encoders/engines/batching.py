"""Padded batches of similar length, shared by the engines that run padded batches."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ..e5_model import E5Network

LENGTH_STEP = 16
"""Batch lengths are rounded up to a multiple of this, so a runtime sees few distinct shapes."""


def padded_length(length: int) -> int:
    """``length`` rounded up to a multiple of :data:`LENGTH_STEP`."""
    return -(-length // LENGTH_STEP) * LENGTH_STEP


def length_batches(windows: Sequence[np.ndarray], budget: int) -> list[list[int]]:
    """Indexes of ``windows`` in batches of similar length, longest first, each holding at most
    ``budget`` padded positions (a window longer than the budget makes a batch of its own).

    Sorting by length keeps padding to a few per cent of the positions, where batches in
    the texts' own order would pad every short passage to its batch's longest.
    """
    batches: list[list[int]] = []
    padded = 0
    for i in sorted(range(len(windows)), key=lambda i: len(windows[i]), reverse=True):
        if batches and (len(batches[-1]) + 1) * padded <= budget:
            batches[-1].append(i)
        else:
            batches.append([i])
            padded = padded_length(len(windows[i]))
    return batches


def padded_inputs(network: E5Network, windows: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The embeddings (word + position + type, ``[B, L, hidden]``) and the mask ``[B, L]``
    of one batch, padded to the batch's :func:`padded_length`."""
    length = padded_length(max(len(w) for w in windows))
    ids = np.full((len(windows), length), network.vocabulary.pad, dtype=np.int64)
    mask = np.zeros((len(windows), length), dtype=np.float32)
    for row, window in enumerate(windows):
        ids[row, : len(window)] = window
        mask[row, : len(window)] = 1.0
    return network.embeddings(ids), mask
