"""Every notebook opens with the Colab link and the canonical setup cell, which installs only on Colab."""

import subprocess
import sys
import types
from pathlib import Path

import nbformat
import pytest

from ossllm_helpers.colab import REPO_URL, badge_markdown, colab_url, setup_cell_source

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(
    str(p.relative_to(ROOT)) for folder in ("source", "release", "notebooks") for p in (ROOT / folder).rglob("*.ipynb")
    if ".ipynb_checkpoints" not in p.parts
)


def _student_path(path: str) -> str:
    return "release/" + path.removeprefix("source/") if path.startswith("source/") else path


@pytest.mark.parametrize("path", NOTEBOOKS)
def test_notebook_header(path):
    """The first cell links to this notebook on Colab; the second is the setup cell, unchanged."""
    nb = nbformat.read(ROOT / path, as_version=4)
    first, second = nb.cells[0], nb.cells[1]
    assert first.cell_type == "markdown" and badge_markdown(_student_path(path)) in first.source
    assert second.cell_type == "code" and second.source == setup_cell_source()


def test_colab_url_points_into_this_repository():
    """The Colab address is built from the one repository URL."""
    url = colab_url("release/lesson01/x.ipynb")
    assert url.startswith("https://colab.research.google.com/github/")
    assert REPO_URL.removeprefix("https://github.com/") in url and url.endswith("/release/lesson01/x.ipynb")


def _run_setup_cell(monkeypatch, on_colab: bool):
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: calls.append((cmd, kw)))
    if on_colab:
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    namespace = {}
    exec(compile(setup_cell_source(), "<setup cell>", "exec"), namespace)
    return calls, namespace


def test_setup_cell_installs_from_the_repository_on_colab(monkeypatch):
    """On (simulated) Colab the cell pip-installs the helpers from this repository, then imports them."""
    calls, namespace = _run_setup_cell(monkeypatch, on_colab=True)
    assert len(calls) == 1
    cmd, kwargs = calls[0]
    assert cmd[:4] == [sys.executable, "-m", "pip", "install"]
    assert any(arg.startswith("ossllm-helpers @ git+" + REPO_URL) for arg in cmd)
    assert kwargs.get("check") is True
    assert namespace["oh"].__name__ == "ossllm_helpers"


def test_setup_cell_installs_nothing_elsewhere(monkeypatch):
    """Outside Colab the cell only imports the helpers."""
    calls, namespace = _run_setup_cell(monkeypatch, on_colab=False)
    assert calls == []
    assert namespace["oh"].__name__ == "ossllm_helpers"
