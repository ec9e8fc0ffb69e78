"""Precision and recall of near-copy folding, from the judged ANT pairs (``eval/folding/ant-pairs.tsv``).

The pairs were drawn at random from cells of the pairs of ANT articles that are close (estimated
Jaccard similarity of the bodies' 3-word shingles at least 0.2; or, within 3 days, of the leads'
at least 0.2, or headlines sharing 40 % of their words: ``scripts/fold_sample.py``), by bin and by
whether both come from one outlet; each row carries its cell's size, so every figure here is
weighted back to the population of close pairs. Labels: 2 a
copy (the same story, largely the same text), 1 the same story in the outlet's own words, 0
another story. A folded pair is correct when it tells one story (label >= 1; ``strict``: a copy);
recall is over the copies (label 2). See eval/folding/README.md and docs/evaluation.md.

    python scripts/fold_eval.py                      # the archive's settings, on each half
    python scripts/fold_eval.py --tune               # choose settings on the dev half, report on both
    python scripts/fold_eval.py --index DIR --half test   # what an index built with them folded
"""

from __future__ import annotations

import argparse
import csv
import itertools
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAIRS = ROOT / "eval" / "folding" / "ant-pairs.tsv"
sys.path.insert(0, str(ROOT))


@dataclass(frozen=True)
class Pair:
    half: str
    cell: str
    cell_pairs: int
    a: str
    b: str
    same_source: bool
    similarity: float
    lead: float
    days: float | None
    shingles: int
    label: int


@dataclass(frozen=True)
class Rule:
    """A pair is folded when both have ``min_shingles``, are at most ``max_days`` apart and their
    bodies' similarity reaches ``cross`` (two outlets) or ``same`` (one outlet), or, from two outlets,
    their leads' reaches ``lead`` (None: leads not compared)."""

    cross: float
    same: float
    max_days: float
    min_shingles: int
    lead: float | None = None

    def folds(self, pair: Pair) -> bool:
        if pair.shingles < self.min_shingles or (pair.days is not None and pair.days > self.max_days):
            return False
        if self.lead is not None and not pair.same_source and pair.lead >= self.lead:
            return True
        return pair.similarity >= (self.same if pair.same_source else self.cross)


def read_pairs(path: Path = PAIRS) -> list[Pair]:
    """The judged pairs; a malformed row raises ValueError naming the line and field."""
    pairs = []
    with open(path, encoding="utf-8", newline="") as fh:
        for line, row in enumerate(csv.DictReader(fh, delimiter="\t"), 2):
            try:
                label = int(row["label"])
                if label not in (0, 1, 2):
                    raise ValueError("label")
                pairs.append(Pair(
                    half=row["half"], cell=row["cell"], cell_pairs=int(row["cell_pairs"]), a=row["a"], b=row["b"],
                    same_source=row["source_a"] == row["source_b"], similarity=float(row["similarity"]),
                    lead=float(row["lead"]),
                    days=float(row["days_apart"]) if row["days_apart"] else None,
                    shingles=min(int(row["shingles_a"]), int(row["shingles_b"])), label=label,
                ))
            except (KeyError, ValueError) as exc:
                raise ValueError(f"{path}:{line}: bad field {exc}") from None
    return pairs


def weighted(pairs: list[Pair], folded: dict[tuple[str, str], bool]) -> dict[str, float]:
    """Precision (one story; strict: a copy) and recall (of copies; loose: of one story), each pair
    weighted by its cell's size over the cell's judged pairs in ``pairs``."""
    judged: dict[str, int] = {}
    for p in pairs:
        judged[p.cell] = judged.get(p.cell, 0) + 1
    sums = dict.fromkeys(("folded", "story", "copy", "copies", "stories", "found_copies", "found_stories"), 0.0)
    for p in pairs:
        w = p.cell_pairs / judged[p.cell]
        f = folded[(p.a, p.b)]
        sums["folded"] += w * f
        sums["story"] += w * (f and p.label >= 1)
        sums["copy"] += w * (f and p.label == 2)
        sums["copies"] += w * (p.label == 2)
        sums["stories"] += w * (p.label >= 1)
        sums["found_copies"] += w * (f and p.label == 2)
        sums["found_stories"] += w * (f and p.label >= 1)

    def ratio(a: float, b: float) -> float:
        return a / b if b else float("nan")

    return {
        "precision": ratio(sums["story"], sums["folded"]), "precision_strict": ratio(sums["copy"], sums["folded"]),
        "recall": ratio(sums["found_copies"], sums["copies"]),
        "recall_loose": ratio(sums["found_stories"], sums["stories"]),
        "pairs": len(pairs), "folded_pairs": sum(folded[(p.a, p.b)] for p in pairs),
        "copy_pairs": sum(p.label == 2 for p in pairs),
    }


def _show(name: str, m: dict[str, float]) -> None:
    print(f"{name}: precision {m['precision']:.3f} (strict {m['precision_strict']:.3f}), recall {m['recall']:.3f} "
          f"(loose {m['recall_loose']:.3f}); {m['pairs']} judged pairs, {m['folded_pairs']} folded, "
          f"{m['copy_pairs']} copies")


