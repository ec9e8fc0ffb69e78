"""The probe's ``results`` section: what a search says it found is what it found (issue 21, items 3, 5, 7).

Run by ``scripts/probe.py --only results`` (and by a full run). Over a small
dated archive embedded with e5-small (the default encoder, with its
calibrated similarity floor) it checks, on the real command line and the web
API: a query with nothing near returns nothing and says so in every mode;
meaning-only hits are counted and said to be so; ``total`` is filled in
every mode and is not ``-k``; date order and facets run over what was found;
``-date`` is newest first; facet values and stats keys are spelled alike
everywhere.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

RecordFn = Callable[[str, str, bool, str], None]
CATEGORY = "results"
STORIES = [
    ("ارتفاع أسعار النفط بعد قرار أوبك", "ارتفعت أسعار النفط في الأسواق العالمية بعد أن قررت أوبك خفض الإنتاج.",
     "BBC", "economy"),
    ("الهلال يفوز على النصر", "حقق فريق الهلال فوزا ثمينا على النصر في ديربي الرياض.", "middleEast", "sport"),
    ("صاروخ كوري شمالي", "أطلقت كوريا الشمالية صاروخا باليستيا باتجاه بحر اليابان.", "CNN", "world"),
    ("موجة حر شديدة", "حذرت منظمة الصحة العالمية من موجة حر تضرب دولا عربية.", "CNN", "health"),
    ("أمطار غزيرة في جدة", "غمرت أمطار غزيرة شوارع جدة وعلقت السيارات في الأنفاق.", "", ""),
]


def _articles(folder: Path) -> Path:
    """Ten dated articles (two per story, a month apart), one story without source or category."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "news.jsonl"
    start = date(2024, 1, 5)
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(10):
            title, body, source, category = STORIES[i % len(STORIES)]
            record = {"id": f"n{i:02d}", "title": title, "body": f"{body} التقرير رقم {i}.", "source": source,
                      "category": category, "published": (start + timedelta(days=31 * i)).isoformat()}
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


def _search(cli: Callable[..., object], index: Path, query: str, *args: str) -> tuple[list[dict], dict]:
    run = cli("search", query, "--json", "--index", index, *args)
    lines = [json.loads(line) for line in run.out.splitlines() if line.strip()]  # type: ignore[attr-defined]
    if not lines or "summary" not in lines[-1]:
        raise AssertionError(f"no JSON summary: {run.text[:200]}")  # type: ignore[attr-defined]
    return lines[:-1], lines[-1]["summary"]


def honest_results(work: Path, cli: Callable[..., object], record: RecordFn) -> None:
    """Every case of this section, recorded as ``record(category, case, ok, detail)``."""
    folder = work / "results"
    index = folder / "index"
    build = cli("build", _articles(folder), "--index", index, "--encoder", "e5-small", "--procs", "1")
    if build.code != 0:  # type: ignore[attr-defined]
        record(CATEGORY, "build an e5-small archive", False, build.text)  # type: ignore[attr-defined]
        return
    cases: list[tuple[str, Callable[[], tuple[bool, str]]]] = [
        ("qwertyuiop finds nothing, says so", lambda: _nothing_near(cli, index)),
        ("'oil prices': meaning-only, counted", lambda: _meaning_only(cli, index)),
        ("total filled in every mode, not -k", lambda: _totals(cli, index)),
        ("hybrid -date: found set, newest first", lambda: _date_order(cli, index)),
        ("semantic --facets count what was found", lambda: _facets(cli, index)),
        ("facet/stats keys spelled alike (CLI, API)", lambda: _spelling(cli, index)),
    ]
    for name, case in cases:
        try:
            ok, detail = case()
        except Exception as exc:  # noqa: BLE001 - a probe records, it does not stop
            ok, detail = False, f"{type(exc).__name__}: {exc}"
        record(CATEGORY, name, ok, detail)


def _nothing_near(cli: Callable[..., object], index: Path) -> tuple[bool, str]:
    details, ok = [], True
    for mode in ("semantic", "hybrid", "lexical"):
        hits, summary = _search(cli, index, "qwertyuiop", "--mode", mode)
        ok &= not hits and summary["total"] == 0 and bool(summary["reason"])
        details.append(f"{mode}: {len(hits)} hits, total {summary['total']}, reason {summary['reason']!r}")
    return ok, "; ".join(details)


def _meaning_only(cli: Callable[..., object], index: Path) -> tuple[bool, str]:
    hits, summary = _search(cli, index, "oil prices")
    ok = (bool(hits) and hits[0]["title"].startswith("ارتفاع أسعار النفط") and summary["words"] == 0
          and summary["total"] == summary["meaning"] == len(hits) < 10
          and summary["reason"] == "no article contains these words; nearest by meaning:")
    return ok, f"{len(hits)} hits, total {summary['total']}, reason {summary['reason']!r}"


def _totals(cli: Callable[..., object], index: Path) -> tuple[bool, str]:
    details, ok = [], True
    for mode in ("lexical", "semantic", "hybrid"):
        _, one = _search(cli, index, "أسعار النفط", "--mode", mode, "-k", "1")
        every, summary = _search(cli, index, "أسعار النفط", "--mode", mode, "-k", "100")
        ok &= isinstance(one["total"], int) and one["total"] == summary["total"] == len(every)
        ok &= all(key in one for key in ("reason", "notice"))
        details.append(f"{mode} {one['total']}")
    return ok, "totals " + ", ".join(details)


def _date_order(cli: Callable[..., object], index: Path) -> tuple[bool, str]:
    relevant, _ = _search(cli, index, "أسعار النفط", "-k", "100")
    newest, summary = _search(cli, index, "أسعار النفط", "--sort", "-date", "-k", "100")
    dates = [h["published"] for h in newest]
    ok = dates == sorted(dates, reverse=True) and {h["id"] for h in newest} == {h["id"] for h in relevant}
    ok &= summary["total"] == len(newest) and not any("الهلال" in h["title"] for h in newest)  # not the derby
    return ok, f"{[h['id'] for h in newest]} (total {summary['total']})"


def _facets(cli: Callable[..., object], index: Path) -> tuple[bool, str]:
    hits, summary = _search(cli, index, "أسعار النفط", "--mode", "semantic", "--facets", "-k", "100")
    facets = summary["facets"]
    sources = {h["source"] or "(none)" for h in hits}
    ok = facets["total"] == summary["total"] == len(hits) > 0 and set(facets["sources"]) == sources
    return ok, f"total {facets['total']}, sources {facets['sources']}"


def _spelling(cli: Callable[..., object], index: Path) -> tuple[bool, str]:
    from starlette.testclient import TestClient

    from archive import Archive
    from archive.web.app import create_app

    hits, summary = _search(cli, index, "الهلال OR النفط OR أمطار", "--mode", "lexical", "--facets", "-k", "100")
    stats = json.loads(cli("stats", "--json", "--index", index).out)  # type: ignore[attr-defined]
    with Archive.open(index) as archive, TestClient(create_app(archive)) as client:
        api_stats = client.get("/api/stats").json()
        api = client.get("/api/search", params={"q": "الهلال OR النفط OR أمطار", "mode": "lexical", "k": 50}).json()
    spelled = {h["source"] or "(none)" for h in hits}
    ok = (set(summary["facets"]["sources"]) == spelled == set(api["facets"]["sources"])
          and {"middleEast", "BBC", "(none)"} <= spelled
          and stats["sources"] == api_stats["sources"] and "(none)" in stats["sources"] and "" not in stats["sources"])
    return ok, f"facets {summary['facets']['sources']}, stats {stats['sources']}"
