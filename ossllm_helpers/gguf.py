"""Read a GGUF file's header without loading its weights, and estimate the memory to run it.

GGUF (the llama.cpp file format, spec in ggml-org/ggml ``docs/gguf.md``) is
little-endian: a magic ``GGUF``, a version (2 and 3 are read here), the tensor
count, the metadata key/value count, the key/value pairs, one info record per
tensor (name, shape, ggml type, offset), then the tensor data, aligned.

Everything is read through bounds-checked offsets into a read-only memory map,
so a truncated or corrupt file raises ``NotGGUFError`` instead of crashing,
and a bogus array length is caught before anything is allocated for it.
"""

from __future__ import annotations

import math
import mmap
import os
import struct
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .errors import NotGGUFError

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

# --- the tables -------------------------------------------------------------

# ggml_type id -> (name, block size in weights, bytes per block).
# From ggml.h's enum ggml_type and gguf-py's GGML_QUANT_SIZES (the block structs
# of ggml-common.h); tests check them against ggml_blck_size/ggml_type_size of the
# ggml library llama-cpp-python ships. Ids 4, 5, 31-33 and 36-38 were removed.
GGML_TYPES: dict[int, tuple[str, int, int]] = {
    0: ("F32", 1, 4),
    1: ("F16", 1, 2),
    2: ("Q4_0", 32, 18),  # f16 scale + 32 x 4 bits
    3: ("Q4_1", 32, 20),  # f16 scale + f16 min + 32 x 4 bits
    6: ("Q5_0", 32, 22),
    7: ("Q5_1", 32, 24),
    8: ("Q8_0", 32, 34),  # f16 scale + 32 x 8 bits
    9: ("Q8_1", 32, 36),
    10: ("Q2_K", 256, 84),
    11: ("Q3_K", 256, 110),
    12: ("Q4_K", 256, 144),
    13: ("Q5_K", 256, 176),
    14: ("Q6_K", 256, 210),
    15: ("Q8_K", 256, 292),
    16: ("IQ2_XXS", 256, 66),
    17: ("IQ2_XS", 256, 74),
    18: ("IQ3_XXS", 256, 98),
    19: ("IQ1_S", 256, 50),
    20: ("IQ4_NL", 32, 18),
    21: ("IQ3_S", 256, 110),
    22: ("IQ2_S", 256, 82),
    23: ("IQ4_XS", 256, 136),
    24: ("I8", 1, 1),
    25: ("I16", 1, 2),
    26: ("I32", 1, 4),
    27: ("I64", 1, 8),
    28: ("F64", 1, 8),
    29: ("IQ1_M", 256, 56),
    30: ("BF16", 1, 2),
    34: ("TQ1_0", 256, 54),
    35: ("TQ2_0", 256, 66),
    39: ("MXFP4", 32, 17),  # e8m0 scale + 32 x 4 bits
    40: ("NVFP4", 64, 36),
    41: ("Q1_0", 128, 18),
    42: ("Q2_0", 64, 18),
}

# general.file_type -> name, from llama.h's enum llama_ftype (LLAMA_FTYPE_MOSTLY_*).
# "Mostly": 1-D tensors (norms) stay F32, and the K-quant mixes (_S/_M/_L) give
# some tensors a larger type, which is why the tensor histogram is worth a look.
FILE_TYPES: dict[int, str] = {
    0: "F32",
    1: "F16",
    2: "Q4_0",
    3: "Q4_1",
    4: "Q4_1_SOME_F16",  # removed from llama.cpp; old files may still say it
    7: "Q8_0",
    8: "Q5_0",
    9: "Q5_1",
    10: "Q2_K",
    11: "Q3_K_S",
    12: "Q3_K_M",
    13: "Q3_K_L",
    14: "Q4_K_S",
    15: "Q4_K_M",
    16: "Q5_K_S",
    17: "Q5_K_M",
    18: "Q6_K",
    19: "IQ2_XXS",
    20: "IQ2_XS",
    21: "Q2_K_S",
    22: "IQ3_XS",
    23: "IQ3_XXS",
    24: "IQ1_S",
    25: "IQ4_NL",
    26: "IQ3_S",
    27: "IQ3_M",
    28: "IQ2_S",
    29: "IQ2_M",
    30: "IQ4_XS",
    31: "IQ1_M",
    32: "BF16",
    36: "TQ1_0",
    37: "TQ2_0",
    38: "MXFP4_MOE",
    39: "NVFP4",
    40: "Q1_0",
    41: "Q2_0",
    1024: "GUESSED",
}


