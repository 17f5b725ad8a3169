"""A real JupyterLab server on a temporary copy of the course, for the browser tier.

The copy holds release/ and notebooks/ (from the working tree or from a git
revision), so Run All, autosave and lab transcripts never touch tracked files.
Every Jupyter and Hugging Face folder the server or its kernels write points
inside the copy; the offline model pack is installed there too.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import time
import urllib.request
from io import BytesIO
from pathlib import Path

__all__ = ["ROOT", "copy_course", "LabServer"]

ROOT = Path(__file__).resolve().parents[2]

# Notebook settings for the run: no news or update checks (there is no network),
# and a quiet notification area so toasts never cover what is measured.
_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}


def copy_course(dest: Path, *, rev: str | None = None, folders=("release", "notebooks"), package=False) -> Path:
    """Copy ``folders`` of the working tree (or of git revision ``rev``) into ``dest``.

    With ``package=True`` the revision's ``ossllm_helpers`` is copied too, so a
    kernel started with ``dest`` on PYTHONPATH runs that revision's helpers.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    wanted = list(folders) + (["ossllm_helpers"] if package else [])
    if rev is None:
        for name in wanted:
            shutil.copytree(ROOT / name, dest / name, ignore=shutil.ignore_patterns(
                "lab_transcript*.json", ".ipynb_checkpoints", "__pycache__"))
        return dest
    tar = subprocess.run(["git", "-C", str(ROOT), "archive", rev, *wanted], check=True, capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(tar)) as archive:
        archive.extractall(dest, filter="data")
    return dest


def _die_with_parent() -> None:
    """In the child before exec (Linux): SIGTERM when the process that started it dies.

    A run killed by a timeout never reaches its teardown; the server would
    outlive it with its kernels.
    """
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LabServer:
    """``jupyter lab`` serving ``root`` on a free loopback port with a random token."""

    def __init__(self, root: Path, *, hub_cache: Path | None = None, pythonpath: Path | None = None):
        self.root = Path(root)
        self.hub_cache = hub_cache
        self.pythonpath = pythonpath
        self.port = _free_port()
        self.token = secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.log_path = self.root.parent / "jupyter-lab.log"

    def _env(self) -> dict:
        state = self.root.parent / "jupyter-state"
        env = dict(os.environ)
        env.update(
            JUPYTER_CONFIG_DIR=str(state / "config"),
            JUPYTER_DATA_DIR=str(state / "data"),
            JUPYTER_RUNTIME_DIR=str(state / "runtime"),
            JUPYTERLAB_SETTINGS_DIR=str(state / "settings"),
            JUPYTERLAB_WORKSPACES_DIR=str(state / "workspaces"),
            IPYTHONDIR=str(state / "ipython"),
            MPLCONFIGDIR=str(state / "matplotlib"),
            HF_HUB_OFFLINE="1",
            HF_HUB_DISABLE_TELEMETRY="1",
            PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        )
        env.pop("JUPYTERHUB_USER", None)
        if self.hub_cache is not None:
            env["HF_HOME"] = str(Path(self.hub_cache).parent)
            env["HF_HUB_CACHE"] = str(self.hub_cache)
        if self.pythonpath is not None:
            env["PYTHONPATH"] = str(self.pythonpath)
        for name, values in _SETTINGS.items():
            path = state / "settings" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values), encoding="utf-8")
        return env

    def start(self, timeout: float = 120) -> "LabServer":
        cmd = [
            sys.executable, "-m", "jupyterlab", "--no-browser",
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.root}",
            "--LabApp.expose_app_in_browser=True",  # window.jupyterapp: run commands, read the notebook model
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")  # CI containers run as root
        log = open(self.log_path, "wb")
        # its own session, so teardown can end the server and its kernels by process group
        self.proc = subprocess.Popen(cmd, cwd=self.root, env=self._env(), stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True,
                                     preexec_fn=_die_with_parent if sys.platform == "linux" else None)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with {self.proc.returncode}; log: {self.log_path}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/status?token={self.token}", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"jupyter lab did not answer within {timeout:.0f} s; log: {self.log_path}")

    def lab_url(self, path: str = "") -> str:
        return f"{self.url}/lab/tree/{path}?token={self.token}" if path else f"{self.url}/lab?token={self.token}"

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        pgid = os.getpgid(self.proc.pid)
        os.killpg(pgid, signal.SIGTERM)  # the server shuts its kernels down on SIGTERM
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(pgid, signal.SIGKILL)
            self.proc.wait()
        try:  # kernels left behind in the group
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
