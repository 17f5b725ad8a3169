"""Build lesson notebooks cell by cell, with the nbgrader metadata nbgrader expects.

For course authors: a lesson is written as a list of these cells and saved with
``save``; the header (Colab badge, setup cell) is added the same way everywhere.
"""

from pathlib import Path

import nbformat

from .colab import badge_markdown, setup_cell_source

__all__ = ["md", "code", "solution", "tests", "header", "save"]


def _grade_meta(grade_id, *, solution, grade, points=0, locked=False):
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3, "solution": solution}
    if grade:
        meta["points"] = points
    return {"nbgrader": meta}


def md(text: str, *, grade_id: str | None = None):
    """A Markdown cell; with grade_id it is read-only in nbgrader (locked)."""
    cell = nbformat.v4.new_markdown_cell(text.strip("\n"))
    if grade_id:
        cell.metadata.update(_grade_meta(grade_id, solution=False, grade=False, locked=True))
    return cell


def code(src: str, *, grade_id: str | None = None):
    """An ordinary code cell; with grade_id it is locked (students can't edit it)."""
    cell = nbformat.v4.new_code_cell(src.strip("\n"))
    if grade_id:
        cell.metadata.update(_grade_meta(grade_id, solution=False, grade=False, locked=True))
    return cell


def solution(src: str, grade_id: str):
    """An autograded answer cell: put the answer between ### BEGIN/END SOLUTION."""
    cell = nbformat.v4.new_code_cell(src.strip("\n"))
    cell.metadata.update(_grade_meta(grade_id, solution=True, grade=False))
    return cell


def tests(src: str, grade_id: str, points: int):
    """An autograder test cell; start it with a one-line docstring saying what it checks."""
    cell = nbformat.v4.new_code_cell(src.strip("\n"))
    cell.metadata.update(_grade_meta(grade_id, solution=False, grade=True, points=points, locked=True))
    return cell


def header(notebook_path: str, title_markdown: str):
    """Title cell (with the Colab badge) and the canonical setup cell.

    A source/ path is linked as its release/ twin: students open the release.
    """
    if notebook_path.startswith("source/"):
        notebook_path = "release/" + notebook_path.removeprefix("source/")
    return [
        md(badge_markdown(notebook_path) + "\n\n" + title_markdown.strip("\n"), grade_id="header"),
        code(setup_cell_source(), grade_id="setup"),
    ]


def save(cells, path) -> Path:
    """Write a notebook with the Python 3 kernel and no outputs."""
    nb = nbformat.v4.new_notebook()
    nb.cells = list(cells)
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    nb.metadata["language_info"] = {"name": "python"}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path