def _block_bits(name: str) -> float:
    for type_name, block, size in GGML_TYPES.values():
        if type_name == name:
            return size * 8 / block
    raise KeyError(name)


# Bits per weight. Two sources, and the comment on each says which:
# 1. Single ggml types: exact, bytes per block x 8 / weights per block (GGML_TYPES
#    above). A file quantised with --pure to one of these types has this figure.
# 2. llama.cpp's mixes (K-quant _S/_M/_L, IQ*_M, IQ3_XS), which keep some tensors
#    in a larger type: effective bits, from the QUANT_OPTIONS table of llama.cpp's
#    tools/quantize/quantize.cpp. Where it gives a file size for Llama-3-8B (GiB),
#    bits = size x 2^30 x 8 / 8.03e9 weights; where it gives "bpw", that figure.
#    Effective bits depend a little on the model (embedding and output tensors).
_LLAMA3_8B_WEIGHTS = 8.03e9
_LLAMA3_8B_GIB = {  # quantize.cpp QUANT_OPTIONS, "x.xxG ... @ Llama-3-8B"
    "Q2_K_S": 2.96,
    "Q3_K_S": 3.41,
    "Q3_K_M": 3.74,
    "Q3_K_L": 4.03,
    "Q4_K_S": 4.37,
    "Q4_K_M": 4.58,
    "Q5_K_S": 5.21,
    "Q5_K_M": 5.33,
}
QUANT_BITS: dict[str, float] = {
    # exact, from block sizes (source 1)
    **{name: _block_bits(name) for name in (
        "F32", "F16", "BF16", "Q8_0", "Q6_K", "Q5_1", "Q5_0", "Q5_K", "Q4_1", "Q4_0",
        "Q4_K", "IQ4_NL", "IQ4_XS", "MXFP4", "Q3_K", "IQ3_S", "IQ3_XXS", "Q2_K", "IQ2_S",
        "IQ2_XS", "IQ2_XXS", "TQ2_0", "IQ1_M", "TQ1_0", "IQ1_S", "NVFP4", "Q2_0", "Q1_0",
    )},
    # effective, from quantize.cpp's Llama-3-8B file sizes (source 2)
    **{name: round(gib * 2**30 * 8 / _LLAMA3_8B_WEIGHTS, 2) for name, gib in _LLAMA3_8B_GIB.items()},
    # effective, quantize.cpp's stated bpw for these mixes (source 2)
    "IQ3_M": 3.66,
    "IQ3_XS": 3.3,
    "IQ2_M": 2.7,
}

# Value types of GGUF metadata: id -> (name, struct format or None for string/array).
_VALUE_TYPES = {
    0: ("uint8", "B"),
    1: ("int8", "b"),
    2: ("uint16", "H"),
    3: ("int16", "h"),
    4: ("uint32", "I"),
    5: ("int32", "i"),
    6: ("float32", "f"),
    7: ("bool", "?"),
    8: ("string", None),
    9: ("array", None),
    10: ("uint64", "Q"),
    11: ("int64", "q"),
    12: ("float64", "d"),
}
_STRING, _ARRAY = 8, 9
_SMALL_ARRAY = 64  # arrays up to this length are kept whole (per-layer values, say)
_MAX_DIMS = 4  # GGML_MAX_DIMS
_MAX_NESTING = 8  # arrays of arrays: real files nest one deep at most
_DEFAULT_ALIGNMENT = 32

