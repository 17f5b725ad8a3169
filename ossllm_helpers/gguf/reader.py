"""Read a GGUF file's header without loading its weights.

GGUF (the llama.cpp file format, spec in ggml-org/ggml ``docs/gguf.md``) is
little-endian: a magic ``GGUF``, a version (2 and 3 are read here), the tensor
count, the metadata key/value count, the key/value pairs, one info record per
tensor (name, shape, ggml type, offset), then the tensor data, aligned.

Everything is read through bounds-checked offsets into a read-only memory map,
so a truncated or corrupt file raises ``NotGGUFError`` instead of crashing, a
bogus array length is caught before anything is allocated for it, and the
hyperparameters the memory estimate uses are checked (types, one value per
layer, a plausible layer count) before anyone computes with them.
"""

from __future__ import annotations

import math
import mmap
import os
import struct
from collections import Counter
from pathlib import Path

from ..constants import CLI
from ..errors import NotGGUFError
from .records import ArraySummary, GGUFInfo, TensorInfo
from .types import FILE_TYPES, GGML_TYPES

__all__ = ["inspect"]

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
_MAX_LAYERS = 4096  # the deepest published models have a few hundred layers
# Per-layer hyperparameters: read whole even when longer than _SMALL_ARRAY (models past 64 layers).
_PER_LAYER_KEYS = ("attention.head_count", "attention.head_count_kv", "attention.sliding_window_pattern")

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


def _read_value(r: _Reader, vtype: int, key: str, load: bool | int):
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
        if load_arrays is True or key in load_arrays:
            load = True
        elif key.endswith(_PER_LAYER_KEYS):
            load = _MAX_LAYERS  # one value per layer: read whole, up to the most layers a model can have
        else:
            load = False
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


def _read_array(r: _Reader, key: str, load: bool | int, depth: int = 0):
    if depth > _MAX_NESTING:
        raise _Corrupt(f"array {key!r} is nested more than {_MAX_NESTING} deep")
    itype = r.u32(f"the element type of array {key!r}")
    n = r.u64(f"the length of array {key!r}")
    if itype not in _VALUE_TYPES:
        raise _Corrupt(f"array {key!r} has unknown element type {itype}")
    item_name, fmt = _VALUE_TYPES[itype]
    # load: True (all), False (short arrays only) or a length up to which the array is read whole.
    keep = n <= max(load, _SMALL_ARRAY) if type(load) is int else load or n <= _SMALL_ARRAY
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
        "safetensors file). If it came from the Hub, replace the cached copy: "
        "oh.fetch(key, force_download=True) for a course model "
        f"(`{CLI} fetch <key> --force`), or oh.download(repo_id, filename, force_download=True) for any Hub file."
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

    def a(key):  # "{arch}.key", the per-architecture hyperparameters, type-checked
        return _count(md, f"{arch}.{key}") if arch else None

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
    n_layer = a("block_count")
    if n_layer is not None and n_layer > _MAX_LAYERS:
        raise _Corrupt(f"{arch}.block_count is {n_layer:,}: no model has that many layers (at most {_MAX_LAYERS:,} here)")
    heads = _per_layer(md, f"{arch}.attention.head_count", n_layer) if arch else None
    head_kv = _per_layer(md, f"{arch}.attention.head_count_kv", n_layer) if arch else None
    if head_kv is None:
        head_kv = heads  # no key means no grouped-query attention
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
        block_count=n_layer,
        head_count=heads,
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


def _kind(value) -> str:
    return {bool: "a bool", str: "a string", float: "a fraction", list: "a list", ArraySummary: "a list"}.get(
        type(value), type(value).__name__)


def _count(md: dict, key: str) -> int | None:
    """A whole-number hyperparameter, or None when the header has none; anything else is corrupt."""
    value = md.get(key)
    if value is None:
        return None
    if type(value) is not int or value < 0:
        raise _Corrupt(f"{key} is {value!r} ({_kind(value)}), not a whole number of at least 0")
    return value


def _per_layer(md: dict, key: str, n_layer: int | None) -> int | tuple[int, ...] | None:
    """One number for every layer, or a list with exactly one number per layer (OpenELM-style files)."""
    value = md.get(key)
    if not isinstance(value, (list, ArraySummary)):
        return _count(md, key)
    length = value.length if isinstance(value, ArraySummary) else len(value)
    if n_layer is None or length != n_layer:
        raise _Corrupt(f"{key} lists {length:,} values for {n_layer if n_layer is not None else 'an unknown number of'} layers")
    if isinstance(value, ArraySummary) or any(type(v) is not int or v < 0 for v in value):
        raise _Corrupt(f"{key} must list whole numbers, one per layer")
    return tuple(value)

