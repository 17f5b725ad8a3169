"""Where grading reads and writes: the course folder, nbgrader's folders in it, and the grading state.

The grading state lives in ``grading/`` in the course folder: ``problems.json`` (every
problem found, by step and student) and ``report.txt``. Nothing here imports nbgrader:
the course's ``nbgrader_config.py`` is read with traitlets alone, so sandboxed kernels can
start while nbgrader is still loading.
"""

import json
import os
import re
import sys
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from traitlets.config.loader import PyFileConfigLoader

from ..constants import PASS_PERCENT
from ..errors import GradingError

__all__ = [
    "ASSIGNMENT", "PASS_PERCENT", "STUDENT_ID", "NBGRADER_FILES", "Course", "Problems", "problem", "one_line",
    "load_notebook",
]

ASSIGNMENT = "module_test"
# nbgrader folder names double as student ids: no path separators, no leading dot, no control characters
STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$")
# files nbgrader itself keeps beside a submission: never part of what the student's code sees
NBGRADER_FILES = frozenset({"timestamp.txt", "submission_secret.txt"})
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def one_line(text, limit: int = 300) -> str:
    """``text`` as one printable line: control characters and line breaks escaped, cut at ``limit``.

    Report lines and CSV cells quote what students wrote (exception messages, file names);
    escaping keeps a crafted newline from forging a line of its own.
    """
    text = _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), str(text))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def load_notebook(path: Path, max_bytes: int | None = None) -> dict:
    """A notebook file as plain JSON (no nbformat: fast, and nothing of it is executed)."""
    path = Path(path)
    if max_bytes is not None and path.stat().st_size > max_bytes:
        raise ValueError(f"{path.stat().st_size // 1_000_000} MB, over the {max_bytes // 1_000_000} MB limit")
    nb = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise ValueError("no list of cells")
    for cell in nb["cells"]:
        if not isinstance(cell, dict) or not isinstance(cell.get("cell_type"), str):
            raise ValueError("a cell that is not a cell")
        if isinstance(cell.get("source"), list):
            cell["source"] = "".join(str(s) for s in cell["source"])
        if not isinstance(cell.get("source", ""), str):
            raise ValueError("a cell whose source is not text")
        meta = cell.get("metadata")
        if not isinstance(meta, dict) or not isinstance(meta.get("nbgrader", {}), dict):
            cell["metadata"] = {k: v for k, v in (meta or {}).items() if k != "nbgrader"} if isinstance(meta, dict) else {}
    return nb


@dataclass
class Course:
    """A course folder: nbgrader_config.py, source/<assignment>/, and nbgrader's working folders."""

    root: Path
    assignment: str = ASSIGNMENT

    def __post_init__(self):
        self.root = Path(self.root).resolve()
        if not (self.root / "nbgrader_config.py").is_file():
            raise GradingError(f"{self.root} has no nbgrader_config.py: run this from the course folder or pass --course.",
                               path=str(self.root))
        if not STUDENT_ID.match(self.assignment):
            raise GradingError(f"{self.assignment!r} is not an assignment name: use the name of a folder in source/.")
        if not self.source_dir.is_dir():
            have = sorted(p.name for p in (self.root / "source").glob("*") if p.is_dir())
            raise GradingError(f"source/{self.assignment} is missing: the assignments are {', '.join(have) or 'none'}.",
                               path=str(self.source_dir))

    @property
    def source_dir(self) -> Path:
        return self.root / "source" / self.assignment

    @property
    def release_dir(self) -> Path:
        return self.root / "release" / self.assignment

    @cached_property
    def notebooks(self) -> list[str]:
        """The assignment's notebook names, without .ipynb (module_test)."""
        names = sorted(p.stem for p in self.source_dir.glob("*.ipynb"))
        if not names:
            raise GradingError(f"source/{self.assignment} holds no notebook: build it first (./course release).")
        return names

    @property
    def notebook(self) -> str:
        """The one notebook of a single-notebook assignment (every assignment of this course)."""
        if len(self.notebooks) != 1:
            raise GradingError(f"source/{self.assignment} should hold exactly one notebook, found {self.notebooks}.")
        return self.notebooks[0]

    @property
    def state(self) -> Path:
        path = self.root / "grading"
        path.mkdir(exist_ok=True)
        return path

    def source_notebook(self, notebook: str | None = None) -> Path:
        return self.source_dir / f"{notebook or self.notebook}.ipynb"

    def submitted_dir(self, student: str) -> Path:
        return self.root / "submitted" / student / self.assignment

    def submitted(self, student: str, notebook: str | None = None) -> Path:
        return self.submitted_dir(student) / f"{notebook or self.notebook}.ipynb"

    def autograded(self, student: str, notebook: str | None = None) -> Path:
        return self.root / "autograded" / student / self.assignment / f"{notebook or self.notebook}.ipynb"

    def feedback_html(self, student: str, notebook: str | None = None) -> Path:
        return self.root / "feedback" / student / self.assignment / f"{notebook or self.notebook}.html"

    def students_submitted(self) -> list[str]:
        base = self.root / "submitted"
        if not base.is_dir():
            return []
        return sorted(p.name for p in base.iterdir() if (p / self.assignment).is_dir())

    @cached_property
    def config(self):
        """nbgrader_config.py as nbgrader reads it (a traitlets Config), without importing nbgrader."""
        cwd = os.getcwd()
        os.chdir(self.root)  # the file may use relative paths, as it may when nbgrader runs it
        try:
            return PyFileConfigLoader("nbgrader_config.py", path=str(self.root)).load_config()
        finally:
            os.chdir(cwd)

    def config_value(self, section: str, name: str, default=None):
        value = self.config.get(section, {}).get(name)
        return default if value is None else value


class Problems:
    """grading/problems.json: {step: [{student, kind, detail}, ...]}; each step rewrites its own entries."""

    def __init__(self, course: Course):
        self.path = course.state / "problems.json"

    def load(self) -> dict:
        if not self.path.is_file():
            return {}
        return json.loads(self.path.read_text())

    def replace(self, step: str, problems: list, students=None) -> None:
        """Set ``step``'s problems; with ``students``, only theirs (the others' stay)."""
        data = self.load()
        gone = set(students or ())
        keep = [] if students is None else [p for p in data.get(step, []) if p["student"] not in gone]
        data[step] = keep + problems
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1))
        tmp.replace(self.path)  # a crash mid-write never leaves half a file

    def by_student(self) -> dict:
        out = {}
        for step, items in self.load().items():
            for p in items:
                out.setdefault(p["student"], []).append({**p, "step": step})
        return out


def problem(student: str, kind: str, detail: str) -> dict:
    """One line of the report: ``kind`` is a fixed phrase, ``detail`` is escaped to one line."""
    return {"student": student, "kind": kind, "detail": one_line(detail)}


def venv_on_path() -> None:
    """nbgrader calls the `alembic` command: this interpreter's bin goes first on PATH."""
    bindir = str(Path(sys.executable).parent)
    if os.environ.get("PATH", "").split(os.pathsep)[:1] != [bindir]:
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
