"""GGUF model files: read a header without loading the weights, and estimate the memory to run one.

``reader`` parses the header (bounds-checked, typed errors for corrupt files),
``records`` holds what it returns, ``types`` the ggml tables, ``estimate`` the
memory arithmetic. The machine's side (how much memory is free) is
``ossllm_helpers.memory``.
"""

from ..memory import available_memory
from .estimate import MemoryEstimate, estimate_memory, kv_cache_bytes
from .reader import inspect
from .records import ArraySummary, GGUFInfo, TensorInfo
from .types import FILE_TYPES, GGML_TYPES, QUANT_BITS

__all__ = [
    "inspect",
    "estimate_memory",
    "available_memory",
    "GGUFInfo",
    "MemoryEstimate",
    "TensorInfo",
    "ArraySummary",
    "QUANT_BITS",
    "kv_cache_bytes",
    "GGML_TYPES",
    "FILE_TYPES",
]
