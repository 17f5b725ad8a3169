"""The ggml tables: tensor types with their block sizes, llama.cpp's file types, and bits per weight."""

__all__ = ["GGML_TYPES", "FILE_TYPES", "QUANT_BITS"]

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

