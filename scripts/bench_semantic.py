"""Warm semantic-search latency through the library on an index of >= 30,000 passages.

    python scripts/bench_semantic.py [--articles 12000] [--queries 200]

Embedding 30,000 real passages with e5-small takes over an hour on 2 cores, and
FAISS's cost does not depend on what the vectors mean, so the passage vectors
here are seeded random unit vectors while everything on the query path is
real: ANT articles and their passage mapping, the e5-small query encoder,
FAISS search, the document store and snippets. Prints the median and p95 of
``Archive.search(mode="semantic")``, of query encoding alone and of the
similarity floor's exact count (every article's best cosine), in ms.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from archive import Archive  # noqa: E402
from archive.encoders import get_encoder  # noqa: E402
from archive.files.readers import read_documents  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


class RandomPassagesE5:
    """e5-small for queries; seeded random unit vectors for passages (see the module docstring)."""

    def __init__(self) -> None:
        self._e5 = get_encoder("e5-small")
        self.name, self.dim = self._e5.name, self._e5.dim
        self._rng = np.random.default_rng(7)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._e5.encode_queries(texts)

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        vectors = self._rng.standard_normal((len(texts), self.dim)).astype(np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ant", type=Path, help="unpacked ANT corpus (default: unpack the shared tarball)")
    parser.add_argument("--articles", type=int, default=12_000)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ant = args.ant
        if ant is None:
            import tarfile

            ant = Path(tmp) / "ant"
            with tarfile.open(DATA / "ant-multisource-v2.1.tar.xz") as tar:
                tar.extractall(ant, filter="data")
        docs = []
        for doc in read_documents(ant, on_error=lambda e: None):
            docs.append(doc)
            if len(docs) == args.articles:
                break
        encoder = RandomPassagesE5()
        archive = Archive.build(docs, Path(tmp) / "index", encoder=encoder)  # type: ignore[arg-type]
        print(f"index: {len(archive)} articles, {archive.manifest.passages} passages")
        queries = [d.title for d in docs[:: max(1, len(docs) // args.queries)]][: args.queries]
        for q in queries[:10]:
            archive.search(q, mode="semantic")  # warm up
        search_ms, encode_ms = [], []
        for q in queries:
            started = time.perf_counter()
            encoder.encode_queries([q])
            encode_ms.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            archive.search(q, mode="semantic")
            search_ms.append((time.perf_counter() - started) * 1000)
        # The similarity floor's count (archive/search/floor.py): every article's best passage
        # cosine, one matrix product over every row, paid by each semantic and hybrid search.
        dense = archive._searcher.dense  # noqa: SLF001 - timing one step of the search
        floor_ms = []
        for vector in encoder.encode_queries(queries):
            started = time.perf_counter()
            dense.article_scores(vector)
            floor_ms.append((time.perf_counter() - started) * 1000)
        for label, values in (("semantic search (incl. encoding)", search_ms), ("query encoding alone", encode_ms),
                              ("every article's best cosine (the floor's count)", floor_ms)):
            p95 = statistics.quantiles(values, n=20)[-1]
            print(f"{label}: median {statistics.median(values):.1f} ms, p95 {p95:.1f} ms over {len(values)} queries")


if __name__ == "__main__":
    main()
