"""Notebooks out and in: release the assignment, collect submissions from the exchange or from a folder.

Importing a folder copies regular files only: a link in a folder students could write to
might point at the source notebook (with its solutions) or anywhere else on the machine.
"""

import csv
import datetime as dt
import shutil
from pathlib import Path

from ..errors import GradingError
from .nbapi import cause_of, nbgrader_api
from .paths import STUDENT_ID, Course, Problems, problem

__all__ = ["release", "collect", "import_folder", "read_roster"]


def _api(course: Course):
    return nbgrader_api(course, sandboxed=False)


def _check(result: dict, what: str) -> None:
    if not result.get("success"):
        raise GradingError(f"nbgrader {what} failed: {cause_of(result)}. Fix the cause and run the step again.")


def release(course: Course) -> Path:
    """nbgrader generate_assignment, then release_assignment to the exchange; returns release/<assignment>."""
    api = _api(course)
    _check(api.generate_assignment(course.assignment, force=True), "generate_assignment")
    _check(api.release_assignment(course.assignment), "release_assignment")
    print(f"released {course.assignment}: the student version is in release/{course.assignment}/ and in the "
          "exchange (students run `nbgrader fetch_assignment`, or hand out the release folder yourself)")
    return course.release_dir


def read_roster(path) -> list[str]:
    """Student ids, one a line (the first column of a CSV); a header line "id" or "student" and # comments skipped."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise GradingError(f"cannot read the roster {path}: {exc.strerror}. Pass a file with one student id a line.",
                           path=str(path)) from None
    ids = []
    for row in csv.reader(text.splitlines()):
        first = row[0].strip() if row else ""
        if first and not first.startswith("#") and first.lower() not in ("id", "student"):
            ids.append(first)
    return ids


def import_folder(course: Course, folder) -> tuple[list[str], list[dict]]:
    """Copy ``<folder>/<student>.ipynb`` or ``<folder>/<student>/<notebook>.ipynb`` into submitted/.

    Returns the students imported and the problems found (bad ids, folders without the notebook, stray files,
    links).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise GradingError(f"{folder} is not a folder: pass the folder that holds the submitted notebooks.",
                           path=str(folder))
    wanted = f"{course.notebook}.ipynb"
    found, problems = {}, []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_symlink():  # a link could point at the source notebook, solutions and all
            kind = "not graded" if entry.suffix == ".ipynb" or entry.is_dir() else "ignored file"
            problems.append(problem(entry.stem, kind, f"{entry.name} is a link, not a notebook; not imported"))
            continue
        if entry.is_dir():
            student, nb = entry.name, entry / wanted
            if nb.is_symlink() or not nb.is_file():
                others = sorted(p.name for p in entry.iterdir() if not p.name.startswith("."))
                why = "is a link" if nb.is_symlink() else f"is missing (found: {', '.join(others) or 'nothing'})"
                problems.append(problem(student, "not graded", f"missing file: {wanted} in {entry.name}/ {why}"))
                continue
        elif entry.suffix == ".ipynb" and entry.is_file():
            student, nb = entry.stem, entry
        else:
            problems.append(problem(entry.name, "ignored file", f"{entry.name} is not a notebook; not imported"))
            continue
        if not STUDENT_ID.match(student):
            problems.append(problem(student, "not graded", f"invalid student id: {entry.name}: use letters, digits, "
                                    "'.', '_', '-' or '@'"))
            continue
        if student in found:
            problems.append(problem(student, "duplicate submission",
                                    f"both {found[student].name} and {entry.name}; used {nb.relative_to(folder)}"))
        found[student] = nb
    for student, nb in found.items():
        dest = course.submitted(student)
        if dest.parent.exists():
            shutil.rmtree(dest.parent)
        dest.parent.mkdir(parents=True)
        shutil.copyfile(nb, dest, follow_symlinks=False)
        stamp = dt.datetime.fromtimestamp(nb.stat().st_mtime, dt.timezone.utc)
        (dest.parent / "timestamp.txt").write_text(stamp.strftime("%Y-%m-%d %H:%M:%S.%f UTC"))
    return sorted(found), problems


def collect(course: Course, from_folder=None, roster=None) -> list[str]:
    """Bring submissions into submitted/: nbgrader collect from the exchange, or a folder of notebooks."""
    if from_folder:
        students, problems = import_folder(course, from_folder)
    else:
        _check(_api(course).collect(course.assignment, update=True), "collect")
        students, problems = course.students_submitted(), []
    if roster:
        have = set(course.students_submitted()) | {p["student"] for p in problems}
        problems += [problem(s, "not graded", "missing file: no submission") for s in read_roster(roster) if s not in have]
    Problems(course).replace("collect", problems)
    print(f"collected {len(students)} submissions; {len(problems)} problems")
    return students
