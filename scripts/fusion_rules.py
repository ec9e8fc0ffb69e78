"""The replay half of scripts/fusion_cv.py: weight rules and feedback variants, leave-one-set-out.

Run through ``python scripts/fusion_cv.py cv`` (see its docstring). Every rule is a family
with a small grid of parameters; for each held-out dev set a family's parameters are the ones
with the best mean score over the three other dev sets, and the held-out set scores them.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import re
import statistics
from collections.abc import Callable
from pathlib import Path

import numpy as np

import fusion_cv as cv
from archive.index.scoring import DEFAULT_SCORING
from archive.search.adaptive import Evidence, is_latin, signal_weights
from archive.search.query import plain_text
from fusion_cv import QueryDump, fused, rank, word_coverage



QUESTION = re.compile(r"[؟?]\s*$|^\s*(?:من|ما|ماذا|لماذا|لما|كم|هل|متى|أين|اين|كيف|أي|اي|ماهي|ماهو)\s")
"""A query asked as a question (tried, not adopted: docs/evaluation.md)."""


def is_question(text: str) -> bool:
    return bool(QUESTION.search(text))


def holding_all(q: QueryDump, sel: np.ndarray, m: int = 10, title: bool = True) -> float:
    """The share of the word side's top ``m`` (out of ``m``) whose titles (``title``) or any field
    hold every term of the query (:attr:`archive.search.adaptive.Evidence.title_depth`)."""
    idx = np.flatnonzero(sel & (q.lex_rank < cv.DEPTH))
    top = idx[np.argsort(q.lex_rank[idx], kind="stable")][:m]
    if not len(top) or not len(q.idf):
        return 0.0
    return float((q.title_holds if title else q.holds)[top].all(axis=1).sum()) / m


def flatness(q: QueryDump, sel: np.ndarray, m: int = 10) -> float:
    """How flat the word side's top ``m`` is: its ``m``-th word score over its first (1: ``m`` articles
    match the query's words as well as the best does, as when a big story's reports all name its actors;
    0 when fewer than ``m`` match)."""
    idx = np.flatnonzero(sel & (q.lex_rank < cv.DEPTH))
    top = idx[np.argsort(q.lex_rank[idx], kind="stable")][:m]
    if len(top) < m or q.word[top[0]] <= 0:
        return 0.0
    return float(q.word[top[-1]] / q.word[top[0]])


def standing(q: QueryDump) -> float:
    """How far the meaning side's best article stands out from the query's similarity to the archive at
    large, in standard deviations (0 when the dump lacks the background: dumps made before it)."""
    std = getattr(q, "bg_std", 0.0)
    if not std or not len(q.top_cos):
        return 0.0
    return float((q.top_cos[0] - q.bg_mean) / std)


def evidence(q: QueryDump, sel: np.ndarray) -> dict[str, float]:
    """What the rules may read of a query at query time."""
    known = float(q.idf[q.df > 0].sum() / q.idf.sum()) if len(q.idf) and q.idf.sum() > 0 else 0.0
    idx = np.flatnonzero(sel & (q.lex_rank < cv.DEPTH))
    words_top = set(idx[np.argsort(q.lex_rank[idx], kind="stable")][:10].tolist())
    idx = np.flatnonzero(sel & (q.dense_rank < cv.DEPTH))
    meaning_top = set(idx[np.argsort(q.dense_rank[idx], kind="stable")][:10].tolist())
    return {
        "title": word_coverage(q, sel, title=True),
        "cover": word_coverage(q, sel),
        "known": known,
        "question": is_question(q.text),
        "latin": is_latin(q.text),
        "words_found": bool((sel & (q.lex_rank < cv.DEPTH)).any()),
        "title_depth": holding_all(q, sel),
        "depth": holding_all(q, sel, title=False),
        "agree": len(words_top & meaning_top) / 10,
        "flat": flatness(q, sel),
        "terms": float(len(q.idf)),
        "stand": standing(q),
    }


def family(name: str, p: dict) -> Callable[[QueryDump, np.ndarray], np.ndarray]:
    """The fusion of a rule family ``name`` at parameters ``p``."""

    def fuse(q: QueryDump, sel: np.ndarray) -> np.ndarray:
        e = evidence(q, sel)
        alpha = p.get("alpha", 0.5)
        te = p.get("te", 0.6)
        if e["question"] and "te_q" in p:
            te = p["te_q"]
        if e["question"] and "alpha_q" in p:
            alpha = p["alpha_q"]
        a = alpha + te * (1 - alpha) * e["title"] ** p.get("power", 1)
        if "c0" in p and e["title"] > 0 and (e["question"] or not p.get("c0_q")):
            a -= te * (1 - alpha) * p["c0"]  # title evidence centred on c0; no title evidence: neutral
        if "latin_meaning" in p and e["latin"] and (p["latin_meaning"] == 1 or not e["words_found"]):
            a = 0.0
        if "latin_share" in p and e["latin"]:
            share_latin = p["latin_share"]
        else:
            share_latin = None
        if "known" in p and not e["words_found"]:
            a = 0.0  # the archive holds (almost) none of the query's words: meaning alone
        word = None
        if "alone" in p and not (p.get("latin_meaning") and e["latin"]):
            if e[p.get("alone_on", "title_depth")] >= p["alone"]:  # headlines of the query's words
                a, share_latin = p.get("alone_a", 1.0), p.get("alone_share", 0.0)
                word = q.bm25f if p.get("alone_bm25f", 1) else None
            elif "long_terms" in p and e["terms"] >= p["long_terms"]:
                a *= p["long_scale"]  # a long query leans on meaning
            elif "flat_at" in p and e["flat"] >= p["flat_at"] and (e["question"] or not p.get("flat_q")):
                a *= p["flat_scale"]  # many articles match the words as well as the best: meaning decides
            elif "deep" in p and e["depth"] >= p["deep"] and (e["question"] or not p.get("deep_q")):
                a *= p["deep_scale"]  # many of the word side's first hold every word somewhere: meaning decides
            elif "agree_at" in p and e["agree"] >= p["agree_at"]:
                a *= p["agree_scale"]
            elif ("both_stand" in p and e["question"] and e["stand"] >= p["both_stand"]
                  and e["flat"] >= p["both_flat"]):
                a *= p["both_scale"]  # a question whose answer stands out by meaning among many word matches
            elif "stand_at" in p and e["stand"] >= p["stand_at"] and (e["question"] or not p.get("stand_q")):
                a *= p["stand_scale"]  # the meaning side's best stands far out of the archive: meaning decides
            elif "weak_at" in p and 0 < e["stand"] < p["weak_at"] and (e["question"] or not p.get("weak_q")):
                a += p["weak_lift"] * (1 - a)  # nothing stands out by meaning: the words decide more
        if "lift_on" in p and not (p.get("latin_meaning") and e["latin"]):
            a += p["lift"] * (1 - a) * e[p["lift_on"]] ** p.get("lift_power", 1)  # evidence raises the words
        if "drop_on" in p and not (p.get("latin_meaning") and e["latin"]):
            a -= p["drop"] * a * e[p["drop_on"]]  # evidence lowers the words
        if p.get("bm25f_words"):
            word = q.bm25f
        if "rm3" in p and q.rm3.size:
            lam = p["rm3"]
            n_terms = max(len(q.idf), 1)
            word = (1 - lam) * q.word / n_terms + lam * (q.rm3 @ (q.rm3_weight / q.rm3_weight.sum()))
        cos = q.rocchio[p["rocchio"]] if "rocchio" in p else None
        share = share_latin if share_latin is not None else p.get("share", 0.8)
        if "q_share" in p and e["question"] and 0 < a < 1:
            share = p["q_share"]  # a question's lexical weight split otherwise between words and grams
        if ("cap" in p or "gate" in p) and 0 < a < 1 and (e["question"] or not p.get("shape_q")):
            return shaped(q, sel, a, share, p)
        scores = fused(q, sel, a, share, word=word, cos=cos)
        return protected(q, sel, scores, p["insert"], p["insert_at"]) if "insert" in p and e["question"] else scores

    return fuse


def shaped(q: QueryDump, sel: np.ndarray, a: float, share: float, p: dict) -> np.ndarray:
    """The fusion with each candidate's lexical part held down by its meaning: capped at the meaning
    z-score plus ``cap``, or scaled by how far the meaning z-score stands above ``gate`` (over
    ``gate_w``)."""
    lexical = (1 - share) * cv._z(q.word[sel]) + share * cv._z(q.grams[sel])
    meaning = cv._z(q.cos[sel])
    if "cap" in p:
        lexical = np.minimum(lexical, meaning + p["cap"])
    if "gate" in p:
        lexical = lexical * np.clip((meaning - p["gate"]) / p["gate_w"], 0.0, 1.0)
    return a * lexical + (1 - a) * meaning


def protected(q: QueryDump, sel: np.ndarray, scores: np.ndarray, m: int, slot: int, top: int = 10) -> np.ndarray:
    """``scores`` raised so that the meaning side's first ``m`` articles (of those shown) stand in the
    first ``top``: one missing from them is placed at rank ``slot`` + its own rank (at most the last)."""
    idx = np.flatnonzero(sel)
    shown = q.shown[idx]
    order = sorted(np.flatnonzero(shown), key=lambda i: (-scores[i], q.ids[idx[i]]))
    meaning = sorted((i for i in np.flatnonzero(shown) if q.dense_rank[idx[i]] < cv.DEPTH),
                     key=lambda i: q.dense_rank[idx[i]])[:m]
    for j, i in enumerate(meaning):
        if i in order[:top]:
            continue
        order.remove(i)
        order.insert(min(slot + j, top - 1), i)
    out = scores.copy()
    for r, i in enumerate(order):
        out[i] = len(order) - r  # the new order, as scores (rank() breaks no ties among them)
    return out


def archive_rule(q: QueryDump, sel: np.ndarray) -> np.ndarray:
    """The archive's own rule (:func:`archive.search.adaptive.signal_weights` at the default scoring)."""
    e = evidence(q, sel)
    w = signal_weights(0.5, Evidence(min(e["title"], 1.0), is_latin(plain_text(q.text) or q.text), e["title_depth"]),
                       DEFAULT_SCORING)
    word = q.bm25f if w.lexical_words else q.word
    return w.words * cv._z(word[sel]) + w.grams * cv._z(q.grams[sel]) + w.meaning * cv._z(q.cos[sel])