# Architectures whose llama.cpp implementation uses sliding-window attention on
# some layers, and which layers: every layer il with il % n < n - 1 is local
# (llama.cpp's set_swa_pattern(n)); the rest attend to the whole context. A file
# may instead carry "{arch}.attention.sliding_window_pattern": that period n, or one
# bool per layer (true: sliding window).
_SWA_PATTERN = {"gemma2": 2, "gemma3": 6, "gemma3n": 5, "cohere2": 4}


# --- records ----------------------------------------------------------------


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
    head_count: int | None
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
        if self.key_length:
            return self.key_length
        if self.embedding_length and self.head_count:
            return self.embedding_length // self.head_count
        return None

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
            ("heads (kv)", f"{_or_dash(self.head_count)} ({_or_dash(self.head_count_kv)})"),
            ("sliding window", _or_dash(self.sliding_window)),
            ("experts (used)", f"{_or_dash(self.expert_count)} ({_or_dash(self.expert_used_count)})"),
            ("licence", self.licence or "- (not in the header: read the model card)"),
            ("chat template", "yes (instruct)" if self.has_chat_template else "no (base model?)"),
        ]
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def _or_dash(value) -> str:
    return "-" if value is None else str(value)


def _human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


# --- the reader -------------------------------------------------------------


class _Corrupt(Exception):
    """Internal: the header is malformed; the message says where."""


_U64 = struct.Struct("<Q")


class _Reader:
    """Bounds-checked little-endian reads from a buffer."""

    __slots__ = ("buf", "pos", "size")

    def __init__(self, buf):
        self.buf = buf  # bytes or an mmap: both support unpack_from and slicing
        self.pos = 0
        self.size = len(buf)

    def need(self, n: int, what: str) -> None:
        if n < 0 or self.pos + n > self.size:
            raise _Corrupt(
                f"the file ends at byte {self.size:,} but {what} needs {n:,} bytes from byte {self.pos:,}"
            )

    def scalar(self, fmt: str, what: str):
        size = struct.calcsize("<" + fmt)
        self.need(size, what)
        (value,) = struct.unpack_from("<" + fmt, self.buf, self.pos)
        self.pos += size
        return value

    def u32(self, what: str) -> int:
        return self.scalar("I", what)

    def u64(self, what: str) -> int:
        return self.scalar("Q", what)

    def string(self, what: str, keep: bool = True) -> str | None:
        n = self.u64(f"the length of {what}")
        self.need(n, what)
        start = self.pos
        self.pos += n
        return self.buf[start : self.pos].decode("utf-8", errors="replace") if keep else None

    def strings(self, n: int, what: str, keep: bool) -> list[str] | None:
        # The hot loop of a header (tens of thousands of tokens): locals, no f-strings.
        buf, pos, size, unpack = self.buf, self.pos, self.size, _U64.unpack_from
        if not keep:  # skipping: two steps a string; a bad length fails the next unpack or the end check
            try:
                for _ in range(n):
                    pos += 8 + unpack(buf, pos)[0]
            except (struct.error, OverflowError):
                pos = size + 1
            if pos > size:
                self.need(size + 1 - self.pos, f"the strings of {what}")
            self.pos = pos
            return None
        out = []
        for _ in range(n):
            if pos + 8 > size:
                self.pos = pos
                self.need(8, f"a string length in {what}")
            (length,) = unpack(buf, pos)
            pos += 8
            if pos + length > size:
                self.pos = pos
                self.need(length, f"a string in {what}")
            if keep:
                out.append(buf[pos : pos + length].decode("utf-8", errors="replace"))
            pos += length
        self.pos = pos
        return out


def _read_value(r: _Reader, vtype: int, key: str, load: bool):
    if vtype not in _VALUE_TYPES:
        raise _Corrupt(f"metadata {key!r} has unknown value type {vtype}")
    if vtype == _STRING:
        return r.string(f"the string {key!r}")
    if vtype == _ARRAY:
        return _read_array(r, key, load)
    value = r.scalar(_VALUE_TYPES[vtype][1], f"the value of {key!r}")
    return bool(value) if vtype == 7 else value


