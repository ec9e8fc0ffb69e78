"""Fusion functions: definitions, tie-breaks, degenerate runs."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from archive.search.fusion import convex_combination, min_max, reciprocal_rank_fusion, z_score, weighted_z_fusion


def test_rrf_matches_its_definition() -> None:
    lexical = [("a", 12.0), ("b", 7.0)]
    dense = [("b", 0.9), ("c", 0.8)]
    fused = dict(reciprocal_rank_fusion([lexical, dense]))
    assert fused["b"] == pytest.approx(1 / 62 + 1 / 61)
    assert fused["a"] == pytest.approx(1 / 61)
    assert fused["c"] == pytest.approx(1 / 62)
    assert [d for d, _ in reciprocal_rank_fusion([lexical, dense])] == ["b", "a", "c"]


def test_ties_break_on_id() -> None:
    fused = reciprocal_rank_fusion([[("z", 1.0)], [("a", 1.0)]])
    assert [d for d, _ in fused] == ["a", "z"]


def test_constant_runs_normalize_to_one() -> None:
    assert min_max([("a", 3.0), ("b", 3.0)]) == {"a": 1.0, "b": 1.0}
    assert z_score([("a", 3.0)]) == {"a": 1.0}
    assert min_max([]) == {}


def test_convex_combination_weights() -> None:
    lexical = [("a", 10.0), ("b", 5.0), ("c", 0.0)]
    dense = [("c", 0.9), ("b", 0.5), ("a", 0.1)]
    assert [d for d, _ in convex_combination(lexical, dense, alpha=1.0)][0] == "a"
    assert [d for d, _ in convex_combination(lexical, dense, alpha=0.0)][0] == "c"
    mid = dict(convex_combination(lexical, dense, alpha=0.5))
    assert mid["b"] == pytest.approx(0.5 * 0.5 + 0.5 * 0.5)
    with pytest.raises(ValueError):
        convex_combination(lexical, dense, alpha=1.5)


def test_missing_document_gets_the_floor() -> None:
    fused = dict(convex_combination([("a", 2.0), ("b", 1.0)], [("c", 0.7), ("a", 0.3)], alpha=0.5))
    assert fused["b"] == pytest.approx(0.0)  # last lexically, absent from dense
    assert fused["c"] == pytest.approx(0.5)


runs = st.lists(st.tuples(st.sampled_from("abcdefgh"), st.floats(-1e6, 1e6)), max_size=8, unique_by=lambda t: t[0])


@given(runs, runs, st.floats(0, 1))
def test_fusion_is_sorted_and_total(lexical, dense, alpha) -> None:
    for fused in (
        reciprocal_rank_fusion([lexical, dense]),
        convex_combination(lexical, dense, alpha=alpha),
        convex_combination(lexical, dense, alpha=alpha, normalize="z"),
    ):
        assert {d for d, _ in fused} == {d for d, _ in lexical} | {d for d, _ in dense}
        keys = [(-s, d) for d, s in fused]
        assert keys == sorted(keys)


def test_weighted_z_fusion_uses_every_candidates_real_scores() -> None:
    ids = ["a", "b", "c"]
    lexical = [3.0, 0.0, 1.0]  # b was not in the lexical list: BM25 0
    dense = [0.50, 0.90, 0.70]  # but each dense score is real, c's included
    fused = weighted_z_fusion(ids, [lexical, dense], [0.5, 0.5])
    # z(lexical) = [1.34, -1.07, -0.27], z(dense) = [-1.22, 1.22, 0]
    assert [d for d, _ in fused] == ["b", "a", "c"]
    assert dict(fused)["c"] == pytest.approx(0.5 * (1.0 - 4 / 3) / (14 / 9) ** 0.5)
    assert weighted_z_fusion(ids, [lexical, dense], [1.0, 0.0])[0][0] == "a"


def test_weighted_z_fusion_constant_column_normalizes_to_one_and_ties_break_by_id() -> None:
    fused = weighted_z_fusion(["b", "a"], [[2.0, 2.0], [0.3, 0.3]], [0.5, 0.5])
    assert fused == [("a", 1.0), ("b", 1.0)]
    assert weighted_z_fusion(["only"], [[7.5], [0.8]], [0.5, 0.5]) == [("only", 1.0)]  # a lone hit
    mixed = dict(weighted_z_fusion(["a", "b"], [[3.0, 1.0], [0.4, 0.4]], [0.5, 0.5]))
    assert mixed == {"a": pytest.approx(1.0), "b": pytest.approx(0.0)}  # 0.5 * (±1) + 0.5 * 1
    assert weighted_z_fusion([], [[], []], [0.5, 0.5]) == []
    with pytest.raises(ValueError):
        weighted_z_fusion(["a"], [[1.0]], [0.5, 0.5])
    with pytest.raises(ValueError):
        weighted_z_fusion(["a", "b"], [[1.0], [1.0, 2.0]], [0.5, 0.5])


@given(runs, st.floats(0, 1))
def test_weighted_z_fusion_is_sorted_and_total(run, alpha) -> None:
    ids = [d for d, _ in run]
    fused = weighted_z_fusion(ids, [[s for _, s in run], [s * 0.5 + 1 for _, s in run]], [alpha, 1 - alpha])
    assert {d for d, _ in fused} == set(ids)
    keys = [(-s, d) for d, s in fused]
    assert keys == sorted(keys)
