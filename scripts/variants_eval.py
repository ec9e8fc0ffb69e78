"""Measure the spelling-variant classes of an archive (docs/variants.md, eval/variants/).

``sample INDEX OUT.tsv``: draw a random sample of the archive's classes (seed 24, at most 100; all of
them when there are fewer) into a TSV to judge by hand: each class's terms with their live article
counts, and empty ``mark`` / ``note`` columns. Only index terms and counts are written, no text.

``precision JUDGED.tsv``: the share of judged classes marked ``true``.

``recall INDEX WORD...``: for each word, the articles a lexical search finds with the variants off and
on (``Hits.articles``, copies not folded), and the variants it used.

``relearn INDEX JUDGED.tsv``: learn the classes of the index's live generation with the code as it is now
(without writing them) and compare them with a judged sample of the classes it holds: which judged
classes are kept and which dropped, with their marks, the precision of the kept ones, and any new class
(to be judged by reading).

``cost INDEX [RUNS]``: the wall time of learning the classes from the index's live generation (median
of RUNS, default 5), without writing them.
"""

from __future__ import annotations

import csv
import random
import statistics
import sys
import time
from pathlib import Path

from archive import Archive
from archive.index.columns import Columns
from archive.index.layout import current_generation
from archive.index.terms import TermIndex
from archive.index.variants import VariantClasses
from archive.index.variants_build import learn

SEED = 24
SAMPLE = 100


def sample(index: Path, out: Path) -> None:
    generation = current_generation(index)
    classes = VariantClasses.read(generation)
    if classes is None:
        sys.exit(f"{index}: no variant classes (built before they were learned)")
    terms = TermIndex(generation / "terms")
    indptr, _ = terms.field_postings("body")
    drawn = random.Random(SEED).sample(list(classes.classes), min(SAMPLE, len(classes)))
    with open(out, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, delimiter="\t", lineterminator="\n")
        writer.writerow(["class", "articles", "mark", "note"])
        for members in drawn:
            counts = [int(indptr[terms.vocab[t] + 1] - indptr[terms.vocab[t]]) for t in members]
            writer.writerow([" / ".join(members), " / ".join(map(str, counts)), "", ""])
    print(f"{len(drawn)} of {len(classes)} classes written to {out}")


def precision(judged: Path) -> None:
    with open(judged, encoding="utf-8", newline="") as fh:
        marks = [row["mark"] for row in csv.DictReader(fh, delimiter="\t")]
    true = sum(m == "true" for m in marks)
    print(f"{true} of {len(marks)} classes true: precision {true / len(marks):.1%}")


def recall(index: Path, words: list[str]) -> None:
    with Archive.open(index) as archive:
        for word in words:
            off = archive.search(word, mode="lexical", variants=False, fold=False)
            on = archive.search(word, mode="lexical", fold=False)
            used = ", ".join(v for vs in on.variants.values() for v in vs) or "-"
            print(f"{word}\t{off.articles}\t{on.articles}\t+{on.articles / max(off.articles, 1) - 1:.0%}\t{used}")


def relearn(index: Path, judged: Path) -> None:
    generation = current_generation(index)
    terms = TermIndex(generation / "terms")
    try:
        learned = {tuple(c) for c in learn(terms, Columns(generation / "columns").codes("source")).classes}
    finally:
        terms.close()
    with open(judged, encoding="utf-8", newline="") as fh:
        marks = {tuple(row["class"].split(" / ")): row["mark"] for row in csv.DictReader(fh, delimiter="\t")}
    kept = [c for c in marks if c in learned]
    for name, chosen in (("kept", kept), ("dropped", [c for c in marks if c not in learned])):
        print(f"{name}: {len(chosen)} ({sum(marks[c] == 'true' for c in chosen)} true)")
        for c in chosen:
            print(f"  {marks[c]}\t{' / '.join(c)}")
    new = sorted(learned - set(marks))
    print(f"new: {len(new)}")
    for c in new:
        print(f"  \t{' / '.join(c)}")
    true = sum(marks[c] == "true" for c in kept)
    print(f"judged classes kept: {true} of {len(kept)} true, precision {true / max(len(kept), 1):.1%}; "
          f"true classes lost: {sum(m == 'true' for m in marks.values()) - true}; {len(learned)} classes learned")


def cost(index: Path, runs: int) -> None:
    generation = current_generation(index)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        terms = TermIndex(generation / "terms")
        classes = learn(terms, Columns(generation / "columns").codes("source"))
        times.append(time.perf_counter() - started)
        terms.close()
    print(f"{len(classes)} classes; learning took {statistics.median(times):.2f} s (median of {runs}: "
          + ", ".join(f"{t:.2f}" for t in times) + ")")


if __name__ == "__main__":
    command, *rest = sys.argv[1:]
    if command == "sample":
        sample(Path(rest[0]), Path(rest[1]))
    elif command == "precision":
        precision(Path(rest[0]))
    elif command == "recall":
        recall(Path(rest[0]), rest[1:])
    elif command == "relearn":
        relearn(Path(rest[0]), Path(rest[1]))
    elif command == "cost":
        cost(Path(rest[0]), int(rest[1]) if len(rest) > 1 else 5)
    else:
        sys.exit(__doc__)
