"""GGUF file names: the quant a name carries, split models' shards, and choosing files from a listing."""

import os
import re

from ..errors import FileNotInRepoError, InvalidArgumentError

__all__ = ["quant_of", "is_gguf", "is_weights", "group_shards", "split_quant", "pick", "listing", "not_in_repo", "human"]

# Quant names as llama.cpp and the usual GGUF publishers spell them in file names:
# Q4_K_M, Q4_1, Q8_0, Q4_0_4_8, IQ4_XS, IQ2_XXS, TQ1_0, F16, BF16, F32, MXFP4 ...
_QUANT_RE = re.compile(
    r"(?<![a-z0-9])(i?q[1-8](?:_[a-z0-9]+)*|tq[12]_0|bf16|fp16|fp32|f16|f32|mxfp4(?:_moe)?)(?=[-._]|$)",
    re.IGNORECASE,
)
_SHARD_RE = re.compile(r"-(\d{5})-of-(\d{5})\.gguf$", re.IGNORECASE)
DEFAULT_QUANT = "Q4_K_M"  # the usual balance of size and quality, and what most GGUF repositories publish


def quant_of(filename: str) -> str | None:
    """The quantisation named in a GGUF file name, upper-cased; None if it names none.

    >>> quant_of("gemma-3-270m-q4_k_m.gguf"), quant_of("SmolLM2-135M-Instruct.Q4_1.gguf")
    ('Q4_K_M', 'Q4_1')
    """
    stem = os.path.basename(str(filename))
    stem = _SHARD_RE.sub("", stem)
    stem = re.sub(r"\.gguf$", "", stem, flags=re.IGNORECASE)
    found = _QUANT_RE.findall(stem)
    if not found:
        return None
    quant = found[-1].upper()  # the quant is the last such token; earlier ones are part of the model name
    return {"FP16": "F16", "FP32": "F32"}.get(quant, quant)


def is_gguf(name: str) -> bool:
    return name.lower().endswith(".gguf")


def is_weights(name: str) -> bool:
    """A GGUF language model: vision projectors (mmproj) are GGUF too, but not a model to chat with."""
    return is_gguf(name) and "mmproj" not in os.path.basename(name).lower()


def human(n: int | None) -> str:
    if n is None:
        return "size unknown"
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{n} bytes"


def group_shards(names) -> list[list[str]]:
    """Files grouped by model: a split GGUF's shards together, first shard first."""
    groups: dict[str, list[str]] = {}
    for name in sorted(names):
        groups.setdefault(_SHARD_RE.sub("", name), []).append(name)
    return list(groups.values())


def split_quant(filename: str | None, quant: str | None) -> tuple[str | None, str | None]:
    """(filename, quant) with a quant name given as filename moved to quant; disagreeing pairs refused."""
    for name, value in (("filename", filename), ("quant", quant)):
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise InvalidArgumentError(
                f"{name} must be a non-empty string such as 'Q4_K_M' or a file name, not {value!r}.",
                argument=name, value=value,
            )
    if filename is not None and "." not in filename and "/" not in filename and quant_of(filename) == filename.upper():
        if quant is not None and quant.upper() != filename.upper():
            raise InvalidArgumentError(
                f"Give the quant once: filename={filename!r} and quant={quant!r} disagree.", argument="quant", value=quant
            )
        return None, filename
    if filename is not None and quant is not None and quant_of(filename) != quant.upper():
        raise InvalidArgumentError(
            f"Pass filename= or quant=, not both: {filename!r} is not a {quant.upper()} file.", argument="quant", value=quant
        )
    return filename, quant


def listing(files: dict[str, int | None]) -> str:
    """One sentence naming a repository's GGUF files, sizes and quants (or saying it has none)."""
    gguf = sorted(f for f in files if is_weights(f))
    if not gguf:
        shown = ", ".join(sorted(files)[:8]) + (" ..." if len(files) > 8 else "")
        return (
            f"It has no GGUF files at all (its files: {shown or 'none'}): it probably holds the original "
            "weights. Look for a repository of the same model whose name ends in -GGUF."
        )
    lines = ", ".join(f"{f} ({quant_of(f) or 'no quant in name'}, {human(files[f])})" for f in gguf)
    quants = sorted({q for q in map(quant_of, gguf) if q})
    return f"Its GGUF files: {lines}. Quants: {', '.join(quants) or 'none named'}."


def not_in_repo(repo_id: str, wanted: str, files: dict[str, int | None], *, where: str = "") -> FileNotInRepoError:
    advice = " Pass one of those as quant= or filename=." if any(map(is_weights, files)) else ""
    return FileNotInRepoError(f"{repo_id}{where} has no {wanted}. {listing(files)}{advice}", repo_id=repo_id)


def pick(repo_id: str, files: dict[str, int | None], filename: str | None, quant: str | None, *, where: str = "") -> list[str]:
    """The file(s) to fetch from a listing: one file, or every shard of a split GGUF (first shard first)."""
    if filename is not None:
        if filename in files:
            return [filename]
        raise not_in_repo(repo_id, f"file {filename!r}", files, where=where)
    weights = sorted(f for f in files if is_weights(f))
    if quant is None:
        groups = group_shards(weights)
        if len(groups) == 1:
            return groups[0]
        quant = DEFAULT_QUANT
        if not any(quant_of(f) == quant for f in weights):
            raise not_in_repo(repo_id, f"single GGUF file to choose by default (and no {DEFAULT_QUANT})", files, where=where)
    want = quant.upper()
    groups = group_shards([f for f in weights if quant_of(f) == want])
    if not groups:
        raise not_in_repo(repo_id, f"{want} GGUF file", files, where=where)
    if len(groups) > 1:
        raise FileNotInRepoError(
            f"Several {want} files in {repo_id}: {', '.join(g[0] for g in groups)}. Pass the one you want as filename=.",
            repo_id=repo_id,
        )
    return groups[0]
