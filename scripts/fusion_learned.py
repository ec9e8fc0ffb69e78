"""A learned per-query lexical weight, fit leave-one-set-out over the dumps of scripts/fusion_cv.py.

    python scripts/fusion_learned.py --dumps /tmp/fusion-work/dumps --json docs/evaluation-fusion-learned.json

Every single-evidence rule of scripts/fusion_rules.py that lifts the news questions costs the
paragraph questions of ARCD or XQuAD, or does not carry from one news set to the other. This
tries all the evidence at once: the hybrid's lexical weight becomes ``a = clip(a0 + b + w . x,
0, 1)``, where ``a0`` is today's weight (title evidence), ``x`` the query's evidence (title
coverage, word coverage, the share of the word side's first ten holding every term in a title
and anywhere, the word side's flatness, how far the meaning side's best stands out, the two
sides' agreement, the number of terms, whether it is a question, the share of its idf the
archive knows) and ``b``, ``w`` are fit (Powell, from zero and four random starts, a small
ridge penalty) to the mean set score over three dev sets, then scored on the fourth. Queries
that rule 1 or 2 of :mod:`archive.search.adaptive` settles (Latin letters, headlines of the
query's words) keep today's ranking. Each query's score at any weight is read off its curve
over a grid of 21 weights and today's (linear in between).
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

import fusion_cv as cv
import fusion_rules as fr

GRID = np.linspace(0.0, 1.0, 21)
EVIDENCE = ("title", "cover", "title_depth", "depth", "flat", "stand", "agree", "terms", "question", "known")
SCALE = {"stand": 10.0, "terms": 10.0}
"""Evidence divided by these so that every feature is of order 1."""
RIDGE = 0.01


def curves(sets: dict) -> dict[str, list[tuple]]:
    """Per set, per query: ``(kind, settled, a0, evidence, weights, nDCG@10 at each, today's nDCG@10)``; the
    weights are :data:`GRID` and ``a0`` itself, so that the curve at ``a0`` is today's ranking exactly."""
    today_rule = fr.family(fr.WORDS_ALONE, {"latin_meaning": 1, "alone": 0.5})
    out = {}
    for name, (queries, judge) in sets.items():
        rows = []
        for q in queries:
            sel = q.base.copy()
            today = judge(q, cv.rank(q, today_rule))
            e = fr.evidence(q, sel)
            settled = bool(e["latin"] or e["title_depth"] >= 0.5 or not q.ids)
            a0 = 0.5 + 0.6 * 0.5 * e["title"]
            grid = np.unique(np.append(GRID, a0))
            curve = (np.full(len(grid), today) if settled else
                     np.array([judge(q, cv.rank(q, lambda q_, s_, a=a: cv.fused(q_, s_, a))) for a in grid]))
            x = np.array([min(float(e[k]), 12.0) / SCALE.get(k, 1.0) for k in EVIDENCE])
            rows.append((q.kind, settled, a0, x, grid, curve, today))
        out[name] = rows
    return out


def scored(rows: list[tuple], w: np.ndarray) -> list[tuple[str, float]]:
    out = []
    for kind, settled, a0, x, grid, curve, today in rows:
        if settled:
            out.append((kind, today))
            continue
        a = float(np.clip(a0 + w[0] + x @ w[1:], 0.0, 1.0))
        out.append((kind, float(np.interp(a, grid, curve))))
    return out


def fit(data: dict, train: list[str]) -> np.ndarray:
    def loss(w: np.ndarray) -> float:
        return -statistics.fmean(fr.set_score(scored(data[s], w)) for s in train) + RIDGE * float(w[1:] @ w[1:])

    starts = [np.zeros(len(EVIDENCE) + 1)] + [np.random.default_rng(seed).normal(0, 0.1, len(EVIDENCE) + 1)
                                              for seed in range(4)]
    results = [minimize(loss, s, method="Powell", options={"maxiter": 4000, "xtol": 1e-3, "ftol": 1e-6})
               for s in starts]
    return min(results, key=lambda r: r.fun).x


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dumps", type=Path, default=cv.DUMPS)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    data = curves(fr.load(args.dumps))
    dev = [s for s in cv.DEV if s in data]
    zero = np.zeros(len(EVIDENCE) + 1)
    report: dict = {"evidence": list(EVIDENCE), "ridge": RIDGE, "loso": {}}
    for held in dev:
        w = fit(data, [s for s in dev if s != held])
        rows, today = scored(data[held], w), scored(data[held], zero)
        gain = [a - b for (_, a), (_, b) in zip(rows, today)]
        report["loso"][held] = {"w": w.round(4).tolist(), "gain": fr.set_score(rows) - fr.set_score(today),
                                "gain_se": statistics.stdev(gain) / len(gain) ** 0.5}
        print(f"held out {held:14s} gain {report['loso'][held]['gain']:+.4f} ± {report['loso'][held]['gain_se']:.4f}",
              flush=True)
    report["oracle"] = {}
    for name, rows in data.items():  # the best weight of the grid for each query: what no weight rule can pass
        best = [(kind, float(curve.max())) for kind, _, _, _, _, curve, _ in rows]
        report["oracle"][name] = fr.by_kind(best)
        print(f"  {name:14s} best weight per query {fr.set_score(best):.4f}", flush=True)
    w = fit(data, dev)
    report["fit on every dev set"] = {"w": w.round(4).tolist(), "sets": {}}
    for name, rows in data.items():
        mine, today = scored(rows, w), scored(rows, zero)
        report["fit on every dev set"]["sets"][name] = {"learned": fr.by_kind(mine), "today": fr.by_kind(today)}
        print(f"  {name:14s} {fr.set_score(mine):.4f} against {fr.set_score(today):.4f}  "
              + " ".join(f"{k[:4]}={v:.3f}" for k, v in fr.by_kind(mine).items()))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