def pool_of(p: dict) -> str:
    if "rocchio" in p:
        return "rocchio:" + json.dumps(list(p["rocchio"]))
    return "all" if "rm3" in p else "base"


FAMILIES: dict[str, list[dict]] = {
    "default": [{}],
    "alpha+title evidence": [{"alpha": a, "te": t} for a in (0.4, 0.5, 0.6) for t in (0.0, 0.3, 0.6, 0.9)],
    "no known word: meaning only": [{"known": 0.0}],
    "questions: title evidence": [{"te_q": tq} for tq in (0.0, 0.2, 0.4)],
    "questions: title evidence + alpha": [{"te_q": tq, "alpha_q": aq} for tq in (0.0, 0.2, 0.4) for aq in (0.3, 0.4, 0.5)],
    "no known word + questions": [{"known": 0.0, "te_q": tq} for tq in (0.0, 0.2, 0.4)],
    "latin-script query: meaning only": [{"latin_meaning": 1}],
    "latin-script query no article holds: meaning only": [{"latin_meaning": 2}],
    "latin-script query: grams off": [{"latin_share": 0.0}],
    "title evidence, questions apart": [{"te": t, "te_q": tq} for t in (0.6, 0.8, 1.0) for tq in (0.0, 0.3, 0.6)],
    "title evidence, sharper (c^p)": [{"te": t, "power": pw} for t in (0.6, 0.7, 0.8, 0.9) for pw in (2, 3)],
    "latin + sharper title evidence": [{"latin_meaning": 1, "te": t, "power": pw} for t in (0.6, 0.7, 0.8) for pw in (1, 2)],
    "latin + titles holding every query term: words alone": [
        {"latin_meaning": 1, "alone": t, "alone_on": on, "alone_a": a, "alone_share": sh, "alone_bm25f": bm}
        for on in ("title_depth", "depth") for t in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
        for a in (0.9, 1.0) for sh in (0.0, 0.2) for bm in (0, 1)],
    "latin + words raised by the share of titles holding every term": [
        {"latin_meaning": 1, "lift_on": on, "lift": g, "lift_power": pw}
        for on in ("title_depth", "depth") for g in (0.1, 0.2, 0.3, 0.5) for pw in (1, 2)],
    "latin + words raised by the two sides' agreement": [
        {"latin_meaning": 1, "lift_on": "agree", "lift": g, "lift_power": pw} for g in (0.1, 0.2, 0.3, 0.5) for pw in (1, 2)],
    "latin + words lowered by the two sides' agreement": [
        {"latin_meaning": 1, "drop_on": "agree", "drop": g} for g in (0.1, 0.2, 0.3, 0.5)],
    "latin + BM25F proper as the hybrid's word signal": [
        {"latin_meaning": 1, "bm25f_words": 1, "te": te, "share": sh} for te in (0.3, 0.6, 0.9) for sh in (0.5, 0.8)],
    "latin + words alone + sharper title evidence (c^p)": [
        {"latin_meaning": 1, "alone": 0.5, "te": t, "power": pw} for t in (0.6, 0.7, 0.8, 0.9) for pw in (1, 2, 3)],
    "latin + words alone + long queries lean on meaning": [
        {"latin_meaning": 1, "alone": 0.5, "long_terms": n, "long_scale": sc} for n in (4, 5, 6, 7) for sc in (0.6, 0.8, 0.9)],
    "latin + words alone + sides agreeing lean on meaning": [
        {"latin_meaning": 1, "alone": 0.5, "agree_at": g, "agree_scale": sc} for g in (0.2, 0.4, 0.6) for sc in (0.6, 0.8, 0.9)],
    "latin + words alone + a flat word side leans on meaning": [
        {"latin_meaning": 1, "alone": 0.5, "flat_at": f, "flat_scale": sc, "flat_q": fq}
        for f in (0.6, 0.7, 0.8, 0.9) for sc in (0.5, 0.7, 0.85) for fq in (0, 1)],
    "latin + words alone + questions with a flat word side lean on meaning": [
        {"latin_meaning": 1, "alone": 0.5, "flat_at": f, "flat_scale": sc, "flat_q": 1}
        for f in (0.6, 0.7, 0.8, 0.9) for sc in (0.5, 0.7, 0.85)],
    "latin + words alone + meaning standing out leans on meaning": [
        {"latin_meaning": 1, "alone": 0.5, "stand_at": t, "stand_scale": sc, "stand_q": sq}
        for t in (4, 5, 6, 7, 8) for sc in (0.5, 0.7, 0.85) for sq in (0, 1)],
    "latin + words alone + meaning not standing out leans on words": [
        {"latin_meaning": 1, "alone": 0.5, "weak_at": t, "weak_lift": lift, "weak_q": wq}
        for t in (3, 4, 5) for lift in (0.2, 0.4) for wq in (0, 1)],
    "latin + words alone + questions standing out by meaning among flat words lean on meaning": [
        {"latin_meaning": 1, "alone": 0.5, "both_stand": t, "both_flat": f, "both_scale": sc}
        for t in (4, 5, 6) for f in (0.5, 0.7, 0.8) for sc in (0.5, 0.7, 0.85)],
    "latin + words alone + title evidence centred (no title evidence: neutral)": [
        {"latin_meaning": 1, "alone": 0.5, "te": te, "c0": c0, "c0_q": cq}
        for te in (0.6, 0.8, 1.0) for c0 in (0.1, 0.2, 0.3, 0.4, 0.5) for cq in (0, 1)],
    "latin + words alone + many articles holding every word lean on meaning": [
        {"latin_meaning": 1, "alone": 0.5, "deep": d, "deep_scale": sc, "deep_q": dq}
        for d in (0.3, 0.5, 0.7, 0.9, 1.0) for sc in (0.5, 0.7, 0.85) for dq in (0, 1)],
    "latin + words alone + questions: words and grams split otherwise": [
        {"latin_meaning": 1, "alone": 0.5, "q_share": sh} for sh in (0.0, 0.2, 0.4, 0.6, 0.9, 1.0)],
    "latin + words alone + lexical part capped by meaning": [
        {"latin_meaning": 1, "alone": 0.5, "cap": c, "shape_q": sq} for c in (0, 0.5, 1, 1.5, 2, 3) for sq in (0, 1)],
    "latin + words alone + lexical part gated by meaning": [
        {"latin_meaning": 1, "alone": 0.5, "gate": g, "gate_w": gw, "shape_q": sq}
        for g in (-2, -1, -0.5, 0) for gw in (1, 2) for sq in (0, 1)],
    "latin + words alone + questions keep the meaning side's first in the top ten": [
        {"latin_meaning": 1, "alone": 0.5, "insert": m, "insert_at": at} for m in (1, 2, 3) for at in (1, 3, 5, 9)],
    "rm3 (word side)": [{"rm3": lam} for lam in (0.1, 0.2, 0.3, 0.5)],
    "rocchio (vectors)": [{"rocchio": key} for key in cv.ROCCHIO],
}


