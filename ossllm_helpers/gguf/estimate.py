"""Estimate the memory to run a GGUF model at a context length, as llama.cpp allocates it on CPU."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .. import memory
from ..errors import InvalidArgumentError
from .reader import inspect
from .records import GGUFInfo, per_layer

__all__ = ["MemoryEstimate", "estimate_memory", "kv_cache_bytes"]

# Architectures whose llama.cpp implementation uses sliding-window attention on
# some layers, and which layers: every layer il with il % n < n - 1 is local
# (llama.cpp's set_swa_pattern(n)); the rest attend to the whole context. A file
# may instead carry "{arch}.attention.sliding_window_pattern": that period n, or one
# bool per layer (true: sliding window).
_SWA_PATTERN = {"gemma2": 2, "gemma3": 6, "gemma3n": 5, "cohere2": 4}


@dataclass(frozen=True)
class MemoryEstimate:
    """Estimated memory to run a model at a context length, as llama.cpp allocates it on CPU.

    All sizes in bytes. How each part is worked out (n_ubatch = 512, llama.cpp's
    default micro-batch; cells = n_ctx rounded up to a multiple of 256, as llama.cpp does):

    weights  = the tensor data in the file (llama.cpp maps the file into memory)
    kv_cache = sum over layers of cells x n_head_kv x (key_length + value_length) x 2 bytes (f16);
               with one head size for keys and values that is
               2 x n_layer x n_ctx x n_head_kv x head_dim x 2 bytes.
               A sliding-window layer (Gemma 2/3, Cohere 2) needs only the window: llama.cpp
               keeps min(cells, window + n_ubatch) cells there, unless swa_full=True
               (llama-cpp-python's default), which sizes every layer to n_ctx.
    compute  = llama.cpp's scratch buffer for one micro-batch, a rough upper estimate:
               4 bytes x n_ubatch x (max(n_vocab, n_head x cells) + 16 x n_embd), the larger
               of the logits and the attention scores plus the activations
    overhead = the Python process and the llama.cpp library, about 64 MiB
    """

    model: str
    n_ctx: int
    weights: int
    kv_cache: int
    compute: int
    overhead: int
    available: int
    sliding_window_layers: int = 0

    @property
    def total(self) -> int:
        return self.weights + self.kv_cache + self.compute + self.overhead

    @property
    def fits(self) -> bool:
        return self.total <= self.available

    def __str__(self) -> str:
        verdict = "fits" if self.fits else "does NOT fit"
        swa = f" ({self.sliding_window_layers} sliding-window layers)" if self.sliding_window_layers else ""
        return (
            f"{self.model} at n_ctx={self.n_ctx}: weights {_gib(self.weights)}"
            f" + KV cache {_gib(self.kv_cache)}{swa} + compute ~{_gib(self.compute)}"
            f" + runtime ~{_gib(self.overhead)} = {_gib(self.total)};"
            f" available now {_gib(self.available)}: {verdict}"
        )


def _gib(n: int) -> str:
    return f"{n / 2**30:.2f} GiB"


_N_UBATCH = 512  # llama.cpp's default micro-batch
_CELL_PAD = 256  # llama.cpp rounds the KV cache up to a multiple of this
_OVERHEAD = 64 * 2**20  # measured: Python with llama_cpp imported is ~45 MiB resident


def _pad(n: int) -> int:
    return -(-n // _CELL_PAD) * _CELL_PAD


def _swa_layers(info: GGUFInfo) -> list[bool]:
    n_layer = info.block_count or 0  # the reader has capped it at a plausible number of layers
    if not info.sliding_window:
        return [False] * n_layer
    pattern = info.metadata.get(f"{info.architecture}.attention.sliding_window_pattern")
    if isinstance(pattern, list) and len(pattern) == n_layer:
        return [bool(p) for p in pattern]
    n = pattern if isinstance(pattern, int) and not isinstance(pattern, bool) and pattern > 0 else \
        _SWA_PATTERN.get(info.architecture or "")
    if n is None:  # llama.cpp ignores the window for other architectures
        return [False] * n_layer
    return [il % n < n - 1 for il in range(n_layer)]


def kv_cache_bytes(info: GGUFInfo, n_ctx: int, *, swa_full: bool = False) -> tuple[int, int]:
    """KV cache bytes at n_ctx (f16 keys and values), and how many layers use a sliding window."""
    n_layer = info.block_count or 0
    head_dim = info.head_dim or 0
    k_dim = info.key_length or head_dim
    v_dim = info.value_length or head_dim
    per_layer_kv = per_layer(info.head_count_kv, n_layer)
    swa = _swa_layers(info)
    cells = _pad(n_ctx)
    swa_cells = cells if swa_full else min(cells, _pad((info.sliding_window or 0) + _N_UBATCH))
    total = sum((swa_cells if swa[il] else cells) * per_layer_kv[il] * (k_dim + v_dim) * 2
                for il in range(n_layer))
    return total, sum(swa)


def estimate_memory(path_or_info, *, n_ctx: int = 2048, swa_full: bool = False) -> MemoryEstimate:
    """Estimate the memory to run a GGUF model at ``n_ctx`` tokens, and whether it fits now.

    ``swa_full=True`` sizes sliding-window layers' cache to the whole context, as
    llama-cpp-python does by default; see ``MemoryEstimate`` for the formulas.
    """
    if type(n_ctx) is not int or n_ctx < 1:
        raise InvalidArgumentError(
            f"n_ctx must be a whole number of tokens, at least 1, not {n_ctx!r}; 2048 is a good start.",
            argument="n_ctx", value=n_ctx,
        )
    info = path_or_info if isinstance(path_or_info, GGUFInfo) else inspect(path_or_info)
    kv, n_swa = kv_cache_bytes(info, n_ctx, swa_full=swa_full)
    n_embd = info.embedding_length or 0
    scores = max(info.vocab_size or 0, info.max_head_count * _pad(n_ctx))
    compute = 4 * _N_UBATCH * (scores + 16 * n_embd)
    return MemoryEstimate(
        model=info.name or Path(info.path).name,
        n_ctx=n_ctx,
        weights=info.tensor_data_size,
        kv_cache=kv,
        compute=compute,
        overhead=_OVERHEAD,
        available=memory.available_memory(),
        sliding_window_layers=n_swa,
    )
