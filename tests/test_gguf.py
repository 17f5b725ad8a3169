"""GGUF header reader and memory estimate: synthetic files for the logic, the two offline models for real."""

import re
import struct

import pytest

from ossllm_helpers import gguf, memory
from ossllm_helpers.errors import InvalidArgumentError, NotGGUFError
from ossllm_helpers.gguf import ArraySummary, estimate_memory, inspect

# --- a small GGUF writer (the spec's layout, written independently of the reader) ---

U8, I8, U16, I16, U32, I32, F32, BOOL, STR, ARR, U64, I64, F64 = range(13)
_FMT = {U8: "B", I8: "b", U16: "H", I16: "h", U32: "I", I32: "i", F32: "f", BOOL: "?",
        U64: "Q", I64: "q", F64: "d"}
GGML = {"F32": (0, 1, 4), "F16": (1, 1, 2), "Q4_0": (2, 32, 18), "Q4_K": (12, 256, 144),
        "Q6_K": (14, 256, 210)}


def s(text):
    raw = text.encode()
    return struct.pack("<Q", len(raw)) + raw


def value(vtype, v):
    if vtype == STR:
        return s(v)
    if vtype == ARR:
        itype, items = v
        return struct.pack("<IQ", itype, len(items)) + b"".join(value(itype, x) for x in items)
    return struct.pack("<" + _FMT[vtype], v)


