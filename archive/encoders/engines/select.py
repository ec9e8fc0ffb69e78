"""Which engine runs the e5 network here: asked for by name, or the fastest this machine has.

Engines, fastest first:

* ``cuda``: a CUDA GPU, through torch (:mod:`.torch_e5`), when torch is installed
  and sees a GPU;
* ``bf16``: OpenVINO on the CPU's bf16 matrix units (AMX, AVX512-BF16);
* ``int8``: OpenVINO with 8-bit weights and int8 products (VNNI, AMX-int8, ARM dot
  products): the tier for CPUs without bf16 units. OpenVINO offers it on any x86 CPU,
  but without an int8 dot-product instruction it runs the products in float32 and is
  slower than numpy (docs/performance.md), so ``auto`` takes it only where the CPU
  has one;
* ``numpy``: the float32 forward pass, which runs everywhere.

``auto`` (the default) takes the first the machine supports (int8 only where the CPU's
flags list a dot product or cannot be read in full). Detection asks the
runtimes themselves (OpenVINO's CPU capabilities, torch's CUDA device count),
and looks for a GPU device file before importing torch at all, so a machine
without a GPU never pays torch's import. ``ARCHIVE_ENGINE`` in the environment
or ``--engine`` on the command line overrides the choice; an engine the machine
lacks is refused with what is missing.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from functools import lru_cache
from pathlib import Path

from ...errors import EncoderError

ENGINES = ("auto", "cuda", "bf16", "int8", "numpy")
ENV = "ARCHIVE_ENGINE"
_NVIDIA_DEVICE = Path("/dev/nvidiactl")


def requested(engine: str | None = None) -> str:
    """The engine asked for: ``engine`` if given, else ``ARCHIVE_ENGINE``, else ``auto``."""
    value = (engine or os.environ.get(ENV) or "auto").strip().lower()
    if value not in ENGINES:
        source = "--engine" if engine else ENV
        raise EncoderError(f"{source}={value!r} is not an engine; choose one of: {', '.join(ENGINES)}")
    return value


@lru_cache(maxsize=1)
def cpu_capabilities() -> frozenset[str]:
    """What OpenVINO's CPU plugin can run here (``BF16``, ``INT8``, ``FP32``…); empty without OpenVINO."""
    if importlib.util.find_spec("openvino") is None:
        return frozenset()
    try:
        import openvino

        return frozenset(openvino.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"))
    except Exception:  # noqa: BLE001 - a runtime that cannot start is a runtime this machine lacks
        return frozenset()


@lru_cache(maxsize=1)
def has_cuda() -> bool:
    """True when torch is installed and sees a CUDA GPU (torch is imported only where a GPU driver is)."""
    if not _NVIDIA_DEVICE.exists() or importlib.util.find_spec("torch") is None:
        return False
    try:
        import torch

        return bool(torch.cuda.is_available())
    except Exception:  # noqa: BLE001 - a broken torch install: no GPU engine
        return False


_DOT_PRODUCT_FLAGS = frozenset({"avx512_vnni", "avx512vnni", "avx_vnni", "amx_int8", "asimddp"})
"""CPU flags (as Linux's ``/proc/cpuinfo`` and numpy spell them, lower-cased) of an instruction
that multiplies and sums int8 in one step: x86 VNNI (512- or 256-bit), AMX-int8, ARM's dot product."""


@lru_cache(maxsize=1)
def _kernel_list() -> frozenset[str] | None:
    """The flags Linux lists in ``/proc/cpuinfo``, or ``None`` where there is no such list."""
    try:
        flags = kernel_flags(Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace"))
    except OSError:  # not Linux
        return None
    return flags or None


@lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """The CPU's instruction-set flags, lower-cased: what numpy detected at start (every OS; it
    does not list AVX-VNNI) and, on Linux, the kernel's list in ``/proc/cpuinfo``. numpy's own
    table is read (as ``numpy.show_runtime`` reads it; numpy has no public per-flag query)
    rather than adding a CPU-identification package: numpy is already loaded here."""
    flags: set[str] = set(_kernel_list() or ())
    try:
        from numpy._core._multiarray_umath import __cpu_features__

        flags |= {name.lower() for name, present in __cpu_features__.items() if present}
    except ImportError:  # another numpy layout: the kernel's list (or nothing) decides
        pass
    return frozenset(flags)


def flags_complete() -> bool:
    """True where :func:`cpu_flags` would list every flag of :data:`_DOT_PRODUCT_FLAGS` the CPU has:
    on Linux (the kernel's list) and macOS (numpy's table; no Mac has AVX-VNNI). On Windows numpy's
    table lacks AVX-VNNI, which most Intel laptops since 2021 have, so a missing flag proves nothing."""
    return _kernel_list() is not None or sys.platform == "darwin"


def kernel_flags(cpuinfo: str) -> frozenset[str]:
    """The flags of a ``/proc/cpuinfo`` text: its ``flags`` lines (x86) or ``Features`` lines (ARM)."""
    flags: set[str] = set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            flags |= set(value.lower().split())
    return frozenset(flags)


def int8_dot_products() -> bool | None:
    """True when the CPU lists an int8 dot-product instruction (:data:`_DOT_PRODUCT_FLAGS`), False
    when its list is complete and has none, ``None`` when it cannot tell (:func:`flags_complete`)."""
    if cpu_flags() & _DOT_PRODUCT_FLAGS:
        return True
    return False if flags_complete() else None


def missing(engine: str) -> str | None:
    """Why ``engine`` cannot run on this machine, or ``None`` when it can."""
    if engine == "numpy":
        return None
    if engine == "cuda":
        if importlib.util.find_spec("torch") is None:
            return "torch is not installed (pip install torch with CUDA)"
        return None if has_cuda() else "torch sees no CUDA GPU"
    if importlib.util.find_spec("openvino") is None:
        return "OpenVINO is not installed (pip install openvino)"
    capabilities = cpu_capabilities()
    needed = {"bf16": "BF16", "int8": "INT8"}[engine]
    if needed not in capabilities:
        what = "bf16 matrix units (AMX or AVX512-BF16)" if engine == "bf16" else "int8 dot products"
        return f"this CPU has no {what} that OpenVINO can use (it reports {', '.join(sorted(capabilities)) or 'nothing'})"
    return None


def choose(engine: str | None = None, say: bool = True) -> str:
    """The engine to run: the one asked for (refused with the reason if this machine lacks it),
    or for ``auto`` the fastest this machine supports. ``say=False`` keeps the fallback's note
    for the run that uses it (``archive stats`` only reports the engine)."""
    wanted = requested(engine)
    if wanted != "auto":
        reason = missing(wanted)
        if reason:
            fix = f"--engine auto (or unset {ENV})" if engine else f"unset {ENV} (or set it to auto)"
            raise EncoderError(f"engine {wanted} is not available here: {reason}. Fix: {fix}")
        return wanted
    for candidate in ("cuda", "bf16", "int8"):
        if missing(candidate) is None and (candidate != "int8" or int8_dot_products() is not False):
            return candidate
    if say:
        _say_fallback_once()
    return "numpy"


def _slower(engine: str) -> str | None:
    """Why ``auto`` passes over ``engine`` although it can run: ``None`` unless it is ``int8``
    on a CPU whose flags list no int8 dot product."""
    if engine == "int8" and missing("int8") is None and int8_dot_products() is False:
        return ("this CPU lists no int8 dot-product instruction (VNNI, AMX-int8, ARM dot product), so "
                "OpenVINO would run the products in float32, slower than numpy; --engine int8 runs it anyway")
    return None


@lru_cache(maxsize=1)
def _say_fallback_once() -> None:
    """Tell the user, once per process, that the portable engine is running and why."""
    reasons = "; ".join(f"{e}: {missing(e) or _slower(e)}" for e in ("bf16", "int8"))
    print(f"note: e5-small runs on the portable numpy engine ({reasons})", file=sys.stderr)


RUNTIMES = {"cuda": "torch-cuda", "bf16": "openvino-bf16", "int8": "openvino-int8", "numpy": "numpy"}
"""The label each engine is recorded and shown by: what runs the network, and how."""
