"""The e5 network in torch, for a CUDA GPU: half-precision products, fused attention.

The same arithmetic as :class:`~archive.encoders.e5_model.E5Network` (it takes its
weights from one), written as padded batches: layer norms, Q/K/V with the query
scale folded in, ``scaled_dot_product_attention`` with a padding mask, GELU in
its tanh form, mean pooling over every token of a window. On a GPU the weights
and activations are bfloat16 where the GPU supports it (float16 otherwise) and
the pooled sums float32. The same module runs on the CPU in float32, which is how
the tests check it on machines without a GPU.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from .batching import length_batches, padded_inputs

if TYPE_CHECKING:
    from ..e5_model import E5Network

BATCH_TOKENS = 32768
"""Padded positions per GPU batch (a few hundred passages: enough to fill a GPU)."""


class TorchE5:
    """The e5 network on a torch device; :meth:`embed` takes windows of piece ids."""

    def __init__(self, network: E5Network, device: str = "cuda") -> None:
        import torch

        self._torch = torch
        self._network = network
        self.device = torch.device(device)
        if self.device.type == "cuda":
            self.dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        else:
            self.dtype = torch.float32

        def tensor(array: np.ndarray):
            # a copy: the weights may be a read-only file mapping, which torch must not share
            return torch.from_numpy(np.array(array, dtype=np.float32, order="C")).to(self.device, self.dtype)

        self._emb_ln = tuple(tensor(a) for a in network._emb_ln)
        self._layers = [
            {
                "qkv": tensor(layer.qkv), "qkv_b": tensor(layer.qkv_b),
                "ao": tensor(layer.ao), "ao_b": tensor(layer.ao_b), "aln": tuple(tensor(a) for a in layer.aln),
                "fi": tensor(layer.fi), "fi_b": tensor(layer.fi_b),
                "fo": tensor(layer.fo), "fo_b": tensor(layer.fo_b), "oln": tuple(tensor(a) for a in layer.oln),
            }
            for layer in network.layers
        ]

    def _forward(self, x, mask):
        torch = self._torch
        functional = torch.nn.functional
        net = self._network
        batch, length, hidden = x.shape
        eps = float(net.eps)
        x = functional.layer_norm(x, (hidden,), *self._emb_ln, eps)
        attn_mask = mask[:, None, None, :].bool()
        for w in self._layers:
            qkv = functional.linear(x, w["qkv"], w["qkv_b"])
            q, k, v = qkv.view(batch, length, 3, net.heads, net.head_dim).permute(2, 0, 3, 1, 4)
            ctx = functional.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, scale=1.0)
            ctx = ctx.transpose(1, 2).reshape(batch, length, hidden)
            x = functional.layer_norm(x + functional.linear(ctx, w["ao"], w["ao_b"]), (hidden,), *w["aln"], eps)
            mid = functional.gelu(functional.linear(x, w["fi"], w["fi_b"]), approximate="tanh")
            x = functional.layer_norm(x + functional.linear(mid, w["fo"], w["fo_b"]), (hidden,), *w["oln"], eps)
        weights = mask.to(torch.float32)[:, :, None]
        return (x.to(torch.float32) * weights).sum(1) / weights.sum(1)

    def embed(self, windows: Sequence[np.ndarray]) -> np.ndarray:
        """Mean-pooled (not normalized) ``[len(windows), hidden]``, as :meth:`E5Network.embed`."""
        torch = self._torch
        out = np.empty((len(windows), self._network.hidden), dtype=np.float32)
        with torch.inference_mode():
            for rows in length_batches(windows, BATCH_TOKENS):
                x, mask = padded_inputs(self._network, [windows[i] for i in rows])
                pooled = self._forward(torch.from_numpy(x).to(self.device, self.dtype),
                                       torch.from_numpy(mask).to(self.device))
                out[rows] = pooled.cpu().numpy()
        return out
