"""The judged SaudiNewsNet query set (``eval/snn-news``): loading and graded scoring.

The set is 120 hand-written news queries of four kinds (keyword topics,
paraphrases, questions, spelling variants / English / transliterated names)
with graded judgments (0, 1, 2) of pooled articles; see eval/snn-news/README.md.
Only ids, urls and our own queries live in the repository: the articles are
read from the shared SaudiNewsNet zips.

Copies of one article (equal bodies after the archive's normalization, the
same key the archive folds duplicates by) count as ONE result: a ranking is
collapsed to its first copy of each article before scoring, and a copy scores
the highest grade any of its copies was given. Without this, a system that
returns the three identical wire copies of a relevant story would be paid
three times for finding it once.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

from archive import Document

JUDGED_DIR = Path(__file__).resolve().parents[1] / "eval" / "snn-news"
KINDS = ("keyword", "paraphrase", "question", "variant")
K = 10


class JudgedSetError(ValueError):
    """A judged-set file is malformed (names the file and line)."""


@dataclass(frozen=True)
class Judged:
    """Queries, their kinds and graded judgments, keyed by duplicate group."""

    queries: list[tuple[str, str, str]]  # (query id, kind, text)
    grades: dict[str, dict[str, int]]  # query id -> {group key: grade}
    group_of: dict[str, str] = field(default_factory=dict)  # doc id -> group key


def read_queries(path: Path) -> list[tuple[str, str, str]]:
    """``(id, kind, query)`` rows of queries.tsv (a header line, tab-separated)."""
    rows: list[tuple[str, str, str]] = []
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader, None)
        if header != ["id", "kind", "query"]:
            raise JudgedSetError(f"{path}:1: expected the header 'id<TAB>kind<TAB>query', got {header!r}")
        for number, row in enumerate(reader, 2):
            if len(row) != 3 or not all(cell.strip() for cell in row):
                raise JudgedSetError(f"{path}:{number}: expected 3 non-empty tab-separated fields, got {row!r}")
            if row[1] not in KINDS:
                raise JudgedSetError(f"{path}:{number}: kind {row[1]!r} is not one of {', '.join(KINDS)}")
            rows.append((row[0], row[1], row[2]))
    return rows


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    """``{query id: {doc id: grade}}`` from TREC qrels lines ``qid 0 docid grade [url]``."""
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            parts = line.rstrip("\n").split("\t") if "\t" in line else line.split()
            if not line.strip():
                continue
            if len(parts) < 4 or parts[1] != "0" or parts[3] not in ("0", "1", "2"):
                raise JudgedSetError(f"{path}:{number}: expected 'qid<TAB>0<TAB>docid<TAB>grade(0-2)[<TAB>url]'")
            qrels.setdefault(parts[0], {})[parts[2]] = int(parts[3])
    return qrels


def load(documents: list[Document], directory: Path = JUDGED_DIR) -> Judged:
    """The judged set over ``documents`` (the SaudiNewsNet articles as the archive reads them)."""
    queries = read_queries(directory / "queries.tsv")
    qrels = read_qrels(directory / "qrels.tsv")
    unknown = sorted(set(qrels) - {q for q, _, _ in queries})
    if unknown:
        raise JudgedSetError(f"{directory / 'qrels.tsv'}: judgments for unknown queries {unknown[:5]}")
    group_of = {doc.id: doc.body_key for doc in documents}
    grades: dict[str, dict[str, int]] = {}
    for qid, judged in qrels.items():
        by_group: dict[str, int] = {}
        for doc_id, grade in judged.items():
            key = group_of.get(doc_id, doc_id)
            by_group[key] = max(grade, by_group.get(key, 0))
        grades[qid] = by_group
    return Judged(queries, grades, group_of)


def collapse(ranked: list[str], group_of: dict[str, str]) -> list[str]:
    """Group keys of ``ranked`` in order, each article's first copy only."""
    seen: set[str] = set()
    out: list[str] = []
    for doc_id in ranked:
        key = group_of.get(doc_id, doc_id)
        if key not in seen:
            seen.add(key)
            out.append(key)
    return out


def score_graded(ranked: list[str], grades: dict[str, int], group_of: dict[str, str]) -> dict[str, float]:
    """nDCG@10 (gain = grade, as trec_eval), and MRR@10 / R@10 counting grade >= 1 as relevant.

    Unjudged articles count as not relevant (grade 0); ``judged@10`` says how much of the
    top 10 was judged at all.
    """
    keys = collapse(ranked, group_of)
    dcg = sum(grades.get(key, 0) / math.log2(i + 1) for i, key in enumerate(keys[:K], 1))
    ideal_gains = sorted((g for g in grades.values() if g > 0), reverse=True)[:K]
    ideal = sum(g / math.log2(i + 1) for i, g in enumerate(ideal_gains, 1))
    relevant = {key for key, g in grades.items() if g > 0}
    first = next((i for i, key in enumerate(keys[:K], 1) if key in relevant), None)
    return {
        "nDCG@10": dcg / ideal if ideal else 0.0,
        "MRR@10": 1 / first if first else 0.0,
        "R@10": len(relevant & set(keys[:K])) / len(relevant) if relevant else 0.0,
        # Share of the shown top 10 that was judged; an empty ranking shows nothing unjudged.
        "judged@10": sum(1 for key in keys[:K] if key in grades) / min(K, len(keys)) if keys else 1.0,
    }
