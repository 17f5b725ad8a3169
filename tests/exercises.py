"""Run a lesson's graded cells in this process, from its text source: for tests of plausible wrong answers.

``namespace(lesson)`` executes the cells a student runs before the exercises (imports and the exercise
data of the "Graded exercises" section) in the lesson folder; ``visible(lesson, grade_id, ns)`` runs a
test cell's visible part, ``full(...)`` the whole cell with its hidden tests; ``solve(...)`` runs the
source solution of an answer cell.
"""

import contextlib
import os
import re
from pathlib import Path

import jupytext

ROOT = Path(__file__).resolve().parents[1]
_HIDDEN = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS?[^\n]*\n?", re.S | re.M)


def cells(lesson: str):
    (text,) = (ROOT / "source" / lesson).glob("*.md")
    return jupytext.read(text, fmt="md:myst").cells


def _meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def cell(lesson: str, grade_id: str):
    for c in cells(lesson):
        if _meta(c).get("grade_id") == grade_id:
            return c
    raise KeyError(f"{lesson} has no cell {grade_id!r}")


@contextlib.contextmanager
def _in(folder: Path):
    old = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(old)


def namespace(lesson: str) -> dict:
    """What a student's kernel holds when the exercises start: imports, and the data cells before the first graded cell."""
    ns: dict = {}
    in_exercises = False
    folder = ROOT / "source" / lesson
    with _in(folder):
        exec("import json\nfrom pathlib import Path\nimport ossllm_helpers as oh", ns)
        for c in cells(lesson):
            if c.cell_type == "markdown" and re.search(r"^## Graded exercises", c.source, re.M):
                in_exercises = True
            elif c.cell_type == "markdown" and re.search(r"^## (?!Graded)", c.source, re.M):
                in_exercises = False
            if c.cell_type == "code" and (_meta(c).get("grade") or _meta(c).get("solution")):
                break  # the template puts every data cell before the first graded cell
            if in_exercises and c.cell_type == "code":
                exec(compile(c.source, f"<{lesson} data cell>", "exec"), ns)
    return ns


def _run(lesson: str, source: str, ns: dict, name: str) -> dict:
    with _in(ROOT / "source" / lesson):
        exec(compile(source, f"<{lesson} {name}>", "exec"), ns)
    return ns


def visible(lesson: str, grade_id: str, ns: dict) -> dict:
    """Run the visible part of a test cell (what a student runs before submitting)."""
    return _run(lesson, _HIDDEN.sub("", cell(lesson, grade_id).source), ns, grade_id)


def full(lesson: str, grade_id: str, ns: dict) -> dict:
    """Run a whole test cell, hidden tests included (what the grader runs)."""
    return _run(lesson, cell(lesson, grade_id).source, ns, grade_id)


def solve(lesson: str, grade_id: str, ns: dict) -> dict:
    """Run an answer cell with its source solution."""
    return _run(lesson, cell(lesson, grade_id).source, ns, grade_id)