def _parse(buf, load_arrays) -> tuple[int, dict, list, int]:
    r = _Reader(buf)
    r.pos = 4  # after the magic
    version = r.u32("the version")
    if version not in (2, 3):
        swapped = int.from_bytes(version.to_bytes(4, "little"), "big")
        if swapped in (2, 3):
            raise _Corrupt("it is a big-endian GGUF file; llama.cpp on this machine needs little-endian")
        if version == 1:
            raise _Corrupt("it is GGUF version 1 (2023), which llama.cpp no longer reads")
        raise _Corrupt(f"its GGUF version is {version}; this reader knows versions 2 and 3")
    n_tensors = r.u64("the tensor count")
    n_kv = r.u64("the metadata count")
    # Each key/value pair takes at least 12 bytes and each tensor info at least 24.
    r.need(n_kv * 12 + n_tensors * 24, f"{n_kv:,} metadata entries and {n_tensors:,} tensor infos")

    metadata: dict = {}
    for i in range(n_kv):
        key = r.string(f"metadata key {i}")
        vtype = r.u32(f"the type of {key!r}")
        load = load_arrays is True or key in load_arrays
        metadata[key] = _read_value(r, vtype, key, load)

    tensors = []
    for i in range(n_tensors):
        name = r.string(f"the name of tensor {i}")
        n_dims = r.u32(f"the rank of tensor {name!r}")
        if not 1 <= n_dims <= _MAX_DIMS:
            raise _Corrupt(f"tensor {name!r} claims {n_dims} dimensions (at most {_MAX_DIMS})")
        shape = tuple(r.u64(f"the shape of tensor {name!r}") for _ in range(n_dims))
        ttype = r.u32(f"the type of tensor {name!r}")
        offset = r.u64(f"the offset of tensor {name!r}")
        tensors.append((name, shape, ttype, offset))
    return version, metadata, tensors, r.pos


def _read_array(r: _Reader, key: str, load: bool, depth: int = 0):
    if depth > _MAX_NESTING:
        raise _Corrupt(f"array {key!r} is nested more than {_MAX_NESTING} deep")
    itype = r.u32(f"the element type of array {key!r}")
    n = r.u64(f"the length of array {key!r}")
    if itype not in _VALUE_TYPES:
        raise _Corrupt(f"array {key!r} has unknown element type {itype}")
    item_name, fmt = _VALUE_TYPES[itype]
    keep = load or n <= _SMALL_ARRAY
    if fmt is not None:
        size = struct.calcsize("<" + fmt)
        r.need(n * size, f"array {key!r} ({n:,} x {item_name})")
        start = r.pos
        r.pos += n * size
        if not keep:
            return ArraySummary(item_name, n)
        values = list(struct.unpack_from(f"<{n}{fmt}", r.buf, start))
        return [bool(v) for v in values] if itype == 7 else values
    # Strings and nested arrays: each element takes at least 8 (12) bytes, so a
    # bogus length is refused here, before a loop of that length starts.
    r.need(n * (8 if itype == _STRING else 12), f"array {key!r} ({n:,} x {item_name})")
    if itype == _STRING:
        values = r.strings(n, f"array {key!r}", keep)
    else:
        values = [_read_array(r, f"{key}[{i}]", load, depth + 1) for i in range(n)]
    return values if keep else ArraySummary(item_name, n)


def _advice(path) -> str:
    return (
        f"Check that {path} is the file you meant (a .gguf file, not a folder, a web page or a "
        "safetensors file), then download it again: `ossllm fetch <model>` for a course model, "
        "or ossllm_helpers.download(repo_id, filename) for any Hub file (it resumes a partial download)."
    )