def by_rule(pairs: list[Pair], rule: Rule) -> dict[str, float]:
    return weighted(pairs, {(p.a, p.b): rule.folds(p) for p in pairs})


def interval(pairs: list[Pair], folded: dict[tuple[str, str], bool], rounds: int = 2000,
             seed: int = 25) -> dict[str, tuple[float, float]]:
    """95 % intervals of precision and recall: the judged pairs resampled within each cell."""
    import random

    rng = random.Random(seed)
    cells: dict[str, list[Pair]] = {}
    for p in pairs:
        cells.setdefault(p.cell, []).append(p)
    seen: dict[str, list[float]] = {"precision": [], "recall": []}
    for _ in range(rounds):
        drawn = [q for members in cells.values() for q in rng.choices(members, k=len(members))]
        # a pair drawn twice counts twice: key the draws apart
        marks = {(i, q.a, q.b): folded[(q.a, q.b)] for i, q in enumerate(drawn)}
        renamed = [Pair(q.half, q.cell, q.cell_pairs, f"{i}:{q.a}", q.b, q.same_source, q.similarity, q.lead,
                        q.days, q.shingles, q.label) for i, q in enumerate(drawn)]
        m = weighted(renamed, {(r.a, r.b): marks[(i, q.a, q.b)] for i, (r, q) in enumerate(zip(renamed, drawn))})
        for name in seen:
            if m[name] == m[name]:
                seen[name].append(m[name])
    out = {}
    for name, values in seen.items():
        values.sort()
        out[name] = (values[int(0.025 * len(values))], values[int(0.975 * len(values)) - 1])
    return out


def tune(pairs: list[Pair], floor: float = 0.95) -> Rule:
    """The rule of highest recall whose precision reaches ``floor`` on ``pairs`` (ties: higher precision)."""
    best: tuple[float, float, Rule] | None = None
    grid = itertools.product([x / 100 for x in range(25, 71, 5)], [x / 100 for x in range(50, 96, 5)],
                             [1, 2, 3, 7], [20], [None, *(x / 100 for x in range(20, 61, 5))])
    for cross, same, days, shingles, lead in grid:
        rule = Rule(cross, same, days, shingles, lead)
        m = by_rule(pairs, rule)
        if m["precision"] >= floor and (best is None or (m["recall"], m["precision"]) > best[:2]):
            best = (m["recall"], m["precision"], rule)
    if best is None:
        raise SystemExit(f"no setting reaches precision {floor} on these pairs")
    return best[2]


def by_index(pairs: list[Pair], index: Path) -> dict[str, float]:
    """Precision and recall of what the index at ``index`` folded (two articles in one group)."""
    from archive.index.layout import current_generation
    from archive.index.near import NearStore

    store = NearStore.read(current_generation(index))
    if store is None:
        raise SystemExit(f"{index}: no near-copies store")
    group = {doc_id: g for g, members in enumerate(store.clusters()) for doc_id in members}
    missing = [p for p in pairs if p.a not in store.ids or p.b not in store.ids]
    if missing:
        print(f"note: {len(missing)} judged pairs name an article the index does not hold (left out)")
    kept = [p for p in pairs if p not in missing]
    return weighted(kept, {(p.a, p.b): p.a in group and group.get(p.a) == group.get(p.b) for p in kept})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=Path, default=PAIRS)
    parser.add_argument("--tune", action="store_true", help="choose the settings on the dev half")
    parser.add_argument("--index", type=Path, help="score what this index folded instead of a rule")
    parser.add_argument("--half", choices=("dev", "test", "both"), default="both")
    parser.add_argument("--intervals", action="store_true", help="bootstrap 95 %% intervals (pairs resampled per cell)")
    args = parser.parse_args()
    pairs = [p for p in read_pairs(args.pairs) if not p.cell.startswith("transitive/")]
    halves = {"dev": [p for p in pairs if p.half == "dev"], "test": [p for p in pairs if p.half == "test"],
              "both": pairs}
    if args.index is not None:
        for half in ("dev", "test", "both") if args.half == "both" else (args.half,):
            _show(f"index {args.index}, {half}", by_index(halves[half], args.index))
        return
    if args.tune:
        rule = tune(halves["dev"])
        print(f"chosen on the dev half: {rule}")
    else:
        from archive.index import near_build as folding

        rule = Rule(folding.THRESHOLD, folding.SAME_SOURCE_THRESHOLD, folding.MAX_DAYS, folding.MIN_SHINGLES,
                    folding.LEAD_THRESHOLD)
        print(f"the archive's settings: {rule}")
    for half in ("dev", "test", "both"):
        _show(half, by_rule(halves[half], rule))
        if args.intervals:
            ci = interval(halves[half], {(p.a, p.b): rule.folds(p) for p in halves[half]})
            (p_low, p_high), (r_low, r_high) = ci["precision"], ci["recall"]
            print(f"  95 % intervals: precision {p_low:.3f}–{p_high:.3f}, recall {r_low:.3f}–{r_high:.3f}")


if __name__ == "__main__":
    main()
