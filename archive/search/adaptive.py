"""The hybrid's per-query weights: how much words, character grams and meaning count for one query.

The hybrid ranker mixes three z-scored signals (word BM25, character 3-gram BM25, the best
passage's cosine; :mod:`archive.search.ranking`). Their weights are set for each query from
evidence measured when it runs, so that a query the words answer well leans on the words and
one they cannot answer leans on meaning. The rule, in order:

1. **A query in Latin letters** (it has letters and none of them Arabic: ``Khashoggi``,
   ``Cambridge Analytica``) is ranked by meaning alone: over Arabic news its words and their
   character grams meet only stray English words, while the multilingual encoder still
   places it near the story.
2. **Headlines made of the query's words**: when at least a share
   :attr:`~archive.index.scoring.Scoring.words_alone` (a half by default) of the word side's
   first candidates have titles holding every term of the query, the query is ranked by its
   words alone, scored as lexical mode scores them (BM25F proper). So many such headlines
   mean the archive holds the story under the query's own words (a keyword topic: ``انهيار
   الليرة التركية``); there the meaning side and the character grams mostly bring in articles
   near the topic that do not name it, and push down ones that do.
3. **Title evidence**: otherwise the lexical weight ``alpha`` grows to
   ``alpha + t (1 - alpha) c``, where ``c`` is the largest idf-weighted share of the query's
   terms that one title of the word side's first candidates holds (a headline holding the
   query's words is strong evidence the words alone find the story) and ``t`` is
   :attr:`~archive.index.scoring.Scoring.title_evidence` (``c`` may be raised to a power,
   :attr:`~archive.index.scoring.Scoring.title_evidence_power`, 1 by default).

The lexical weight is then split between word BM25 and the grams by
:attr:`~archive.index.scoring.Scoring.gram_share`; meaning gets the rest. Each step was kept
only because it won leave-one-set-out over the dev sets (docs/evaluation.md), where other
evidence (no query word in the archive, questions, the two sides' agreement, the peak of the
cosines, the number of query terms) did not.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from ..index.scoring import Scoring


def is_latin(text: str) -> bool:
    """True when ``text`` has letters and every one of them is a Latin letter (no Arabic letter,
    nor any other script's)."""
    letters = [c for c in text if c.isalpha()]
    return bool(letters) and all(unicodedata.name(c, "").startswith("LATIN") for c in letters)


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the hybrid ranker measured of one query before fusing (see the module docstring)."""

    title: float
    """The title coverage ``c``, in [0, 1]."""
    latin: bool
    """The query is written in Latin letters only (:func:`is_latin`)."""
    title_depth: float = 0.0
    """The share of the word side's first candidates whose titles hold every term of the query, in [0, 1]."""

    def __post_init__(self) -> None:
        for name in ("title", "title_depth"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"evidence {name} must be between 0 and 1, not {value!r}")


@dataclass(frozen=True, slots=True)
class Weights:
    """The weights of the three signals for one query; they add up to 1."""

    words: float
    grams: float
    meaning: float
    lexical_words: bool = False
    """The word signal is scored as lexical mode scores it (BM25F proper), not as the hybrid's
    per-field sum (:attr:`archive.index.scoring.Scoring.hybrid_combine`): rule 2 of the module docstring."""

    def as_list(self) -> list[float]:
        return [self.words, self.grams, self.meaning]


def signal_weights(alpha: float, evidence: Evidence, scoring: Scoring) -> Weights:
    """The weights of word BM25, character grams and meaning for a query with ``evidence``.

    ``alpha`` is the archive's (or the caller's) base lexical weight, in [0, 1];
    ``scoring.adaptive`` off skips step 1 of the module docstring, ``scoring.words_alone`` 0
    skips step 2 (title evidence stays, set by ``scoring.title_evidence``).
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be between 0 and 1, not {alpha!r}")
    if scoring.adaptive and evidence.latin:
        return Weights(0.0, 0.0, 1.0)
    if scoring.words_alone > 0.0 and evidence.title_depth >= scoring.words_alone:
        return Weights(1.0, 0.0, 0.0, lexical_words=True)
    lexical = alpha + scoring.title_evidence * (1.0 - alpha) * evidence.title ** scoring.title_evidence_power
    share = scoring.gram_share
    return Weights(lexical * (1.0 - share), lexical * share, 1.0 - lexical)