CURRENT = "latin-script query: meaning only"
"""The family whose one setting was the default before the rules built on it (the previous default
is the ``default`` family): those rules are scored against it (:data:`AGAINST`)."""
WORDS_ALONE = "latin + titles holding every query term: words alone"
"""The family of today's default (:data:`CURRENT` and rule 2 of :mod:`archive.search.adaptive`)."""
BEFORE_RULE_2 = ("long queries lean on meaning", "sides agreeing lean on meaning")
"""The two "words alone" families tried before rule 2 was adopted: scored against :data:`CURRENT`."""
AGAINST = {fam: WORDS_ALONE if fam.startswith("latin + words alone + ") and not fam.endswith(BEFORE_RULE_2) else CURRENT
           for fam in FAMILIES if fam.startswith("latin + ") and fam != "latin + sharper title evidence"}
"""Families scored against :data:`CURRENT`, or against today's default (:data:`WORDS_ALONE`) for those
tried on top of rule 2, rather than the previous default."""


class _Dumps(pickle.Unpickler):
    """Reads dumps written by ``python scripts/fusion_cv.py dump``, whose query records were pickled as
    ``__main__.QueryDump``, from any script (``fusion_learned.py`` failed to find the class)."""

    def find_class(self, module: str, name: str) -> object:
        if module == "__main__" and hasattr(cv, name):
            return getattr(cv, name)
        return super().find_class(module, name)


