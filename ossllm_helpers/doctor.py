"""`python -m ossllm_helpers doctor`: what this machine has, and the fix for each problem."""

import importlib.metadata
import os
import platform
import shutil
import sys

from .constants import CLI, FRONT_DOOR
from .hub.cache import cache_root, cached_path
from .hub.probe import endpoint, offline_reason
from .memory import memory_state
from .pack import OFFLINE_MODELS, pack_status

__all__ = ["checks", "report"]

_PACKAGES = ["huggingface_hub", "llama-cpp-python", "ipywidgets", "jupyterlab", "nbgrader", "nbval", "pytest"]
_GiB = 1024**3
_MIN_MEMORY = 2 * _GiB  # the lessons' models need about 1 GiB with the notebook beside them
_MIN_DISK = 5 * _GiB


def _version(dist):
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _llama_cpp_row():
    try:
        import llama_cpp  # deferred: loading the native library is itself one of the checks

        info = llama_cpp.llama_print_system_info().decode(errors="replace").strip()
        return ("llama-cpp-python loads", True, info[:120], "")
    except Exception as exc:  # any failure to load the native library is the finding
        return ("llama-cpp-python loads", False, f"{type(exc).__name__}: {exc}",
                "reinstall: pip install --force-reinstall --no-cache-dir llama-cpp-python (needs gcc, g++ and cmake)")


def _memory_row():
    state = memory_state()  # the same probe Chat's memory estimate uses
    where = " (container limit)" if state.cgroup_limited else ""
    return ("memory", state.available > _MIN_MEMORY,
            f"{state.available / _GiB:.1f} GiB available of {state.total / _GiB:.1f} GiB{where}",
            "close other programs: the lessons' models need about 1 GiB; a 7-8B model at Q4_K_M needs about 6 GiB")


def checks(*, network: bool = True) -> list[tuple[str, bool, str, str]]:
    """(name, ok, detail, fix) for every check; ``network=False`` leaves the Hub probe out."""
    rows = [("python", sys.version_info >= (3, 10), f"{platform.python_version()} on {platform.platform()}",
             "use Python 3.10 or newer")]
    for dist in _PACKAGES:
        v = _version(dist)
        rows.append((dist, v is not None, v or "not installed", f"run {FRONT_DOOR} up (or pip install -e '.[course,test]')"))
    rows.append(_llama_cpp_row())
    status = pack_status()
    for key, model in OFFLINE_MODELS.items():
        cached = cached_path(model.repo_id, model.filename)
        ok = cached is not None
        detail = cached if ok else ("package installed, not in the Hub cache" if status[key] else "package not installed")
        fix = f"{CLI} pack" if status[key] else f"{CLI} pack --install"
        rows.append((f"offline model {key}", ok, detail, fix))
    rows.append(_memory_row())
    cache = cache_root()
    os.makedirs(cache, exist_ok=True)
    free = shutil.disk_usage(cache).free
    rows.append(("disk", free > _MIN_DISK, f"{free / _GiB:.1f} GiB free for {cache}",
                 "free some space, or set HF_HOME to a larger disk before starting Jupyter"))
    if network:
        reason = offline_reason()
        rows.append(("network", True, f"online: models download from the Hub ({endpoint()})" if reason is None
                     else f"offline ({reason}): only cached models (the offline pack) are available", ""))
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
