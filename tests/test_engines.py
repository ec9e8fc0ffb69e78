"""Engines of e5-small: detection and override, the fallback, agreement of every tier with the
float32 numpy forward pass on real Arabic text, and an index written on one engine searched on another.
Speed is measured in scripts/bench_engines.py, not here."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from archive import Archive
from archive.cli import app
from archive.document import Document
from archive.encoders import get_encoder
from archive.encoders.engines import select
from archive.errors import EncoderError
from archive.files.readers import read_file
from archive.index.dense import plan_passages

from .conftest import NEWS, SEED_ID, SEEDS, SHARED_DATA

QUERY = "قوات كورية في كورسك"
HAS_OPENVINO = importlib.util.find_spec("openvino") is not None
HAS_TORCH = importlib.util.find_spec("torch") is not None


def _forget_detection() -> None:
    """Detection is cached per process; each test detects afresh (some replace the detectors)."""
    for detector in (select.cpu_capabilities, select.cpu_flags, select._kernel_list, select.has_cuda,  # noqa: SLF001
                     select._say_fallback_once):  # noqa: SLF001
        getattr(detector, "cache_clear", lambda: None)()


@pytest.fixture(autouse=True)
def fresh_detection(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(select.ENV, raising=False)
    _forget_detection()
    yield
    _forget_detection()


def _tiers_here() -> list[str]:
    return [t for t in ("bf16", "int8") if select.missing(t) is None]


def _passages() -> list[str]:
    """Real Arabic passages cut as the archive cuts them (at most two per article): the seed article,
    the test articles and, where the shared data is, 60 SaudiNewsNet articles (the benchmark,
    scripts/bench_engines.py, measures 1,000)."""
    docs: list[Document] = [*read_file(SEEDS / f"{SEED_ID}.txt"), *NEWS]
    zips = sorted((SHARED_DATA / "saudinewsnet").glob("*.zip"))
    if zips:
        docs += [d for d in read_file(zips[1], on_error=lambda _: None) if len(d.body.split()) >= 40][:60]
    return plan_passages(docs, 0, 2)[1]


@pytest.fixture(scope="module")
def numpy_e5():
    return get_encoder("e5-small", threads=2, engine="numpy")


@pytest.fixture(scope="module")
def passages() -> list[str]:
    return _passages()


@pytest.fixture(scope="module")
def reference(numpy_e5, passages: list[str]) -> np.ndarray:
    """The float32 vectors every engine is held to."""
    return numpy_e5.encode_passages(passages)


# ------------------------------------------------------------------ detection and override

def test_an_engine_name_is_checked_and_the_environment_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    assert select.requested() == "auto"
    monkeypatch.setenv(select.ENV, "NumPy")
    assert select.requested() == "numpy" and select.choose() == "numpy"
    monkeypatch.setenv(select.ENV, "fast")
    with pytest.raises(EncoderError, match=r"ARCHIVE_ENGINE='fast' is not an engine; choose one of: auto, cuda"):
        select.requested()
    assert select.requested("int8") == "int8"  # an explicit choice wins over the environment


def test_auto_takes_the_fastest_tier_the_cpu_reports(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(select, "has_cuda", lambda: False)
    monkeypatch.setattr(select.importlib.util, "find_spec", lambda name: object())  # "OpenVINO is installed"
    monkeypatch.setattr(select, "cpu_flags", lambda: frozenset({"avx2", "avx512f", "avx512_vnni"}))
    for capabilities, expected in (({"FP32", "BF16", "INT8"}, "bf16"), ({"FP32", "INT8"}, "int8"), ({"FP32"}, "numpy")):
        monkeypatch.setattr(select, "cpu_capabilities", lambda c=capabilities: frozenset(c))
        assert select.choose() == expected, capabilities


# /proc/cpuinfo lines of real CPUs, cut to the flags that matter and some around them.
ZEN3 = "flags\t\t: fpu vme sse sse2 ssse3 fma cx16 sse4_1 sse4_2 avx f16c avx2 bmi2 sha_ni vaes vpclmulqdq rdpid fsrm"
SAPPHIRE_RAPIDS = ("flags\t\t: fpu avx2 avx512f avx512dq avx512_bf16 avx512_vnni amx_bf16 amx_tile amx_int8 "
                   "avx512_fp16")
ALDER_LAKE = "flags\t\t: fpu sse4_2 avx avx2 fma avx_vnni sha_ni gfni vaes"
NEOVERSE_N1 = "processor\t: 0\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics asimddp"
CORTEX_A72 = "Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 cpuid"


def test_int8_is_auto_only_where_the_cpu_has_int8_dot_products(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """OpenVINO offers int8 on any x86 CPU; without VNNI, AMX-int8 or ARM's dot product it runs the
    products in float32, slower than numpy, so auto falls back to numpy there and says why."""
    monkeypatch.setattr(select, "has_cuda", lambda: False)
    monkeypatch.setattr(select.importlib.util, "find_spec", lambda name: object())
    monkeypatch.setattr(select, "cpu_capabilities", lambda: frozenset({"FP32", "INT8"}))
    monkeypatch.setattr(select, "flags_complete", lambda: True)  # Linux: the kernel lists every flag
    monkeypatch.setattr(select, "cpu_flags", lambda: select.kernel_flags(ZEN3))
    assert select.choose(say=False) == "numpy" and capsys.readouterr().err == ""  # archive stats: no note
    for cpuinfo, expected in ((ZEN3, "numpy"), (SAPPHIRE_RAPIDS, "int8"), (ALDER_LAKE, "int8"),
                              (NEOVERSE_N1, "int8"), (CORTEX_A72, "numpy")):
        monkeypatch.setattr(select, "cpu_flags", lambda text=cpuinfo: select.kernel_flags(text))
        assert select.choose() == expected, cpuinfo
    notes = capsys.readouterr().err
    assert "runs on the portable numpy engine" in notes and "lists no int8 dot-product instruction" in notes
    monkeypatch.setattr(select, "cpu_flags", lambda: select.kernel_flags(ZEN3))
    assert select.choose("int8") == "int8"  # asked for by name, it runs: it works, only slower
    # numpy's spelling of Ice Lake's VNNI counts too; where the flags cannot be read in full (Windows:
    # numpy's table has no AVX-VNNI) a missing flag proves nothing and OpenVINO's word stands.
    monkeypatch.setattr(select, "cpu_flags", lambda: frozenset({"avx2", "avx512f", "avx512vnni"}))
    assert select.choose() == "int8"
    monkeypatch.setattr(select, "flags_complete", lambda: False)
    monkeypatch.setattr(select, "cpu_flags", lambda: frozenset({"avx2", "fma3"}))
    assert select.int8_dot_products() is None and select.choose() == "int8"


def test_this_machines_flags_include_the_kernels() -> None:
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.exists():
        pytest.skip("no /proc/cpuinfo: not Linux")
    kernel = select.kernel_flags(cpuinfo.read_text(encoding="utf-8", errors="replace"))
    assert kernel and kernel <= select.cpu_flags()
    assert select.flags_complete()
    assert select.int8_dot_products() == bool(kernel & {"avx512_vnni", "avx_vnni", "amx_int8", "asimddp"})


def test_a_missing_instruction_set_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(select.importlib.util, "find_spec", lambda name: object())
    monkeypatch.setattr(select, "cpu_capabilities", lambda: frozenset({"FP32", "INT8"}))
    with pytest.raises(EncoderError) as caught:
        get_encoder("e5-small", engine="bf16")
    message = str(caught.value)
    assert "engine bf16 is not available here" in message and "bf16 matrix units (AMX or AVX512-BF16)" in message
    assert "Fix: --engine auto" in message


@pytest.mark.slow
def test_without_openvino_the_numpy_engine_runs_and_says_so_once(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(select.importlib.util, "find_spec", lambda name: None if name in ("openvino", "torch") else real(name))
    first = get_encoder("e5-small", threads=1)
    second = get_encoder("e5-small", threads=1)
    assert first.engine == second.engine == "numpy" and first.engine_runtime == "numpy"
    notes = capsys.readouterr().err
    assert notes.count("e5-small runs on the portable numpy engine") == 1
    assert "OpenVINO is not installed" in notes
    with pytest.raises(EncoderError, match="OpenVINO is not installed"):
        get_encoder("e5-small", engine="int8")
    vectors = first.encode_passages(["طالبت كوريا الجنوبية بسحب القوات الكورية الشمالية من روسيا"] * 40)
    assert vectors.shape == (40, 384) and first.ran == ["numpy"]


def test_no_gpu_means_no_torch_import(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(select, "_NVIDIA_DEVICE", tmp_path / "no-such-device")
    assert select.has_cuda() is False
    assert select.missing("cuda") in ("torch sees no CUDA GPU", "torch is not installed (pip install torch with CUDA)")


def test_other_encoders_take_no_engine_but_their_own() -> None:
    with pytest.raises(EncoderError, match="runs e5-small only"):
        get_encoder("hashing", engine="bf16")
    assert get_encoder("hashing", engine="numpy") is not None


def test_a_runtime_that_fails_to_start_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    if not _tiers_here():
        pytest.skip("no OpenVINO tier on this machine")
    from archive.encoders.engines import openvino_e5

    def broken(*args, **kwargs):
        raise RuntimeError("CPU plugin not found")

    monkeypatch.setattr(openvino_e5, "OpenVinoE5", broken)
    encoder = get_encoder("e5-small", engine=_tiers_here()[0])
    with pytest.raises(EncoderError, match=r"failed to start \(CPU plugin not found\)\. Fix: --engine numpy"):
        encoder.warm()


# ------------------------------------------------------------------ same meaning

@pytest.mark.slow
@pytest.mark.parametrize("tier", ["bf16", "int8"])
def test_every_tier_agrees_with_float32_on_real_arabic(tier: str, reference: np.ndarray, passages: list[str]) -> None:
    if select.missing(tier):
        pytest.skip(f"{tier}: {select.missing(tier)}")
    fast = get_encoder("e5-small", threads=2, engine=tier)
    fast.warm()  # without the shared data the passages are few: a small call would run on numpy
    got = fast.encode_passages(passages)
    assert fast.ran == [fast.engine_runtime]
    cosines = np.einsum("ij,ij->i", got, reference)
    assert cosines.min() >= 0.995 and cosines.mean() >= 0.999, (cosines.min(), cosines.mean())
    # Padding never leaks: a passage's vector does not depend on the batch it is padded in.
    alone = fast.encode_passages(passages[:1] * 12)[0]  # a batch of one length
    assert float(alone @ got[0]) > 0.9999


@pytest.mark.slow
def test_torch_engine_computes_the_same_network(numpy_e5, reference: np.ndarray, passages: list[str]) -> None:
    if not HAS_TORCH:
        pytest.skip("torch is not installed (pip install -e '.[test]')")
    from archive.encoders.engines.torch_e5 import TorchE5

    engine = TorchE5(numpy_e5._network, "cpu")  # noqa: SLF001 - the CUDA module, run in float32 on the CPU
    vocab = numpy_e5._tokenizer.vocabulary  # noqa: SLF001
    windows = [np.array([vocab.bos, *p[:510], vocab.eos]) for p in numpy_e5.pieces(passages[:64], False)]
    got = engine.embed(windows)
    got /= np.linalg.norm(got, axis=1, keepdims=True)
    cosines = np.einsum("ij,ij->i", got, reference[:64])
    assert cosines.min() > 0.99999


@pytest.mark.slow
def test_a_query_runs_on_numpy_until_the_fast_engine_is_warm() -> None:
    tiers = _tiers_here()
    if not tiers:
        pytest.skip("no OpenVINO tier on this machine")
    encoder = get_encoder("e5-small", threads=2, engine=tiers[0])
    encoder.encode_queries([QUERY])
    assert encoder.ran == ["numpy"]  # a cold `archive search` never loads the runtime
    encoder.warm()
    encoder.encode_queries([QUERY])
    assert encoder.ran == ["numpy", encoder.engine_runtime]


# ------------------------------------------------------------------ the index and the manifest

@pytest.mark.slow
def test_an_index_written_on_one_engine_is_searched_on_another(tmp_path: Path, passages: list[str],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    tiers = _tiers_here()
    if not tiers:
        pytest.skip("no OpenVINO tier on this machine")
    docs = [*read_file(SEEDS / f"{SEED_ID}.txt"), *NEWS]
    zips = sorted((SHARED_DATA / "saudinewsnet").glob("*.zip"))
    docs += [d for d in read_file(zips[0], on_error=lambda _: None)][:30] if zips else [
        Document(id=f"copy-{i}", title=d.title, body=d.body * 8) for i, d in enumerate(NEWS)
    ]
    written = {}
    for engine in (tiers[0], "numpy"):
        monkeypatch.setenv(select.ENV, engine)
        path = tmp_path / engine
        Archive.build(docs, path, encoder="e5-small").close()
        manifest = json.loads(next(path.glob("gen-*/manifest.json")).read_text())
        written[engine] = manifest["engines"]
        for reader in (tiers[0], "numpy"):
            monkeypatch.setenv(select.ENV, reader)
            with Archive.open(path) as archive:
                hits = archive.search(QUERY, mode="semantic", k=3)
                assert hits[0].id == SEED_ID, (engine, reader, [h.id for h in hits])
                assert archive.stats().engines == written[engine]
    assert written == {tiers[0]: [f"openvino-{tiers[0]}"], "numpy": ["numpy"]}


def test_an_engine_in_the_environment_is_checked_as_the_option_is(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """ARCHIVE_ENGINE holding no engine's name is the same usage error as --engine (exit 2, naming the
    variable); one this machine lacks is refused when the engine is needed, naming the fix, and a
    search by words alone, which needs none, runs."""
    runner = CliRunner()
    index = tmp_path / "index"
    Archive.build([*read_file(SEEDS / f"{SEED_ID}.txt")], index, encoder="hashing", procs=1).close()
    bogus = runner.invoke(app, ["search", QUERY, "--index", str(index)], env={select.ENV: "bogus"})
    assert bogus.exit_code == 2 and "ARCHIVE_ENGINE='bogus' is not an engine" in bogus.output
    monkeypatch.setattr(select, "missing", lambda engine: None if engine in ("numpy", "auto") else "lacks it")
    lexical = runner.invoke(app, ["search", QUERY, "--index", str(index), "--mode", "lexical", "--json"],
                            env={select.ENV: "bf16"})
    assert lexical.exit_code == 0 and SEED_ID in lexical.output
    runner.invoke(app, ["search", QUERY, "--index", str(index), "--mode", "lexical"])  # the next command
    assert select.ENV not in os.environ  # the variable was the command's environment's, not left behind
    with pytest.raises(EncoderError, match=r"engine bf16 is not available here: lacks it\. Fix: unset ARCHIVE_ENGINE"):
        with monkeypatch.context() as env:
            env.setenv(select.ENV, "bf16")
            select.choose()


@pytest.mark.slow
def test_the_command_line_takes_and_shows_the_engine(tmp_path: Path) -> None:
    runner = CliRunner()
    index = tmp_path / "index"
    built = runner.invoke(app, ["build", str(SEEDS), "--index", str(index), "--engine", "numpy"])
    assert built.exit_code == 0, built.output
    shown = runner.invoke(app, ["stats", "--index", str(index)])
    assert "(vectors made with numpy)" in shown.output
    record = json.loads(runner.invoke(app, ["stats", "--index", str(index), "--json"]).output)
    assert record["engines"] == ["numpy"] and record["engine"] == select.RUNTIMES[select.choose()]
    refused = runner.invoke(app, ["search", QUERY, "--index", str(index), "--engine", "gpu"])
    assert refused.exit_code == 2 and "is not an engine" in refused.output
    found = runner.invoke(app, ["search", QUERY, "--index", str(index), "--engine", "numpy", "--json"])
    assert found.exit_code == 0 and SEED_ID in found.output
    # One command's --engine ends with it: the next command is back to auto.
    after = json.loads(runner.invoke(app, ["stats", "--index", str(index), "--json"]).output)
    assert after["engine"] == select.RUNTIMES[select.choose()]


@pytest.mark.slow
def test_the_server_starts_the_fast_engine_before_the_first_query(tmp_path: Path) -> None:
    """Where auto picks a fast engine the server starts it before any query; where it picks numpy
    (no fast tier, or int8 without dot products) there is nothing to start and queries run on numpy."""
    import time

    from starlette.testclient import TestClient

    from archive.web.app import create_app

    Archive.build([*read_file(SEEDS / f"{SEED_ID}.txt")], tmp_path / "index", encoder="e5-small").close()
    with Archive.open(tmp_path / "index") as archive, TestClient(create_app(archive)):
        if select.choose() == "numpy":
            assert archive.search(QUERY, mode="semantic", k=1)[0].id == SEED_ID
            encoder = archive.loaded_encoder
            assert encoder is not None and encoder.engine == "numpy" and encoder._fast is None  # noqa: SLF001
            assert encoder.ran == ["numpy"]
            return
        deadline = time.monotonic() + 60
        while (archive.loaded_encoder is None or archive.loaded_encoder._fast is None) and time.monotonic() < deadline:  # noqa: SLF001
            time.sleep(0.1)
        encoder = archive.loaded_encoder
        assert encoder is not None and encoder._fast is not None  # noqa: SLF001 - loaded with no query asked
        assert archive.search(QUERY, mode="semantic", k=1)[0].id == SEED_ID
        assert encoder.ran == [encoder.engine_runtime]  # the query ran on the warm fast engine


@pytest.mark.slow
def test_a_cold_query_never_imports_a_runtime() -> None:
    """A fresh process that encodes one query (what a cold `archive search` does) stays on numpy
    and never imports OpenVINO or torch, whatever this machine has."""
    import subprocess
    import sys

    code = ("import sys; from archive.encoders import get_encoder; e = get_encoder('e5-small');"
            f"e.encode_queries([{QUERY!r}]); print(e.ran, 'openvino' in sys.modules, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1]).stdout.split()
    assert out == ["['numpy']", "False", "False"], out
