"""Which of an article's nearest articles its story keeps: scored on the judged seeds of ANT.

    python scripts/story_membership.py --index /tmp/antonly/index
    python scripts/story_membership.py --index /tmp/antonly/index --json docs/story-membership.json

``eval/story-membership/judged.tsv`` holds 30 ANT articles (seeds) drawn at random, each with
its 100 nearest articles by meaning (no floor), every one judged by reading: 2 the same story,
1 a related story (same team, country or conflict, another event), 0 another story (see the
set's README). 20 seeds (``tune``) chose :data:`archive.search.related.STORY_Z`; 10 more
(``report``), drawn and judged afterwards, only report it.

For each seed the archive (built from ANT with e5-small, opened read-only) gives the seed's
background (:func:`archive.search.related.background`: a sample of the archive, its most similar
share left out) and so each neighbour's standard score; a bound ``z`` keeps the neighbours at or above it, as
``Archive.story`` does. Per set and bound: the share of kept articles that are another story
(noise), the share of same-story articles kept (recall), their F0.5 (precision counted as
1 - noise: a related story is no noise on a timeline), the articles kept per seed and the other
stories among them per seed. Pooled over the seeds of a set (micro); the bound was chosen on the
F0.5 of the ``tune`` seeds.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from archive import Archive  # noqa: E402
from archive.search.related import BACKGROUND_MIN, STORY_Z, background, nearest_by_vectors  # noqa: E402

JUDGED = Path(__file__).resolve().parents[1] / "eval" / "story-membership" / "judged.tsv"
BOUNDS = [round(z, 2) for z in np.arange(4.0, 6.01, 0.05)]
"""The bounds swept (``STORY_Z`` among them)."""
BETA = 0.5
"""F-beta weighs the noise a reader sees twice as much as the story's articles missed."""


def read_judged(path: Path = JUDGED) -> dict[tuple[str, str], list[tuple[str, int]]]:
    """``{(set, seed id): [(neighbour id, label), ...] in rank order}``."""
    seeds: dict[tuple[str, str], list[tuple[str, int]]] = defaultdict(list)
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            seeds[(row["set"], row["seed"])].append((row["id"], int(row["label"])))
    return dict(seeds)


def standard_scores(archive: Archive, seed: str, neighbours: list[str]) -> np.ndarray:
    """Each neighbour's similarity to ``seed`` as a standard score against the seed's background."""
    searcher = archive._searcher  # noqa: SLF001 - an evaluation reads the index as the library does
    ordinal = searcher.lexical.ordinal_of(seed)
    near = nearest_by_vectors(searcher.dense, ordinal, len(neighbours))
    if near is None:
        raise SystemExit(f"{seed} has no passage vector: is {archive.path} built with e5-small?")
    score = {searcher.dense.ids[o]: s for o, s, _ in near}
    missing = [i for i in neighbours if i not in score]
    if missing:
        raise SystemExit(f"{seed}: {len(missing)} judged neighbours are no longer among its nearest "
                         f"({missing[:3]}): the archive differs from the one judged")
    spread = background(searcher.dense, ordinal)
    if spread is None or spread[1] <= 0:
        raise SystemExit(f"{seed}: no background to measure (an archive of fewer than {BACKGROUND_MIN} articles?)")
    return (np.array([score[i] for i in neighbours]) - spread[0]) / spread[1]


def measure(seeds: list[tuple[np.ndarray, np.ndarray]], bound: float) -> dict[str, float]:
    """Noise, recall, F0.5 and articles kept per seed, pooled over ``seeds`` ((scores, labels) each)."""
    kept = noise = same_kept = same = 0
    for z, labels in seeds:
        keep = z >= bound
        kept += int(keep.sum())
        noise += int((keep & (labels == 0)).sum())
        same_kept += int((keep & (labels == 2)).sum())
        same += int((labels == 2).sum())
    precision = 1 - noise / kept if kept else 1.0
    recall = same_kept / same if same else 1.0
    f = (1 + BETA**2) * precision * recall / (BETA**2 * precision + recall) if precision + recall else 0.0
    return {"noise": round(1 - precision, 4), "recall": round(recall, 4), "f05": round(f, 4),
            "kept_per_seed": round(kept / len(seeds), 1), "noise_per_seed": round(noise / len(seeds), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", required=True, type=Path, help="an archive of ANT built with e5-small")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    judged = read_judged()
    by_set: dict[str, list[tuple[np.ndarray, np.ndarray]]] = defaultdict(list)
    with Archive(args.index) as archive:
        for (half, seed), rows in judged.items():
            z = standard_scores(archive, seed, [i for i, _ in rows])
            by_set[half].append((z, np.array([label for _, label in rows])))
    report: dict[str, object] = {"story_z": STORY_Z, "sets": {}}
    for half, seeds in sorted(by_set.items()):
        table = {f"{b:.2f}": measure(seeds, b) for b in BOUNDS}
        table["none"] = measure(seeds, -np.inf)
        best = max(BOUNDS, key=lambda b: table[f"{b:.2f}"]["f05"])
        report["sets"][half] = {"seeds": len(seeds), "best": best, "at_story_z": measure(seeds, STORY_Z),  # type: ignore[index]
                                "by_bound": table}
        print(f"{half}: {len(seeds)} seeds; best bound {best:.2f}")
        print("  bound  noise  recall  F0.5  kept/seed  noise/seed")
        for name, row in [("none", table["none"]), *((f"{b:.2f}", table[f"{b:.2f}"]) for b in BOUNDS)]:
            mark = "  <- STORY_Z" if name == f"{STORY_Z:.2f}" else ""
            print(f"  {name:>5}  {row['noise']:.3f}  {row['recall']:.3f}  {row['f05']:.3f}  {row['kept_per_seed']:6.1f}  {row['noise_per_seed']:6.1f}{mark}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
