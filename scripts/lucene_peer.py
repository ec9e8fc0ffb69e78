"""Lucene (Anserini, as shipped in Pyserini 0.25) as a peer of the archive's lexical mode.

Configuration: Lucene's ArabicAnalyzer (``-language ar``: standard tokenizer,
lower-casing, Arabic stop words, normalization and light stemming), BM25 with
k1 0.9 and b 0.4 (Anserini's defaults), one ``contents`` field holding the
title and the body. It runs the Anserini fat jar with ``java`` in a
subprocess, so the evaluation needs neither Pyserini's Python dependencies
(a CUDA torch, faiss, nmslib, spacy...) nor pyjnius in the project's venv:
only Java >= 11 and the jar. The jar is found, in order, from ``--lucene-jar``,
the ``ANSERINI_JAR`` environment variable, or an importable ``pyserini``
package (``pip install --no-deps pyserini==0.25.0`` in any venv puts it under
``pyserini/resources/jars``; pass that path).

The index is built once per corpus under the cache (keyed by a digest of the
documents), and all queries of a benchmark are searched in one JVM run; the
returned function looks the ranking up, so no per-query latency is measured.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterable
from pathlib import Path

from archive import Document

K1, B = 0.9, 0.4
HITS = 100


class LuceneUnavailable(RuntimeError):
    """Java or the Anserini jar is missing; the message says which and how to get it."""


def find_jar(explicit: Path | None = None) -> Path:
    """The Anserini fat jar, or :class:`LuceneUnavailable` saying where it was looked for."""
    candidates: list[Path] = []
    if explicit:
        candidates.append(explicit)
    if os.environ.get("ANSERINI_JAR"):
        candidates.append(Path(os.environ["ANSERINI_JAR"]))
    try:
        import pyserini  # noqa: PLC0415

        candidates.extend(sorted((Path(pyserini.__file__).parent / "resources" / "jars").glob("anserini-*-fatjar.jar")))
    except ImportError:
        pass
    for path in candidates:
        if path.is_file():
            return path
    raise LuceneUnavailable(
        "no Anserini fat jar: pass --lucene-jar PATH or set ANSERINI_JAR (e.g. `python -m venv /tmp/ps && "
        "/tmp/ps/bin/pip install --no-deps pyserini==0.25.0`, then "
        "/tmp/ps/lib/python3.*/site-packages/pyserini/resources/jars/anserini-0.25.0-fatjar.jar)"
    )


def java_version() -> int:
    """The major version of ``java`` on PATH, or :class:`LuceneUnavailable`."""
    java = shutil.which("java")
    if not java:
        raise LuceneUnavailable("no `java` on PATH (Anserini 0.25 needs Java 11+, tested with 17)")
    out = subprocess.run([java, "-version"], capture_output=True, text=True, check=False).stderr
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not match:
        raise LuceneUnavailable(f"cannot read the Java version from: {out.strip()[:120]!r}")
    major = int(match.group(1))
    return int(match.group(2)) if major == 1 and match.group(2) else major


def _digest(documents: list[Document]) -> str:
    h = hashlib.sha256()
    for doc in documents:
        h.update(f"{doc.id}\0{doc.title}\0{doc.body}\0".encode())
    return h.hexdigest()[:16]


def _run(args: list[str], what: str) -> None:
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise LuceneUnavailable(f"Anserini {what} failed (exit {done.returncode}): {' | '.join(tail)}")


def build_index(documents: list[Document], cache: Path, jar: Path) -> Path:
    """A Lucene index of ``documents`` (title + body) under ``cache``, built once per corpus."""
    root = cache / f"lucene-{_digest(documents)}"
    index = root / "index"
    if (root / "done").is_file():
        return index
    collection = root / "collection"
    collection.mkdir(parents=True, exist_ok=True)
    with (collection / "docs.jsonl").open("w", encoding="utf-8") as out:
        for doc in documents:
            out.write(json.dumps({"id": doc.id, "contents": f"{doc.title}\n{doc.body}"}, ensure_ascii=False) + "\n")
    _run(
        ["java", "-cp", str(jar), "io.anserini.index.IndexCollection", "-collection", "JsonCollection",
         "-input", str(collection), "-index", str(index), "-generator", "DefaultLuceneDocumentGenerator",
         "-threads", "1", "-language", "ar"],
        "indexing",
    )
    (root / "done").write_text("ok\n", encoding="utf-8")
    return index


def search_all(index: Path, queries: Iterable[str], jar: Path, workdir: Path) -> dict[str, list[str]]:
    """``{query text: ranked doc ids}`` for every query, in one JVM run."""
    texts = list(dict.fromkeys(" ".join(q.split()) for q in queries))
    workdir.mkdir(parents=True, exist_ok=True)
    topics, run = workdir / "topics.tsv", workdir / "run.txt"
    topics.write_text("".join(f"q{i}\t{t}\n" for i, t in enumerate(texts)), encoding="utf-8")
    _run(
        ["java", "-cp", str(jar), "io.anserini.search.SearchCollection", "-index", str(index),
         "-topics", str(topics), "-topicReader", "TsvString", "-output", str(run),
         "-bm25", "-bm25.k1", str(K1), "-bm25.b", str(B), "-language", "ar", "-hits", str(HITS), "-threads", "1"],
        "search",
    )
    ranked: dict[str, list[str]] = {t: [] for t in texts}
    for line in run.read_text(encoding="utf-8").splitlines():
        qid, _, doc_id, *_ = line.split()
        ranked[texts[int(qid[1:])]].append(doc_id)
    return ranked


def lucene_search(documents: list[Document], queries: Iterable[str], cache: Path,
                  jar: Path | None = None) -> Callable[[str], list[str]]:
    """A search function over ``documents`` answering ``queries`` from one batch run.

    Raises :class:`LuceneUnavailable` (with the reason) when Java or the jar is missing.
    """
    found = find_jar(jar)
    if java_version() < 11:
        raise LuceneUnavailable("Anserini 0.25 needs Java 11+ (tested with 17)")
    index = build_index(documents, cache, found)
    ranked = search_all(index, queries, found, index.parent / "runs")

    def search(text: str) -> list[str]:
        return ranked.get(" ".join(text.split()), [])

    search.batch = True  # type: ignore[attr-defined]
    return search
