"""The population of close ANT pairs behind the judged folding sample, and more pairs drawn from it to judge.

The close pairs of ANT's distinct bodies (identical bodies are folded before, as duplicates) fall in
disjoint cells, each split by one outlet (``same``) or two (``cross``):

- ``BIN/...``: the bodies' estimated Jaccard similarity (3-word shingles, MinHash 128, as the archive
  computes it) is at least 0.2 (datasketch's MinHash LSH at threshold 0.15, buckets of at most 200
  articles), binned 0.2-0.3, 0.3-0.4, 0.4-0.5, 0.5-0.65, 0.65-0.8, s>=0.8;
- ``lead*/...``: the bodies below 0.2, the leads' estimated similarity (the archive's lead signatures:
  first 60 words as spelling skeletons, 2-word shingles) at least 0.2 (banded for 0.15), at most 3
  days apart; ``lead0.2-0.3``, ``lead0.3-0.5``, ``lead>=0.5``;
- ``title/...``: neither, but headlines sharing at least 40 % of their index terms (Jaccard), at most
  3 days apart.

Prints each cell's size, and with ``--draw CELL=N`` draws N more pairs of that cell at random (``--seed``),
leaving out the pairs already in the judged file, as TSV rows to judge (label ``?``) and, on stderr,
both articles' headlines and first ``--chars`` characters to read. See eval/folding/README.md.

    python scripts/fold_sample.py --ant /tmp/ant                       # the cells and their sizes
    python scripts/fold_sample.py --ant /tmp/ant --draw lead0.3-0.5/cross=20 --seed 27 > new.tsv
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
import zlib
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from archive.files.readers import read_documents  # noqa: E402
from archive.index.near import NO_DATE  # noqa: E402
from archive.text.analysis import terms  # noqa: E402
from archive.index import near_build as folding  # noqa: E402
from archive.writing.building import fold_duplicates  # noqa: E402

PAIRS = ROOT / "eval" / "folding" / "ant-pairs.tsv"
BINS = [(0.2, 0.3), (0.3, 0.4), (0.4, 0.5), (0.5, 0.65), (0.65, 0.8)]
LEAD_BINS = [(0.2, 0.3, "lead0.2-0.3"), (0.3, 0.5, "lead0.3-0.5"), (0.5, 1.01, "lead>=0.5")]
DAY = 86_400


def half(a: str, b: str) -> str:
    """A judged pair's half: ``dev`` or ``test`` by the CRC-32 of its two ids in sorted order (even: dev)."""
    low, high = sorted((a, b))
    return "dev" if zlib.crc32(f"{low} {high}".encode()) % 2 == 0 else "test"


def body_cell(similarity: float, same: bool) -> str:
    side = "same" if same else "cross"
    for low, high in BINS:
        if low <= similarity < high:
            return f"{low}-{high}/{side}"
    return f"s>=0.8/{side}"