def load(dumps: Path) -> dict[str, tuple[list[QueryDump], Callable]]:
    """The dumped sets, the ANT set split into its dev and test halves."""
    sets = {}
    for path in sorted(dumps.glob("*.pkl")):
        queries, judged = _Dumps(io.BytesIO(path.read_bytes())).load()
        judge = cv.judge_of(path.stem, judged)
        if path.stem == "ant-news":
            sets["ant-dev"] = ([q for q in queries if int(q.qid[1:]) % 2], judge)
            sets["ant-test"] = ([q for q in queries if not int(q.qid[1:]) % 2], judge)
        else:
            sets[path.stem] = (queries, judge)
    return sets


def per_query(sets: dict, fam: str, p: dict) -> dict[str, list[tuple[str, float]]]:
    """``{set: [(kind, nDCG@10) per query]}`` of a family at ``p``."""
    fuse, pool = family(fam, p), pool_of(p)
    return {name: [(q.kind, judge(q, rank(q, fuse, pool))) for q in queries] for name, (queries, judge) in sets.items()}


def set_score(rows: list[tuple[str, float]]) -> float:
    """A set's figure: the mean over its kinds of the kinds' mean nDCG@10."""
    kinds = sorted({k for k, _ in rows})
    return statistics.fmean(statistics.fmean(s for k, s in rows if k == kind) for kind in kinds)