def build(kvs, tensors=(("w", (32, 2), "F32"),), *, version=3, alignment=32):
    """GGUF bytes: kvs is [(key, type, value)], tensors [(name, shape, ggml type name)]."""
    out = b"GGUF" + struct.pack("<IQQ", version, len(tensors), len(kvs))
    for key, vtype, v in kvs:
        out += s(key) + struct.pack("<I", vtype) + value(vtype, v)
    offset, layout = 0, []
    for name, shape, tname in tensors:
        tid, block, bsize = GGML[tname]
        n = 1
        for d in shape:
            n *= d
        nbytes = n // block * bsize
        out += s(name) + struct.pack("<I", len(shape)) + struct.pack(f"<{len(shape)}Q", *shape)
        out += struct.pack("<IQ", tid, offset)
        layout.append((offset, nbytes))
        offset += -(-nbytes // alignment) * alignment
    out += b"\0" * (-len(out) % alignment)
    data = bytearray()
    for off, nbytes in layout:
        data += b"\0" * (off - len(data)) + b"\x11" * nbytes
    return out + bytes(data)


LLAMA_KVS = [
    ("general.architecture", STR, "llama"),
    ("general.name", STR, "Tiny Test"),
    ("general.file_type", U32, 15),
    ("general.license", STR, "apache-2.0"),
    ("llama.context_length", U32, 4096),
    ("llama.embedding_length", U32, 64),
    ("llama.block_count", U32, 2),
    ("llama.attention.head_count", U32, 4),
    ("llama.attention.head_count_kv", U32, 2),
    ("tokenizer.ggml.tokens", ARR, (STR, [f"tok{i}" for i in range(100)])),
    ("tokenizer.chat_template", STR, "{% for m in messages %}{{ m.content }}{% endfor %}"),
]


def write(tmp_path, data, name="model.gguf"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


# --- pure logic: the header ---


def test_header_fields_from_synthetic_file(tmp_path):
    tensors = [("token_embd.weight", (256, 8), "Q4_K"), ("blk.0.attn_norm.weight", (64,), "F32"),
               ("output.weight", (256, 4), "Q6_K")]
    path = write(tmp_path, build(LLAMA_KVS, tensors))
    info = inspect(path)
    assert info.version == 3
    assert info.architecture == "llama"
    assert info.name == "Tiny Test"
    assert info.file_type == "Q4_K_M"
    assert info.parameter_count == 256 * 8 + 64 + 256 * 4
    assert info.tensor_types == {"Q4_K": 1, "F32": 1, "Q6_K": 1}
    assert info.tensor_data_size == 8 * 144 + 64 * 4 + 4 * 210
    assert (info.context_length, info.embedding_length, info.block_count) == (4096, 64, 2)
    assert (info.head_count, info.head_count_kv, info.head_dim) == (4, 2, 16)
    assert info.licence == "apache-2.0"
    assert info.has_chat_template and "messages" in info.chat_template
    assert info.vocab_size == 100
    assert info.sliding_window is None and info.expert_count is None and not info.is_moe
    assert info.file_size == path.stat().st_size
    assert [t.name for t in info.tensors] == ["token_embd.weight", "blk.0.attn_norm.weight", "output.weight"]
    text = str(info)
    assert "Q4_K_M" in text and "llama" in text and "yes (instruct)" in text


def test_every_value_type_is_read(tmp_path):
    kvs = [("k.u8", U8, 250), ("k.i8", I8, -5), ("k.u16", U16, 65000), ("k.i16", I16, -300),
           ("k.u32", U32, 4_000_000_000), ("k.i32", I32, -70000), ("k.f32", F32, 0.5),
           ("k.bool", BOOL, True), ("k.str", STR, "héllo"), ("k.u64", U64, 2**60),
           ("k.i64", I64, -(2**60)), ("k.f64", F64, 1e-300),
           ("k.small", ARR, (I32, [1, -2, 3])), ("k.bools", ARR, (BOOL, [True, False])),
           ("k.nested", ARR, (ARR, [(U8, [1, 2]), (U8, [3])]))]
    md = inspect(write(tmp_path, build(kvs))).metadata
    assert md["k.u8"] == 250 and md["k.i8"] == -5 and md["k.u16"] == 65000 and md["k.i16"] == -300
    assert md["k.u32"] == 4_000_000_000 and md["k.i32"] == -70000 and md["k.f32"] == 0.5
    assert md["k.bool"] is True and md["k.str"] == "héllo"
    assert md["k.u64"] == 2**60 and md["k.i64"] == -(2**60) and md["k.f64"] == 1e-300
    assert md["k.small"] == [1, -2, 3] and md["k.bools"] == [True, False]
    assert md["k.nested"] == [[1, 2], [3]]


def test_big_arrays_are_summarised_unless_asked(tmp_path):
    kvs = [("big.strings", ARR, (STR, [f"t{i}" for i in range(500)])),
           ("big.floats", ARR, (F32, [float(i) for i in range(300)])),
           ("after", STR, "still read")]
    path = write(tmp_path, build(kvs))
    md = inspect(path).metadata
    assert md["big.strings"] == ArraySummary("string", 500)
    assert md["big.floats"] == ArraySummary("float32", 300)
    assert repr(md["big.strings"]) == "<array of 500 string>"
    assert md["after"] == "still read"  # skipping landed exactly on the next key
    md = inspect(path, load_arrays=["big.strings"]).metadata
    assert md["big.strings"][:2] == ["t0", "t1"] and len(md["big.strings"]) == 500
    assert isinstance(md["big.floats"], ArraySummary)
    assert inspect(path, load_arrays=True).metadata["big.floats"][299] == 299.0


def test_version_2_is_read(tmp_path):
    info = inspect(write(tmp_path, build(LLAMA_KVS, version=2)))
    assert info.version == 2 and info.architecture == "llama"


def test_missing_file_type_is_guessed_from_the_tensors(tmp_path):
    kvs = [kv for kv in LLAMA_KVS if kv[0] != "general.file_type"]
    tensors = [("a", (32, 4), "Q4_0"), ("b", (32, 2), "Q4_0"), ("norm", (32,), "F32")]
    assert inspect(write(tmp_path, build(kvs, tensors))).file_type == "Q4_0 (guessed)"


def test_truncation_at_every_byte_raises_not_gguf(tmp_path):
    data = build(LLAMA_KVS, [("w", (32, 2), "F32"), ("v", (32,), "Q4_0")])
    assert inspect(write(tmp_path, data)).parameter_count == 96  # the whole file is fine
    path = tmp_path / "cut.gguf"
    for cut in range(len(data)):
        path.write_bytes(data[:cut])
        with pytest.raises(NotGGUFError):
            inspect(path)


def test_truncated_message_says_what_to_do(tmp_path):
    data = build(LLAMA_KVS)
    with pytest.raises(NotGGUFError, match="truncated or corrupt") as err:
        inspect(write(tmp_path, data[: len(data) - 10]))
    assert "python -m ossllm_helpers fetch <key> --force" in str(err.value) and "force_download=True" in str(err.value)


@pytest.mark.parametrize("content, says", [
    (b"", "empty or cut-off"),
    (b"GGU", "empty or cut-off"),
    (b"hello, this is a text file\n" * 4, "not a GGUF file"),
    (b"<!DOCTYPE html><html><body>Not found</body></html>", "web page"),
    (b"version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 123\n", "Git LFS pointer"),
    (struct.pack("<Q", 20) + b'{"__metadata__":{}}' + b"\0" * 40, "safetensors"),
    (b"tjgg" + b"\0" * 60, "old GGML-format"),
])
def test_not_gguf_files_are_named(tmp_path, content, says):
    with pytest.raises(NotGGUFError, match=says) as err:
        inspect(write(tmp_path, content, "thing.gguf"))
    assert "force_download=True" in str(err.value)


def test_missing_path_and_folder(tmp_path):
    with pytest.raises(NotGGUFError, match="no such file"):
        inspect(tmp_path / "nope.gguf")
    with pytest.raises(NotGGUFError, match="a folder"):
        inspect(tmp_path)


@pytest.mark.parametrize("version, says", [(1, "version 1"), (7, "version is 7"),
                                           (0x03000000, "big-endian")])
def test_unsupported_versions(tmp_path, version, says):
    data = bytearray(build(LLAMA_KVS))
    data[4:8] = struct.pack("<I", version)
    with pytest.raises(NotGGUFError, match=says):
        inspect(write(tmp_path, bytes(data)))


def _header(n_tensors, n_kv):
    return b"GGUF" + struct.pack("<IQQ", 3, n_tensors, n_kv)


@pytest.mark.parametrize("body", [
    # an array of 2^63 uint8, then of 2^60 strings, then of 2^60 nested arrays
    _header(0, 1) + s("a") + struct.pack("<IIQ", ARR, U8, 2**63) + b"\0" * 64,
    _header(0, 1) + s("a") + struct.pack("<IIQ", ARR, STR, 2**60) + struct.pack("<Q", 1) + b"x" * 64,
    _header(0, 1) + s("a") + struct.pack("<IIQ", ARR, ARR, 2**60) + b"\0" * 64,
    # a string of 2^64 - 1 bytes, and a key of the same
    _header(0, 1) + s("a") + struct.pack("<IQ", STR, 2**64 - 1) + b"x" * 64,
    _header(0, 1) + struct.pack("<Q", 2**64 - 1) + b"x" * 64,
    # 2^64 - 1 metadata entries, and as many tensors
    _header(0, 2**64 - 1) + b"\0" * 64,
    _header(2**64 - 1, 0) + b"\0" * 64,
])
def test_huge_lengths_are_refused_at_once(tmp_path, body):
    with pytest.raises(NotGGUFError, match="needs"):
        inspect(write(tmp_path, body))


def test_deeply_nested_arrays_are_refused(tmp_path):
    body = _header(0, 1) + s("a") + struct.pack("<I", ARR)
    body += struct.pack("<IQ", ARR, 1) * 50 + struct.pack("<IQ", U8, 0)
    with pytest.raises(NotGGUFError, match="nested"):
        inspect(write(tmp_path, body))


def test_corrupt_fields(tmp_path):
    unknown_type = _header(0, 1) + s("a") + struct.pack("<I", 99) + b"\0" * 16
    with pytest.raises(NotGGUFError, match="unknown value type 99"):
        inspect(write(tmp_path, unknown_type))
    rank9 = _header(1, 0) + s("t") + struct.pack("<I", 9) + b"\0" * 200
    with pytest.raises(NotGGUFError, match="9 dimensions"):
        inspect(write(tmp_path, rank9))
    misaligned = _header(1, 0) + s("t") + struct.pack("<IQIQ", 1, 32, 0, 7) + b"\0" * 200
    with pytest.raises(NotGGUFError, match="not a multiple of 32"):
        inspect(write(tmp_path, misaligned))
    bad_row = _header(1, 0) + s("t") + struct.pack("<IQIQ", 1, 33, 2, 0) + b"\0" * 200
    with pytest.raises(NotGGUFError, match="multiple of 32"):
        inspect(write(tmp_path, bad_row))
    bad_alignment = build([("general.alignment", U32, 48)])
    with pytest.raises(NotGGUFError, match="power of two"):
        inspect(write(tmp_path, bad_alignment))


def test_custom_alignment(tmp_path):
    data = build([("general.alignment", U32, 64)], [("a", (32,), "F32"), ("b", (32,), "F32")], alignment=64)
    info = inspect(write(tmp_path, data))
    assert info.alignment == 64 and [t.offset for t in info.tensors] == [0, 128]


# --- pure logic: bits per weight and the memory estimate ---


def test_quant_bits_follow_block_sizes():
    # bytes per block x 8 / weights per block, from ggml's block structs
    assert gguf.QUANT_BITS["Q4_0"] == 4.5
    assert gguf.QUANT_BITS["Q4_1"] == 5.0
    assert gguf.QUANT_BITS["Q8_0"] == 8.5
    assert gguf.QUANT_BITS["Q6_K"] == 6.5625
    assert gguf.QUANT_BITS["F16"] == 16 and gguf.QUANT_BITS["F32"] == 32
    # K-quant mixes sit above their main type, below the next one up
    assert gguf.QUANT_BITS["Q4_K"] < gguf.QUANT_BITS["Q4_K_S"] < gguf.QUANT_BITS["Q4_K_M"] < 5.0
    assert gguf.QUANT_BITS["Q3_K_S"] < gguf.QUANT_BITS["Q3_K_M"] < gguf.QUANT_BITS["Q3_K_L"]
    assert gguf.QUANT_BITS["Q5_K_S"] < gguf.QUANT_BITS["Q5_K_M"] < gguf.QUANT_BITS["Q6_K"]
    # 4.58 GiB for Llama-3-8B in llama.cpp's quantize table
    assert gguf.QUANT_BITS["Q4_K_M"] == round(4.58 * 2**30 * 8 / 8.03e9, 2)


def _arch_file(tmp_path, arch, *, layers, n_head, n_head_kv, n_embd, key_length=None, window=None,
               extra=()):
    kvs = [("general.architecture", STR, arch), (f"{arch}.block_count", U32, layers),
           (f"{arch}.attention.head_count", U32, n_head),
           (f"{arch}.attention.head_count_kv", U32, n_head_kv),
           (f"{arch}.embedding_length", U32, n_embd)]
    if key_length:
        kvs += [(f"{arch}.attention.key_length", U32, key_length),
                (f"{arch}.attention.value_length", U32, key_length)]
    if window:
        kvs.append((f"{arch}.attention.sliding_window", U32, window))
    return inspect(write(tmp_path, build(kvs + list(extra)), f"{arch}.gguf"))


def test_kv_cache_formula_full_attention(tmp_path, monkeypatch):
    monkeypatch.setattr(memory, "available_memory", lambda: 10**12)
    info = _arch_file(tmp_path, "llama", layers=30, n_head=9, n_head_kv=3, n_embd=576)
    est = estimate_memory(info, n_ctx=2048)
    # 2 (K and V) x n_layer x n_ctx x n_head_kv x head_dim x 2 bytes
    assert est.kv_cache == 2 * 30 * 2048 * 3 * 64 * 2
    assert est.sliding_window_layers == 0
    assert estimate_memory(info, n_ctx=4096).kv_cache == 2 * est.kv_cache
    # llama.cpp rounds the cache up to a multiple of 256 cells
    assert estimate_memory(info, n_ctx=1000).kv_cache == 2 * 30 * 1024 * 3 * 64 * 2


def test_kv_cache_caps_sliding_window_layers(tmp_path, monkeypatch):
    monkeypatch.setattr(memory, "available_memory", lambda: 10**12)
    info = _arch_file(tmp_path, "gemma3", layers=18, n_head=4, n_head_kv=1, n_embd=640,
                      key_length=256, window=512)
    est = estimate_memory(info, n_ctx=2048)
    # gemma3: five local layers, then one global, three times over; a local layer
    # keeps the window plus one micro-batch (512 + 512 cells)
    assert est.sliding_window_layers == 15
    assert est.kv_cache == (15 * 1024 + 3 * 2048) * 1 * (256 + 256) * 2
    # swa_full: every layer sized to the context, as llama-cpp-python does by default
    assert estimate_memory(info, n_ctx=2048, swa_full=True).kv_cache == 18 * 2048 * 512 * 2
    # a context shorter than the window: every layer holds n_ctx cells
    assert estimate_memory(info, n_ctx=512).kv_cache == 18 * 512 * 512 * 2
    assert estimate_memory(info, n_ctx=8192).kv_cache == (15 * 1024 + 3 * 8192) * 512 * 2


def test_window_ignored_where_llama_cpp_ignores_it(tmp_path, monkeypatch):
    monkeypatch.setattr(memory, "available_memory", lambda: 10**12)
    info = _arch_file(tmp_path, "llama", layers=4, n_head=4, n_head_kv=4, n_embd=64, window=16)
    est = estimate_memory(info, n_ctx=2048)
    assert est.sliding_window_layers == 0 and est.kv_cache == 2 * 4 * 2048 * 4 * 16 * 2


def test_kv_cache_per_layer_pattern_and_head_counts(tmp_path, monkeypatch):
    monkeypatch.setattr(memory, "available_memory", lambda: 10**12)
    extra = [("mixed.attention.sliding_window_pattern", ARR, (BOOL, [True, False, True, False]))]
    info = _arch_file(tmp_path, "mixed", layers=4, n_head=4, n_head_kv=2, n_embd=64, window=8,
                      extra=extra)
    # window 8 + 512 rounds up to 768 cells on the two local layers
    assert estimate_memory(info, n_ctx=2048).kv_cache == (768 + 2048 + 768 + 2048) * 2 * 32 * 2
    period = _arch_file(tmp_path, "mixed", layers=4, n_head=4, n_head_kv=2, n_embd=64, window=8,
                        extra=[("mixed.attention.sliding_window_pattern", U32, 2)])
    assert estimate_memory(period, n_ctx=2048).kv_cache == (768 + 2048 + 768 + 2048) * 2 * 32 * 2
    kvs = [("general.architecture", STR, "odd"), ("odd.block_count", U32, 3),
           ("odd.attention.head_count", U32, 4), ("odd.embedding_length", U32, 64),
           ("odd.attention.head_count_kv", ARR, (I32, [1, 2, 4]))]
    info = inspect(write(tmp_path, build(kvs), "odd.gguf"))
    assert info.head_count_kv == (1, 2, 4)
    assert estimate_memory(info, n_ctx=256).kv_cache == 256 * (1 + 2 + 4) * 32 * 2


def test_fits_compares_total_with_available(tmp_path, monkeypatch):
    info = _arch_file(tmp_path, "llama", layers=2, n_head=4, n_head_kv=4, n_embd=64)
    monkeypatch.setattr(memory, "available_memory", lambda: 10**12)
    roomy = estimate_memory(info)
    assert roomy.fits
    assert roomy.total == roomy.weights + roomy.kv_cache + roomy.compute + roomy.overhead
    assert "fits" in str(roomy) and "NOT" not in str(roomy)
    monkeypatch.setattr(memory, "available_memory", lambda: roomy.total - 1)
    tight = estimate_memory(info)
    assert not tight.fits and "does NOT fit" in str(tight)
    for bad in (0, -5, 2.5, "2048", True):
        with pytest.raises(InvalidArgumentError, match="n_ctx must be a whole number") as err:
            estimate_memory(info, n_ctx=bad)
        assert isinstance(err.value, ValueError) and err.value.value == bad


# --- hyperparameters a crafted or unusual file gets wrong ---


def test_per_layer_head_counts_openelm_style(tmp_path, monkeypatch):
    """OpenELM stores head_count and head_count_kv per layer: inspect and estimate use every layer's value."""
    monkeypatch.setattr(memory, "available_memory", lambda: 10**12)
    kvs = [("general.architecture", STR, "openelm"), ("openelm.block_count", U32, 3),
           ("openelm.embedding_length", U32, 64),
           ("openelm.attention.head_count", ARR, (I32, [2, 4, 8])),
           ("openelm.attention.head_count_kv", ARR, (I32, [1, 1, 2])),
           ("openelm.attention.key_length", U32, 16), ("openelm.attention.value_length", U32, 16)]
    info = inspect(write(tmp_path, build(kvs), "openelm.gguf"))
    assert info.head_count == (2, 4, 8) and info.head_dim == 16 and info.max_head_count == 8
    assert "2-8 per layer" in str(info)
    est = estimate_memory(info, n_ctx=256)
    assert est.kv_cache == 256 * (1 + 1 + 2) * (16 + 16) * 2
    # the compute buffer takes the widest layer's attention scores
    assert est.compute == 4 * 512 * (8 * 256 + 16 * 64)
    # without key_length, the head size is the embedding over layer 0's heads, as llama.cpp defaults it
    plain = inspect(write(tmp_path, build(kvs[:5]), "openelm2.gguf"))
    assert plain.head_dim == 32


def test_per_layer_arrays_longer_than_64_layers_are_read(tmp_path):
    kvs = [("general.architecture", STR, "deep"), ("deep.block_count", U32, 80),
           ("deep.attention.head_count", U32, 8), ("deep.embedding_length", U32, 64),
           ("deep.attention.head_count_kv", ARR, (U32, [2] * 79 + [4]))]
    info = inspect(write(tmp_path, build(kvs)))
    assert len(info.head_count_kv) == 80 and info.head_count_kv[-1] == 4


@pytest.mark.parametrize("kvs, says", [
    # a head_count_kv array shorter than the layers (IndexError before)
    ([("x.block_count", U32, 4), ("x.attention.head_count", U32, 4),
      ("x.attention.head_count_kv", ARR, (I32, [1, 2]))], "lists 2 values for 4 layers"),
    # a per-layer array with no block_count to check it against
    ([("x.attention.head_count", ARR, (I32, [4, 4]))], "for an unknown number of layers"),
    # a negative head count
    ([("x.block_count", U32, 2), ("x.attention.head_count", ARR, (I32, [4, -1]))], "whole numbers"),
    # hyperparameters of the wrong type (TypeError before)
    ([("x.block_count", STR, "32")], "'32' (a string)"),
    ([("x.block_count", U32, 2), ("x.embedding_length", F32, 64.0)], "(a fraction)"),
    ([("x.block_count", BOOL, True)], "(a bool)"),
    ([("x.block_count", I32, -3)], "not a whole number of at least 0"),
    # an absurd layer count (MemoryError, or 25 s and 2.4 GB, before)
    ([("x.block_count", U64, 10**12), ("x.attention.head_count", U32, 4)], "no model has that many layers"),
])
def test_implausible_hyperparameters_are_a_corrupt_file(tmp_path, kvs, says):
    path = write(tmp_path, build([("general.architecture", STR, "x")] + kvs))
    with pytest.raises(NotGGUFError, match=re.escape(says)) as err:
        inspect(path)
    assert "truncated or corrupt" in str(err.value) and "force_download=True" in str(err.value)


# --- the tables against the ggml library llama-cpp-python ships ---


def _ggml_base():
    import ctypes
    import pathlib

    llama_cpp = pytest.importorskip("llama_cpp")
    lib_dir = pathlib.Path(llama_cpp.__file__).parent / "lib"
    lib = ctypes.CDLL(str(next(lib_dir.glob("libggml-base.*"))))
    lib.ggml_blck_size.restype, lib.ggml_blck_size.argtypes = ctypes.c_int64, [ctypes.c_int]
    lib.ggml_type_size.restype, lib.ggml_type_size.argtypes = ctypes.c_size_t, [ctypes.c_int]
    lib.ggml_type_name.restype, lib.ggml_type_name.argtypes = ctypes.c_char_p, [ctypes.c_int]
    return lib


def test_ggml_types_match_the_ggml_library():
    lib = _ggml_base()
    for type_id, (name, block, size) in gguf.GGML_TYPES.items():
        assert lib.ggml_type_name(type_id).decode().upper() == name
        assert (lib.ggml_blck_size(type_id), lib.ggml_type_size(type_id)) == (block, size), name
    # and every live type the library knows is in the table
    import llama_cpp

    for type_id in range(llama_cpp.GGML_TYPE_COUNT):
        if lib.ggml_blck_size(type_id) > 0:
            assert type_id in gguf.GGML_TYPES, lib.ggml_type_name(type_id)


def test_file_types_match_llama_h():
    import llama_cpp

    for ftype, name in gguf.FILE_TYPES.items():
        const = {"F32": "LLAMA_FTYPE_ALL_F32", "GUESSED": "LLAMA_FTYPE_GUESSED"}.get(
            name, f"LLAMA_FTYPE_MOSTLY_{name}")
        if name == "Q4_1_SOME_F16":  # removed from llama.h, kept for old files
            assert not hasattr(llama_cpp, const)
            continue
        assert getattr(llama_cpp, const) == ftype, name
    known = {v for k, v in vars(llama_cpp).items() if k.startswith("LLAMA_FTYPE_")}
    assert known <= set(gguf.FILE_TYPES)


# --- the two offline models ---


@pytest.mark.model
def test_inspect_smollm2(smollm2_gguf):
    info = inspect(smollm2_gguf)
    assert info.architecture == "llama"
    assert info.parameter_count == 134_515_008  # "135M"
    assert info.file_type == "Q4_1"
    assert info.tensor_types == {"Q4_1": 210, "F32": 61, "Q8_0": 1}
    assert (info.context_length, info.embedding_length, info.block_count) == (8192, 576, 30)
    assert (info.head_count, info.head_count_kv, info.head_dim) == (9, 3, 64)
    assert info.vocab_size == 49152
    assert info.licence == "apache-2.0"
    assert info.has_chat_template and "<|im_start|>" in info.chat_template
    assert info.sliding_window is None and info.expert_count is None
    assert info.file_size == smollm2_gguf.stat().st_size
    assert isinstance(info.metadata["tokenizer.ggml.tokens"], ArraySummary)


@pytest.mark.model
def test_inspect_gemma(gemma_gguf):
    info = inspect(gemma_gguf)
    assert info.architecture == "gemma3"
    assert info.parameter_count == 268_098_176  # "270M"
    assert info.file_type == "Q4_K_M"
    # a K-quant mix: Q4_K is not even the most common type in this small model
    assert info.tensor_types == {"F32": 109, "Q5_0": 81, "Q4_K": 27, "Q8_0": 10, "Q6_K": 9}
    assert (info.context_length, info.embedding_length, info.block_count) == (32768, 640, 18)
    assert (info.head_count, info.head_count_kv, info.head_dim) == (4, 1, 256)
    assert info.sliding_window == 512
    assert info.vocab_size == 262144
    assert info.licence == "gemma"
    assert not info.has_chat_template  # the base model
    assert "no (base model?)" in str(info)


@pytest.mark.model
@pytest.mark.parametrize("which", ["smollm2", "gemma"])
def test_inspect_agrees_with_llama_cpp(which, smollm2_gguf, gemma_gguf, capfd):
    """The header as llama.cpp itself reads it, and the buffers it allocates."""
    import llama_cpp

    path = smollm2_gguf if which == "smollm2" else gemma_gguf
    info = inspect(path)
    llm = llama_cpp.Llama(str(path), n_ctx=2048, n_batch=512, verbose=True)
    try:
        log = capfd.readouterr().err
        model = llm.model
        assert llama_cpp.llama_model_n_params(model) == info.parameter_count
        assert llama_cpp.llama_model_size(model) == info.tensor_data_size
        assert llama_cpp.llama_model_n_swa(model) == (info.sliding_window or 0)
        assert llama_cpp.llama_model_n_ctx_train(model) == info.context_length
        assert llm.n_embd() == info.embedding_length
        assert llm.n_vocab() == info.vocab_size
        for key, value in llm.metadata.items():
            ours = info.metadata[key]
            if isinstance(ours, (str, int)) and not isinstance(ours, bool):
                assert str(ours) == value, key
        assert llm.metadata.get("tokenizer.chat_template") == info.chat_template
    finally:
        llm.close()
    # llama-cpp-python sizes sliding-window layers to the whole context (swa_full)
    import re

    kv_mib = sum(float(m) for m in re.findall(r"llama_kv_cache: size =\s*([\d.]+) MiB", log))
    estimate = estimate_memory(info, n_ctx=2048, swa_full=True)
    assert abs(estimate.kv_cache / 2**20 - kv_mib) < 0.01
    compute_mib = float(re.findall(r"CPU compute buffer size =\s*([\d.]+) MiB", log)[-1])
    assert compute_mib <= estimate.compute / 2**20 <= 1.25 * compute_mib


@pytest.mark.model
def test_inspect_reads_the_header_only(gemma_gguf):
    info = inspect(gemma_gguf, load_arrays=["tokenizer.ggml.tokens"])
    tokens = info.metadata["tokenizer.ggml.tokens"]
    assert len(tokens) == info.vocab_size and "<bos>" in tokens[:10]
    assert isinstance(info.metadata["tokenizer.ggml.scores"], ArraySummary)