def _sniff(head: bytes) -> str:
    """Name what a non-GGUF file most likely is, from its first bytes."""
    if head[:4] in (b"lmgg", b"fmgg", b"tjgg"):  # 'ggml', 'ggmf', 'ggjt' written little-endian
        return "an old GGML-format model (before GGUF, August 2023), which llama.cpp no longer reads"
    if head.startswith(b"version https://git-lfs"):
        return "a Git LFS pointer (a small text file standing in for the model), not the model itself"
    low = head.lstrip().lower()
    if low.startswith((b"<!doctype", b"<html", b"<?xml")):
        return "a web page (a failed or redirected download?)"
    if low.startswith((b"{", b"[")):
        return "a JSON or text file"
    if len(head) >= 10 and head[8:10] == b'{"':
        return "a safetensors file (Hugging Face weights; llama.cpp needs the GGUF version)"
    if head.startswith(b"PK\x03\x04"):
        return "a zip archive (a PyTorch checkpoint?)"
    return "not a GGUF file (its first bytes are not 'GGUF')"


def inspect(path, *, load_arrays=()) -> GGUFInfo:
    """Read a GGUF file's header (metadata and tensor table) without loading its weights.

    ``load_arrays`` names metadata arrays to read in full (``True`` for all);
    other arrays longer than 64 elements, such as ``tokenizer.ggml.tokens``, are
    skipped and summarised as ``ArraySummary``. Raises ``NotGGUFError`` for a
    missing, non-GGUF, truncated or corrupt file.
    """
    path = Path(path)
    if not path.is_file():
        where = "a folder" if path.is_dir() else "no such file"
        raise NotGGUFError(f"{path}: {where}. " + _advice(path))
    load_arrays = True if load_arrays is True else frozenset(load_arrays or ())
    with path.open("rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size < 4:
            raise NotGGUFError(f"{path} is {size} bytes long: an empty or cut-off file. " + _advice(path))
        head = f.read(64)
        if head[:4] != b"GGUF":
            raise NotGGUFError(f"{path} is {_sniff(head)}. " + _advice(path))
        # mmap: the header is read in place, and only the pages touched are read from disk.
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            try:
                version, metadata, raw_tensors, end = _parse(mm, load_arrays)
                return _build(path, size, version, metadata, raw_tensors, end)
            except _Corrupt as exc:
                raise NotGGUFError(
                    f"{path} is a truncated or corrupt GGUF file: {exc}. " + _advice(path)
                ) from None


def _build(path, size, version, md, raw_tensors, header_end) -> GGUFInfo:
    alignment = md.get("general.alignment", _DEFAULT_ALIGNMENT)
    if not isinstance(alignment, int) or alignment <= 0 or alignment & (alignment - 1):
        raise _Corrupt(f"general.alignment is {alignment!r}, not a power of two")
    data_start = -(-header_end // alignment) * alignment
    tensors = []
    data_end = 0
    unknown = False
    for name, shape, ttype, offset in raw_tensors:
        n_elements = math.prod(shape)
        if offset % alignment:
            raise _Corrupt(f"tensor {name!r} starts at offset {offset}, not a multiple of {alignment}")
        if ttype in GGML_TYPES:
            tname, block, bsize = GGML_TYPES[ttype]
            if shape[0] % block:
                raise _Corrupt(f"tensor {name!r} has a row of {shape[0]} weights; {tname} needs a multiple of {block}")
            n_bytes = n_elements // block * bsize
            data_end = max(data_end, offset + n_bytes)
        else:
            tname, n_bytes, unknown = f"TYPE_{ttype}", None, True
            data_end = max(data_end, offset + 1)
        tensors.append(TensorInfo(name, shape, tname, offset, n_elements, n_bytes))
    if tensors and data_start + data_end > size:
        raise _Corrupt(
            f"the tensor data needs {data_start + data_end:,} bytes but the file has {size:,}"
        )
    weights = size - data_start if unknown else sum(t.n_bytes for t in tensors)

    arch = md.get("general.architecture")
    arch = arch if isinstance(arch, str) else None

    def a(key):  # "{arch}.key", the per-architecture hyperparameters
        return md.get(f"{arch}.{key}") if arch else None

    ftype = md.get("general.file_type")
    if isinstance(ftype, int):
        file_type = FILE_TYPES.get(ftype, f"FTYPE_{ftype}")
    else:  # absent: name the type most weights are stored in
        counts = Counter()
        for t in tensors:
            if len(t.shape) >= 2:
                counts[t.type] += t.n_elements
        file_type = f"{counts.most_common(1)[0][0]} (guessed)" if counts else None
    tokens = md.get("tokenizer.ggml.tokens")
    vocab = a("vocab_size") or (tokens.length if isinstance(tokens, ArraySummary) else
                                len(tokens) if isinstance(tokens, list) else None)
    head_kv = a("attention.head_count_kv")
    if isinstance(head_kv, list):
        head_kv = tuple(head_kv)
    elif head_kv is None:
        head_kv = a("attention.head_count")  # no key means no grouped-query attention
    template = md.get("tokenizer.chat_template")
    histogram = Counter(t.type for t in tensors)
    return GGUFInfo(
        path=str(path),
        file_size=size,
        version=version,
        architecture=arch,
        name=md.get("general.name"),
        parameter_count=sum(t.n_elements for t in tensors),
        file_type=file_type,
        tensor_types=dict(histogram.most_common()),
        context_length=a("context_length"),
        embedding_length=a("embedding_length"),
        block_count=a("block_count"),
        head_count=a("attention.head_count"),
        head_count_kv=head_kv,
        key_length=a("attention.key_length"),
        value_length=a("attention.value_length"),
        vocab_size=vocab,
        licence=md.get("general.license"),
        chat_template=template if isinstance(template, str) else None,
        sliding_window=a("attention.sliding_window"),
        expert_count=a("expert_count"),
        expert_used_count=a("expert_used_count"),
        tensor_data_size=weights,
        alignment=alignment,
        metadata=md,
        tensors=tuple(tensors),
    )


# --- memory -----------------------------------------------------------------


def available_memory() -> int:
    """Bytes of memory available to a new process now (psutil), within any cgroup limit."""
    import psutil

    available = psutil.virtual_memory().available
    limit = _cgroup_room()
    return min(available, limit) if limit is not None else available


def _cgroup_room(root: str = "/sys/fs/cgroup") -> int | None:
    # In a container psutil reports the host's memory; cgroup v2 knows the real limit.
    try:
        limit = Path(root, "memory.max").read_text().strip()
        if limit == "max":
            return None
        used = int(Path(root, "memory.current").read_text())
        stat = Path(root, "memory.stat").read_text().split()
        inactive = int(stat[stat.index("inactive_file") + 1]) if "inactive_file" in stat else 0
        return max(int(limit) - used + inactive, 0)  # page cache it can drop is room too
    except (OSError, ValueError):
        return None


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
    n_layer = info.block_count or 0
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
    kv = info.head_count_kv
    per_layer_kv = list(kv) if isinstance(kv, tuple) else [kv or 0] * n_layer
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
    info = path_or_info if isinstance(path_or_info, GGUFInfo) else inspect(path_or_info)
    if not isinstance(n_ctx, int) or n_ctx < 1:
        raise ValueError(f"n_ctx must be a positive number of tokens, not {n_ctx!r}")
    kv, n_swa = kv_cache_bytes(info, n_ctx, swa_full=swa_full)
    n_embd = info.embedding_length or 0
    scores = max(info.vocab_size or 0, (info.head_count or 0) * _pad(n_ctx))
    compute = 4 * _N_UBATCH * (scores + 16 * n_embd)
    return MemoryEstimate(
        model=info.name or Path(info.path).name,
        n_ctx=n_ctx,
        weights=info.tensor_data_size,
        kv_cache=kv,
        compute=compute,
        overhead=_OVERHEAD,
        available=available_memory(),
        sliding_window_layers=n_swa,
    )
