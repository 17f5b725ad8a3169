"""Headless start: run the start-here notebook end to end and print what it printed."""

import shutil
import tempfile
from pathlib import Path

__all__ = ["run_start_here"]


def run_start_here(notebook: Path | None = None) -> int:
    """Execute the start-here notebook in a fresh kernel; print its text output, the model's reply last."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    from .course import course_root

    source = Path(notebook or course_root() / "notebooks" / "00_start_here.ipynb")
    with tempfile.TemporaryDirectory(prefix="ossllm-start-") as tmp:
        copy = Path(tmp) / source.name
        shutil.copy(source, copy)
        nb = nbformat.read(copy, as_version=4)
        try:
            NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": tmp}}).execute()
        except CellExecutionError as exc:
            print(f"The start-here notebook failed:\n{exc}\nRun `python -m ossllm_helpers doctor` for the likely fix.")
            return 1
    reply = None
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
        if text:
            print(text, end="" if text.endswith("\n") else "\n")
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "first_reply":
            reply = text.strip()
    if not reply:
        print("The notebook ran but printed no reply from the model.")
        return 1
    print(f"\nThe local model answered: {reply}")
    return 0
