"""The knobs of ranking, in one value: field weights, BM25 parameters, how fields combine, fusion.

Everything here acts at query time on an index as built, so an evaluation can
try another setting on the same index (``scripts/tune.py``,
``scripts/evaluate.py --scoring``) without editing code or rebuilding; the
defaults are the ones chosen on the dev sets (docs/evaluation.md). What
changes the index itself (stemming, stop words, grams) lives in
:mod:`archive.text.analysis` and is recorded in the manifest.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from ..errors import ArchiveError

COMBINES = ("sum", "bm25f")


class ScoringError(ArchiveError):
    """A scoring setting out of range or unknown (names the setting and what it accepts)."""


@dataclass(frozen=True, slots=True)
class Scoring:
    """How an article's words are scored, and how the hybrid ranker mixes its signals.

    ``combine`` ``"sum"``: each field is a BM25 of its own (its weight
    multiplies the term frequency inside the saturation) and the fields'
    scores add up, so a term in title and body saturates twice. ``"bm25f"``:
    BM25F proper (Robertson, Zaragoza & Taylor 2004): per term, the fields'
    length-normalized frequencies are weighted and added first, then
    saturated once with ``k1``, with one idf over the articles holding the
    term in any searched field.
    """

    title_weight: float = 5.0
    """Weight of a title occurrence relative to a body occurrence (body: 1)."""
    k1: float = 0.9
    """Term-frequency saturation of the word signal."""
    b: float = 0.75
    """Length normalization of the body."""
    title_b: float = 0.75
    """Length normalization of the title."""
    combine: str = "bm25f"
    """``"sum"`` of per-field BM25 or ``"bm25f"`` (see the class docstring), in lexical mode."""
    hybrid_combine: str = "sum"
    """How fields combine for the word signal of hybrid ranking (its candidates and its column).
    Chosen apart from :attr:`combine`: as one of three z-scored signals, the per-field sum (a
    term in title and body counts twice) helps the fusion more than BM25F proper, which ranks
    better alone (docs/evaluation.md)."""
    gram_k1: float = 0.9
    """Saturation of the character-gram signal (hybrid only)."""
    gram_b: float = 1.0
    """Length normalization of the character-gram signal (hybrid only)."""
    gram_share: float = 0.8
    """Share of the hybrid lexical weight (``alpha``) that goes to the character grams; the rest
    goes to word BM25."""
    depth: int = 100
    """Candidates fetched from each side before hybrid fusion."""
    title_evidence: float = 0.6
    """Share of the dense side's weight the hybrid moves to the words when they stand in a title:
    a query's lexical weight is ``alpha + title_evidence * (1 - alpha) * coverage``, where
    ``coverage`` is the largest idf-weighted share of the query's distinct terms that the title of
    one of the top :data:`archive.search.ranking.EVIDENCE_DEPTH` word candidates holds. A headline that
    holds every word of a keyword query is strong evidence the words alone find; a paraphrase
    or a question meets few title words and keeps the dense side's full weight, as does every
    article without a title. 0: one weight for every query."""
    title_evidence_power: float = 1.0
    """The power ``p`` the title coverage is raised to in :attr:`title_evidence` (``coverage ** p``):
    above 1, a headline holding all of a query's words counts much more than one holding most
    (docs/evaluation.md: 2 with title evidence 0.7 wins leave-one-set-out on top of
    :attr:`words_alone`; 1 stays the default until the lead adopts it)."""
    words_alone: float = 0.5
    """When at least this share of the hybrid's top :data:`archive.search.ranking.EVIDENCE_DEPTH` word
    candidates have titles holding every term of the query, the hybrid ranks by the words alone,
    scored as lexical mode scores them (:attr:`combine`; :mod:`archive.search.adaptive`): so many
    headlines made of the query's words say the words have found the story, and the meaning side
    and the character grams mostly reorder it for the worse. 0 turns the rule off."""
    adaptive: bool = True
    """Hybrid weights that read the query beyond its titles (:mod:`archive.search.adaptive`): a query
    written in Latin letters only is ranked by meaning alone. Off: the fixed weights and title
    evidence only."""

    def __post_init__(self) -> None:
        for name in ("combine", "hybrid_combine"):
            if getattr(self, name) not in COMBINES:
                raise ScoringError(f"scoring {name} {getattr(self, name)!r}: choose one of {', '.join(COMBINES)}")
        if not 0.5 <= self.title_evidence_power <= 4.0:
            raise ScoringError(f"scoring title_evidence_power must be between 0.5 and 4, not {self.title_evidence_power!r}")
        for name in ("title_weight", "k1", "gram_k1"):
            if not getattr(self, name) >= 0:
                raise ScoringError(f"scoring {name} must be >= 0, not {getattr(self, name)!r}")
        if not isinstance(self.adaptive, bool):
            raise ScoringError(f"scoring adaptive must be true or false, not {self.adaptive!r}")
        for name in ("b", "title_b", "gram_b", "gram_share", "title_evidence", "words_alone"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ScoringError(f"scoring {name} must be between 0 and 1, not {getattr(self, name)!r}")
        if isinstance(self.depth, bool) or not isinstance(self.depth, int) or self.depth < 1:
            raise ScoringError(f"scoring depth must be a whole number >= 1, not {self.depth!r}")

    def for_hybrid(self) -> Scoring:
        """The setting the hybrid ranker's word signal uses (:attr:`hybrid_combine`)."""
        return self if self.combine == self.hybrid_combine else replace(self, combine=self.hybrid_combine)

    def field_params(self, field: str) -> tuple[float, float]:
        """``(weight, b)`` of a searched field."""
        return (self.title_weight, self.title_b) if field == "title" else (1.0, self.b)

    def with_options(self, text: str) -> Scoring:
        """This setting with ``name=value`` pairs (comma-separated) replaced, e.g. ``"k1=1.2,combine=bm25f"``."""
        types = {f.name: type(getattr(self, f.name)) for f in fields(self)}
        changes: dict[str, object] = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            name, sep, value = part.partition("=")
            name = name.strip().replace("-", "_")
            if not sep or name not in types:
                raise ScoringError(f"scoring option {part!r}: write name=value with a name among {', '.join(types)}")
            if types[name] is bool:
                word = value.strip().lower()
                if word not in ("true", "false", "1", "0", "on", "off"):
                    raise ScoringError(f"scoring option {part!r}: {value.strip()!r} is not true or false")
                changes[name] = word in ("true", "1", "on")
                continue
            try:
                changes[name] = types[name](value.strip())
            except ValueError:
                raise ScoringError(f"scoring option {part!r}: {value.strip()!r} is not a {types[name].__name__}") from None
        return replace(self, **changes)


DEFAULT_SCORING = Scoring()
