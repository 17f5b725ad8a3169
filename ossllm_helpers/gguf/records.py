"""What a GGUF header says, as records: the model's hyperparameters, its tensors, and arrays left unread."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ArraySummary", "TensorInfo", "GGUFInfo", "first_layer", "per_layer"]


@dataclass(frozen=True)
class ArraySummary:
    """A metadata array left unread: its element type and length."""

    item_type: str
    length: int

    def __repr__(self) -> str:
        return f"<array of {self.length} {self.item_type}>"


@dataclass(frozen=True)
class TensorInfo:
    """One tensor's header entry: name, shape (ggml order), type, data offset and size."""

    name: str
    shape: tuple[int, ...]
    type: str
    offset: int
    n_elements: int
    n_bytes: int | None  # None for a ggml type this reader does not know


@dataclass(frozen=True)
class GGUFInfo:
    """What a GGUF header says about a model. Sizes in bytes."""

    path: str
    file_size: int
    version: int
    architecture: str | None
    name: str | None
    parameter_count: int
    file_type: str | None
    tensor_types: dict[str, int]
    context_length: int | None
    embedding_length: int | None
    block_count: int | None
    head_count: int | tuple[int, ...] | None  # a tuple: one value per layer (OpenELM-style files)
    head_count_kv: int | tuple[int, ...] | None
    key_length: int | None
    value_length: int | None
    vocab_size: int | None
    licence: str | None
    chat_template: str | None
    sliding_window: int | None
    expert_count: int | None
    expert_used_count: int | None
    tensor_data_size: int
    alignment: int
    metadata: dict = field(repr=False, compare=False)
    tensors: tuple[TensorInfo, ...] = field(repr=False, compare=False)

    @property
    def has_chat_template(self) -> bool:
        """True when the file carries tokenizer.chat_template (usually an instruct model)."""
        return bool(self.chat_template)

    @property
    def is_moe(self) -> bool:
        return bool(self.expert_count and self.expert_count > 1)

    @property
    def head_dim(self) -> int | None:
        """Key length, or embedding / heads of the first layer (as llama.cpp defaults it)."""
        if self.key_length:
            return self.key_length
        heads = first_layer(self.head_count)
        if self.embedding_length and heads:
            return self.embedding_length // heads
        return None

    @property
    def max_head_count(self) -> int:
        """The most attention heads any layer has (0 when the header says none)."""
        return max(per_layer(self.head_count, self.block_count or 0) or [0])

    @property
    def bits_per_weight(self) -> float:
        """Average bits per weight over the whole file's tensor data."""
        return self.tensor_data_size * 8 / self.parameter_count if self.parameter_count else 0.0

    def __str__(self) -> str:
        rows = [
            ("file", f"{Path(self.path).name} ({_human(self.file_size)})"),
            ("name", self.name or "-"),
            ("architecture", self.architecture or "-"),
            ("parameters", f"{self.parameter_count:,} ({self.parameter_count / 1e6:,.0f}M)"),
            ("file type", f"{self.file_type or '-'} ({self.bits_per_weight:.2f} bits/weight)"),
            ("tensor types", ", ".join(f"{k} x{v}" for k, v in self.tensor_types.items())),
            ("context length", _or_dash(self.context_length)),
            ("layers", _or_dash(self.block_count)),
            ("embedding", _or_dash(self.embedding_length)),
            ("heads (kv)", f"{_layers(self.head_count)} ({_layers(self.head_count_kv)})"),
            ("sliding window", _or_dash(self.sliding_window)),
            ("experts (used)", f"{_or_dash(self.expert_count)} ({_or_dash(self.expert_used_count)})"),
            ("licence", self.licence or "- (not in the header: read the model card)"),
            ("chat template", "yes (instruct)" if self.has_chat_template else "no (base model?)"),
        ]
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def first_layer(value: int | tuple[int, ...] | None) -> int | None:
    """A hyperparameter's value for layer 0, whether it is one number or one per layer."""
    if isinstance(value, tuple):
        return value[0] if value else None
    return value


def per_layer(value: int | tuple[int, ...] | None, n_layer: int) -> list[int]:
    """One value per layer (the reader has checked that a tuple has n_layer of them)."""
    if isinstance(value, tuple):
        return list(value)
    return [value or 0] * n_layer


def _layers(value) -> str:
    if isinstance(value, tuple):
        low, high = min(value, default=0), max(value, default=0)
        return str(low) if low == high else f"{low}-{high} per layer"
    return _or_dash(value)


def _or_dash(value) -> str:
    return "-" if value is None else str(value)


def _human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"

