"""The maintainer's catalog check, against the local Hub-compatible server: clean, then with injected drift."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import ossllm_helpers as oh
from hubserver import Blank, FakeHub
from ossllm_helpers import catalog_check

ROOT = Path(__file__).resolve().parents[1]
UNKNOWN_SIZE = 123_456_789  # what the test Hub lists where the catalog leaves a size empty


def _downloadable():
    return [m for m in oh.load_catalog() if m.repo_id and m.files]


@pytest.fixture
def mirror():
    """A Hub listing every downloadable catalog entry as the catalog describes it (files never stored)."""
    hub = FakeHub()
    for m in _downloadable():
        files = {f.filename: Blank(f.size or UNKNOWN_SIZE) for f in m.files}
        hub.add_repo(m.repo_id, {**files, "README.md": f"# {m.name}\n"}, licence=m.licence, gated=bool(m.gated))
    with hub:
        yield hub


def check(hub, *args, cwd=ROOT, pythonpath=ROOT):
    env = {**os.environ, "HF_ENDPOINT": hub.url, "HF_HUB_OFFLINE": "0", "PYTHONPATH": str(pythonpath),
           "HF_HUB_DISABLE_TELEMETRY": "1"}
    proc = subprocess.run([sys.executable, "-m", "ossllm_helpers", "catalog", "check", *args], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=120)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, proc.stdout


def test_a_catalog_that_matches_the_hub_passes(mirror):
    code, out = check(mirror)
    assert code == 0, out
    assert "DRIFT" not in out
    assert f"{len(_downloadable())} downloadable models checked against {mirror.url}: 0 drifted" in out
    # what the catalog leaves empty is reported as a fill-in, not as drift
    assert "FILL   llama-3.2-1b-instruct: size of Llama-3.2-1B-Instruct-Q8_0.gguf: 123456789 bytes" in out
    assert "FILL   llama-3.2-1b-instruct: gated: false on the Hub" in out
    assert "catalog check --fill" in out


def test_each_injected_drift_is_reported_and_exits_1(mirror):
    llama, qwen, phi, mistral, gemma = (oh.get_model(k) for k in (
        "llama-3.2-1b-instruct", "qwen2.5-0.5b-instruct", "phi-3.5-mini-instruct", "mistral-7b-instruct-v0.3",
        "gemma-2-2b-it"))
    mirror.rename_file(llama.repo_id, "Llama-3.2-1B-Instruct-Q4_K_M.gguf", "Llama-3.2-1B-Instruct-Q4_K_M-v2.gguf")
    mirror.set_licence(qwen.repo_id, "qwen-research")
    mirror.set_gated(phi.repo_id, True)
    mirror.remove_repo(mistral.repo_id)
    mirror.set_licence(gemma.repo_id, None)
    code, out = check(mirror)
    assert code == 1
    drift = sorted(line for line in out.splitlines() if line.startswith("DRIFT"))
    assert drift == sorted([
        "DRIFT  llama-3.2-1b-instruct: Q4_K_M file Llama-3.2-1B-Instruct-Q4_K_M.gguf is no longer in "
        f"{llama.repo_id} (closest now: Llama-3.2-1B-Instruct-Q4_K_M-v2.gguf)",
        "DRIFT  qwen2.5-0.5b-instruct: licence: catalog apache-2.0, Hub qwen-research",
        f"DRIFT  mistral-7b-instruct-v0.3: repository {mistral.repo_id} not found on the Hub "
        "(renamed, removed or made private)",
    ]), out
    # gating the catalog has not recorded yet is a fill-in; once recorded, a change is drift
    assert "FILL   phi-3.5-mini-instruct: gated: true on the Hub" in out
    assert f"NOTE   gemma-2-2b-it: {gemma.repo_id} states no licence on the Hub" in out
    assert "3 drifted" in out and "Fix ossllm_helpers/data/catalog.json" in out


def test_gating_recorded_in_the_catalog_is_checked(mirror, tmp_path):
    """--fill writes the Hub's answers where the catalog had none; afterwards a repository gated since is drift."""
    copy = tmp_path / "src"
    shutil.copytree(ROOT / "ossllm_helpers", copy / "ossllm_helpers", ignore=shutil.ignore_patterns("__pycache__"))
    code, out = check(mirror, "--fill", cwd=copy, pythonpath=copy)
    assert code == 0 and "fill-in(s) into ossllm_helpers/data/catalog.json" in out
    doc = json.loads((copy / "ossllm_helpers" / "data" / "catalog.json").read_text())
    entry = next(e for e in doc["models"] if e["key"] == "llama-3.2-1b-instruct")
    assert entry["gated"] is False and entry["files"]["Q8_0"]["size"] == UNKNOWN_SIZE
    mirror.set_gated(oh.get_model("phi-3.5-mini-instruct").repo_id, True)
    code, out = check(mirror, cwd=copy, pythonpath=copy)
    assert code == 1 and "DRIFT  phi-3.5-mini-instruct: gated: catalog false, Hub true" in out
    assert "FILL" not in out


def test_offline_the_check_says_it_needs_the_hub(capsys):
    from ossllm_helpers.cli import main

    assert main(["catalog", "check"]) == 1  # the test session is offline (HF_HUB_OFFLINE=1)
    err = capsys.readouterr().err
    assert err.startswith("error: The catalog check needs the Hub") and "HF_HUB_OFFLINE" in err


def test_findings_read_as_lines():
    f = catalog_check.Finding("k", catalog_check.DRIFT, "licence: catalog mit, Hub apache-2.0")
    assert str(f) == "DRIFT  k: licence: catalog mit, Hub apache-2.0"