def population(documents: list) -> tuple[dict[tuple[int, int], dict], list, np.ndarray]:  # noqa: ANN001
    """``({(row a, row b): features and cell}, canonical documents, signatures)`` of the close pairs."""
    from datasketch import MinHashLSH

    canon, _ = fold_duplicates(documents)
    signer = folding.Signer()
    signatures, sizes, dates = signer.sign(canon)
    width = signer.num_perm
    minhashes = [signer.minhash(signature=row[:width]) for row in signatures]
    n = len(canon)
    lsh = MinHashLSH(threshold=0.15, num_perm=width)
    with lsh.insertion_session() as session:
        for row in range(n):
            session.insert(row, minhashes[row], check_duplication=False)
    found = [np.zeros(0, np.int64)]
    for table in lsh.hashtables:
        for key in table.keys():
            bucket = table.get(key)
            if 1 < len(bucket) <= 200:
                rows = np.sort(np.fromiter(bucket, dtype=np.int64, count=len(bucket)))
                first, second = np.triu_indices(len(rows), 1)
                found.append(rows[first] * n + rows[second])
    lead_lsh = MinHashLSH(threshold=0.15, num_perm=width)
    lead_found = folding._band_pairs(signatures[:, width:], sizes >= folding.MIN_SHINGLES, np.arange(n),
                                     lead_lsh.b, lead_lsh.r)
    codes = np.unique(np.concatenate([*found, lead_found[:, 0] * n + lead_found[:, 1]]))
    pairs = np.stack([codes // n, codes % n], axis=1)
    sources = [d.source for d in canon]
    out: dict[tuple[int, int], dict] = {}

    def features(a: int, b: int) -> dict:
        dated = dates[a] != NO_DATE and dates[b] != NO_DATE
        return {
            "similarity": float((signatures[a, :width] == signatures[b, :width]).mean()),
            "lead": float((signatures[a, width:] == signatures[b, width:]).mean()),
            "days": abs(int(dates[a]) - int(dates[b])) / DAY if dated else None,
            "same": sources[a] == sources[b], "shingles": (int(sizes[a]), int(sizes[b])),
        }

    for a, b in pairs.tolist():
        f = features(a, b)
        near = f["days"] is None or f["days"] <= 3
        if f["similarity"] >= 0.2:
            f["cell"] = body_cell(f["similarity"], f["same"])
        elif f["lead"] >= 0.2 and near:
            f["cell"] = next(name for low, high, name in LEAD_BINS if low <= f["lead"] < high) + (
                "/same" if f["same"] else "/cross")
        else:
            continue
        out[(a, b)] = f
    titles = [set(terms(d.title)) for d in canon]
    by_term: dict[str, list[int]] = defaultdict(list)
    for row, words in enumerate(titles):
        for word in words:
            by_term[word].append(row)
    seen: set[tuple[int, int]] = set()
    for rows in by_term.values():
        for i, a in enumerate(rows):
            for b in rows[i + 1:]:
                if (a, b) in seen or (a, b) in out or dates[a] == NO_DATE or dates[b] == NO_DATE:
                    continue
                seen.add((a, b))
                if abs(int(dates[a]) - int(dates[b])) > 3 * DAY:
                    continue
                if len(titles[a] & titles[b]) / len(titles[a] | titles[b]) < 0.4:
                    continue
                f = features(a, b)
                if f["similarity"] < 0.2 and f["lead"] < 0.2:
                    f["cell"] = "title/" + ("same" if f["same"] else "cross")
                    out[(a, b)] = f
    return out, canon, signatures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ant", type=Path, default=Path("/tmp/ant"), help="ANT unpacked (SOURCE/CATEGORY/*.txt)")
    parser.add_argument("--draw", action="append", default=[], help="CELL=N: draw N more pairs of CELL")
    parser.add_argument("--seed", type=int, default=27)
    parser.add_argument("--chars", type=int, default=400)
    parser.add_argument("--sizes", type=Path, help="write the cells' sizes here as TSV")
    args = parser.parse_args()
    documents = list(read_documents(args.ant, on_error=lambda e: None, on_warning=lambda m: None))
    pairs, canon, _ = population(documents)
    sizes: dict[str, int] = defaultdict(int)
    for f in pairs.values():
        sizes[f["cell"]] += 1
    for cell in sorted(sizes):
        print(f"{cell}\t{sizes[cell]}", file=sys.stderr)
    if args.sizes:
        args.sizes.write_text("".join(f"{c}\t{sizes[c]}\n" for c in sorted(sizes)), encoding="utf-8")
    judged = set()
    if PAIRS.exists():
        with open(PAIRS, encoding="utf-8", newline="") as fh:
            judged = {tuple(sorted((r["a"], r["b"]))) for r in csv.DictReader(fh, delimiter="\t")}
    rng = random.Random(args.seed)
    writer = csv.writer(sys.stdout, delimiter="\t", lineterminator="\n")
    for spec in args.draw:
        cell, _, count = spec.rpartition("=")
        members = sorted(k for k, f in pairs.items() if f["cell"] == cell
                         and tuple(sorted((canon[k[0]].id, canon[k[1]].id))) not in judged)
        for a, b in rng.sample(members, min(int(count), len(members))):
            f, da, db = pairs[(a, b)], canon[a], canon[b]
            writer.writerow([half(da.id, db.id), cell, sizes[cell], da.id, db.id, da.source, db.source,
                             f"{f['similarity']:.4f}", f"{f['lead']:.4f}",
                             "" if f["days"] is None else round(f["days"], 2), *f["shingles"], "?", ""])
            print(f"=== {cell} {da.id} {db.id} body {f['similarity']:.2f} lead {f['lead']:.2f} days {f['days']}",
                  file=sys.stderr)
            for d in (da, db):
                print(f"  -- {d.source} {d.published} | {d.title}", file=sys.stderr)
                print("     " + d.body[: args.chars].replace("\n", " ¶ "), file=sys.stderr)


if __name__ == "__main__":
    main()