def by_kind(rows: list[tuple[str, float]]) -> dict[str, float]:
    return {kind: statistics.fmean(s for k, s in rows if k == kind) for kind in sorted({k for k, _ in rows})}


def run(args) -> None:
    sets = load(args.dumps)
    dev = [s for s in cv.DEV if s in sets]
    print(f"dev sets: {', '.join(dev)}; report: {', '.join(s for s in cv.REPORT if s in sets)}", flush=True)
    singles = {name: {mode: [(q.kind, judge(q, getattr(q, f"{mode}_top"))) for q in queries]
                      for mode in ("lexical", "semantic")} for name, (queries, judge) in sets.items()}
    cache: dict[tuple[str, str], dict] = {}

    def rows_of(fam: str, p: dict) -> dict:
        key = (fam, json.dumps(p, sort_keys=True, default=str))
        if key not in cache:
            cache[key] = per_query(sets, fam, p)
        return cache[key]

    base = rows_of("default", {})
    report: dict = {"singles": {n: {m: {"all": set_score(r), **by_kind(r)} for m, r in modes.items()}
                                for n, modes in singles.items()},
                    "default": {n: {"all": set_score(r), **by_kind(r)} for n, r in base.items()}, "families": {}}
    only = os.environ.get("FUSION_FAMILIES")
    for fam, grid in FAMILIES.items():
        if only and fam not in only.split("|"):
            continue
        if fam == "default":
            continue
        scored = [(p, rows_of(fam, p)) for p in grid]
        against = base
        if fam in AGAINST:
            setting = {"latin_meaning": 1, "alone": 0.5} if AGAINST[fam] == WORDS_ALONE else FAMILIES[AGAINST[fam]][0]
            against = rows_of(AGAINST[fam], setting)
        loso = {}
        for held in dev:
            train = [s for s in dev if s != held]
            p, rows = max(scored, key=lambda pr: statistics.fmean(set_score(pr[1][s]) for s in train))
            gain = [a - b for (_, a), (_, b) in zip(rows[held], against[held])]
            loso[held] = {"params": p, "held-out": set_score(rows[held]), "default": set_score(against[held]),
                          "gain": set_score(rows[held]) - set_score(against[held]),
                          "gain_se": statistics.stdev(gain) / len(gain) ** 0.5 if len(gain) > 1 else 0.0}
        p_all, rows_all = max(scored, key=lambda pr: statistics.fmean(set_score(pr[1][s]) for s in dev))
        wins = sum(v["gain"] > 1e-4 for v in loso.values())
        losses = sum(v["gain"] < -1e-4 for v in loso.values())
        report["families"][fam] = {"loso": loso, "wins": wins, "losses": losses, "chosen on all dev": p_all,
                                   "against": AGAINST.get(fam, "default"),
                                   "sets": {n: {"all": set_score(r), **by_kind(r)} for n, r in rows_all.items()}}
        print(f"\n## {fam}: LOSO wins {wins}, losses {losses}, ties {len(dev) - wins - losses} "
              f"(against {AGAINST.get(fam, 'default')}); on all dev sets: {p_all}")
        for held, v in loso.items():
            print(f"  held out {held:14s} {v['held-out']:.4f} vs default {v['default']:.4f} "
                  f"gain {v['gain']:+.4f} ± {v['gain_se']:.4f}  params {v['params']}")
        for n, r in rows_all.items():
            print(f"  {n:14s} {set_score(r):.4f} (against {set_score(against[n]):.4f})  "
                  + " ".join(f"{k[:4]}={v:.3f}" for k, v in by_kind(r).items()))
    adopted = {name: [(q.kind, judge(q, rank(q, archive_rule))) for q in queries]
               for name, (queries, judge) in sets.items()}
    report["archive default"] = {}
    print("\n## the archive's rule (this branch's defaults) against the better single mode, per kind")
    for n in sets:
        kinds = by_kind(adopted[n])
        best = {k: max(by_kind(singles[n]["lexical"])[k], by_kind(singles[n]["semantic"])[k]) for k in kinds}
        report["archive default"][n] = {"all": set_score(adopted[n]), **kinds,
                                        "margin": {k: kinds[k] - best[k] for k in kinds}}
        print(f"  {n:14s} {set_score(adopted[n]):.4f} (old default {set_score(base[n]):.4f})  "
              + " ".join(f"{k[:4]}={v:.4f} ({v - best[k]:+.4f})" for k, v in kinds.items()))
    print("\n## single modes and default")
    for n in sets:
        for m in ("lexical", "semantic"):
            print(f"  {n:14s} {m:9s} " + " ".join(f"{k[:4]}={v:.3f}" for k, v in by_kind(singles[n][m]).items()))
        print(f"  {n:14s} {'default':9s} " + " ".join(f"{k[:4]}={v:.3f}" for k, v in by_kind(base[n]).items()))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, default=str) + "\n", encoding="utf-8")
