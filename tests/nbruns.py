"""Executing notebooks in a real kernel, shared by the pipeline and nbval tests."""

import os
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
SKIP = shutil.ignore_patterns("lab_transcript*.json", "__pycache__", ".ipynb_checkpoints", "*.pyc")
KERNEL_ENV = {"HF_HUB_OFFLINE": "1", "OSSLLM_LAB_AUTOPLAY": "1"}


def notebook_in(folder: Path) -> Path:
    (nb,) = sorted(folder.glob("*.ipynb"))
    return nb


def execute_copy(src: Path, dest: Path, **env) -> Path:
    """Execute the notebook of folder src in a copy at dest, with a real kernel; returns the executed notebook."""
    from ossllm_helpers.pack import install_pack

    install_pack()  # the kernel inherits this session's Hub cache
    shutil.copytree(src, dest, ignore=SKIP)
    path = notebook_in(dest)
    nb = nbformat.read(path, as_version=4)
    saved = dict(os.environ)
    os.environ.update({**KERNEL_ENV, **env})
    try:
        NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(dest)}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="session")
def executed(tmp_path_factory):
    """Executed copies of notebook folders (e.g. "source/lesson01"), made once per session."""
    cache = {}

    def get(folder: str) -> Path:
        if folder not in cache:
            dest = tmp_path_factory.mktemp("exec") / Path(folder).name
            cache[folder] = execute_copy(ROOT / folder, dest)
        return cache[folder]

    return get
