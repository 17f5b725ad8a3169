"""The client side of the Hub tests: run ossllm_helpers calls in a fresh process whose huggingface_hub talks to a test Hub.

huggingface_hub reads HF_ENDPOINT and HF_HUB_OFFLINE once, at import, and the test
session imports it offline (conftest). So every online call runs in a new Python
process with HF_ENDPOINT pointing at tests/hubserver.py (or at a dead address):
exactly what a student's kernel does, with no patched URL templates.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

__all__ = ["gguf_bytes", "run_online", "since", "ROOT"]


def gguf_bytes(tag: str, size: int = 4096) -> bytes:
    return (b"GGUF" + tag.encode()).ljust(size, b"\0")


_DRIVER = """
import contextlib, io, json, sys, time, warnings
spec = json.loads(sys.argv[1])
free = spec.get("free_bytes")
if free is not None:  # logic only: pretend the disk is nearly full
    import shutil
    real = shutil.disk_usage
    def fake(path):
        usage = real(path)
        return type(usage)(usage.total, usage.total - free, free)
    shutil.disk_usage = fake
import ossllm_helpers as oh
out = []
for name, args, kwargs in spec["calls"]:
    started = time.monotonic()
    printed = io.StringIO()
    with warnings.catch_warnings(record=True) as seen, contextlib.redirect_stdout(printed):
        warnings.simplefilter("always")
        try:
            result = {"ok": getattr(oh, name)(*args, **kwargs)}
        except oh.OssllmError as e:
            result = {"error": type(e).__name__, "message": str(e),
                      "bases": [c.__name__ for c in type(e).__mro__], "data": {k: v for k, v in vars(e).items()
                                                                               if isinstance(v, (str, int, type(None)))}}
    result["seconds"] = time.monotonic() - started
    result["printed"] = printed.getvalue()
    result["warnings"] = [f"{w.category.__name__}: {w.message}" for w in seen if "ossllm" in w.category.__module__]
    out.append(result)
print(json.dumps(out, default=str))
"""


def run_online(hub_or_url, home: Path, *calls, token=None, free_bytes=None, env=None):
    """Run oh.<name>(*args, **kwargs) calls in a new process whose huggingface_hub talks to the test Hub.

    Each result is {"ok": value} or {"error", "message", "bases", "data"}, with "seconds", what it
    "printed" and the course's "warnings"; one call gives one result, several a list.
    """
    extra = env or {}
    env = {k: v for k, v in os.environ.items() if k not in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HUB_CACHE")}
    env.update(
        HF_ENDPOINT=hub_or_url if isinstance(hub_or_url, str) else hub_or_url.url,
        HF_HOME=str(home),
        HF_HUB_OFFLINE="0",
        HF_HUB_DISABLE_TELEMETRY="1",
        PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
    )
    if token:
        env["HF_TOKEN"] = token
    env.update(extra)
    spec = {"calls": [[c[0], list(c[1]), c[2] if len(c) > 2 else {}] for c in calls], "free_bytes": free_bytes}
    proc = subprocess.run(
        [sys.executable, "-c", _DRIVER, json.dumps(spec)], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    return results if len(results) > 1 else results[0]


def since(hub, mark, **kw):
    return [r for r in hub.log[mark:] if all(getattr(r, k) == v for k, v in kw.items())]
