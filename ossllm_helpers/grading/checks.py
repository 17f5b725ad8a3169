"""What a submission brings and what is wrong with it: the files its kernel gets, checks before and after grading.

The kernel's folder holds the student's own files (regular files only: a symlink could
point anywhere on the grader's machine) and the files the students were given in
``release/`` (never the source folder, which may hold a text source with the answers).
"""

import hashlib
import os
import shutil
from pathlib import Path

from .paths import NBGRADER_FILES, STUDENT_ID, Course, load_notebook, problem
from .plan import SourceInfo, strip_hidden_tests

__all__ = ["MAX_NOTEBOOK_MB", "MAX_CELLS", "precheck", "stage_files", "cell_problems", "run_problems"]

MAX_NOTEBOOK_MB = 20  # a notebook larger than this is not graded (a test notebook is well under 1 MB)
MAX_CELLS = 5000


def precheck(course: Course, student: str) -> tuple[dict | None, dict]:
    """(a problem that keeps this student from being graded, or None; {notebook: its JSON})."""
    if not STUDENT_ID.match(student):
        return problem(student, "not graded", "invalid student id: use letters, digits, '.', '_', '-' or '@'"), {}
    notebooks = {}
    for name in course.notebooks:
        path = course.submitted(student, name)
        if path.is_symlink() or (path.exists() and not path.is_file()):
            return problem(student, "not graded", f"{path.name} is a link or not a file; hand in the notebook itself"), {}
        if not path.is_file():
            return problem(student, "not graded", f"missing file: no {path.name} in submitted/{student}/{course.assignment}/"), {}
        try:
            nb = load_notebook(path, MAX_NOTEBOOK_MB << 20)
        except (ValueError, UnicodeDecodeError, RecursionError, OSError) as exc:
            return problem(student, "not graded", f"invalid notebook: {path.name} is not a readable notebook ({exc})"), {}
        if not nb["cells"]:
            return problem(student, "not graded", f"empty notebook: {path.name} has no cells (saved over?)"), {}
        if len(nb["cells"]) > MAX_CELLS:
            return problem(student, "not graded", f"{path.name} has {len(nb['cells'])} cells, over {MAX_CELLS}"), {}
        notebooks[name] = nb
    return None, notebooks


def _walk(folder: Path):
    """(relative path, path, is a regular file) of what lies under ``folder``, never following a link."""
    if not folder.is_dir() or folder.is_symlink():
        return
    for dirpath, dirnames, filenames in os.walk(folder):
        links = [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]
        dirnames[:] = [d for d in dirnames if d not in links and not d.startswith(".")]
        for name in filenames + links:
            path = Path(dirpath) / name
            yield path.relative_to(folder).as_posix(), path, path.is_file() and not path.is_symlink()


def _regular_files(folder: Path):
    """(relative path, path) of the regular files under ``folder``, links and special files skipped."""
    return ((rel, path) for rel, path, regular in _walk(folder) if regular)


def stage_files(course: Course, student: str, dest: Path, *, max_file_mb: int, max_total_mb: int) -> tuple[str, list]:
    """Copy what this student's kernel may see into ``dest``; returns (digest of it, problems)."""
    files, problems, total = {}, [], 0
    keep_own = set(course.config_value("Autograde", "exclude_overwriting", {}).get(course.assignment, []))
    released = dict(_regular_files(course.release_dir))
    for rel, path in _regular_files(course.submitted_dir(student)):
        if rel.endswith(".ipynb") or rel in NBGRADER_FILES:
            continue
        files[rel] = path
    for rel, path in released.items():
        if not rel.endswith(".ipynb") and (rel not in files or rel not in keep_own):
            files[rel] = path  # the version the students were given, as nbgrader's own overwriting does
    for rel, _, regular in _walk(course.submitted_dir(student)):
        if not regular:
            problems.append(problem(student, "ignored file", f"{rel} is a link or not a file: the kernel did not get it"))
    digest = hashlib.sha256()
    dest.mkdir(parents=True, exist_ok=True)
    for rel in sorted(files):
        size = files[rel].stat().st_size
        if size > max_file_mb << 20 or total + size > max_total_mb << 20:
            problems.append(problem(student, "ignored file", f"{rel} is too large ({size >> 20} MB): the kernel did not get it"))
            continue
        total += size
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(files[rel], target)
        digest.update(rel.encode() + b"\0" + hashlib.sha256(target.read_bytes()).digest())
    for dirpath, dirnames, filenames in os.walk(dest):  # readable by the sandbox user, writable by nobody
        os.chmod(dirpath, 0o755)
        for name in filenames:
            os.chmod(os.path.join(dirpath, name), 0o644)
    return digest.hexdigest(), problems


def cell_problems(student: str, submitted: dict, info: SourceInfo, *, restored: bool = True) -> list:
    """Deleted or edited nbgrader cells, comparing the submission with the source."""
    found = []
    cells = {}
    for cell in submitted["cells"]:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if gid:
            cells.setdefault(gid, cell)
    for gid, src in info.cells:
        meta = src.get("metadata", {}).get("nbgrader", {})
        what = "test cell" if meta.get("grade") and not meta.get("solution") else \
            "answer cell" if meta.get("solution") else "locked cell"
        cell = cells.get(gid)
        if cell is None:
            if what == "test cell":
                how = ("nbgrader put the original back and graded it" if restored
                       else "nbgrader could not put it back: grade that question by hand")
                found.append(problem(student, "deleted test cell", f"test cell {gid} was deleted; {how}"))
            elif what == "answer cell":
                found.append(problem(student, "deleted answer cell", f"answer cell {gid} was deleted; that question cannot score"))
            else:
                found.append(problem(student, "deleted locked cell", f"locked cell {gid} was deleted"))
            continue
        text = cell.get("source", "").rstrip("\n")
        if meta.get("locked") and (text not in (strip_hidden_tests(src["source"]), src["source"].rstrip("\n"))
                                   or cell.get("cell_type") != src["cell_type"]):
            found.append(problem(student, f"edited {what}", f"{what} {gid} differs from the released one; nbgrader's "
                                 "checksum check replaced it with the original before grading"))
    return found


def run_problems(student: str, plan, result, cells: list) -> list:
    """Errors, syntax errors, timeouts and stops in a notebook run (failed tests are wrong answers, not problems)."""
    found = [problem(student, kind, detail) for kind, detail in result.events]
    for step in plan.steps:
        run = result.cells.get(step.index)
        meta = cells[step.index].get("metadata", {}).get("nbgrader", {})
        if step.kind != "code" or run is None or run.status != "error" or (meta.get("grade") and not meta.get("solution")):
            continue  # a failed test is a wrong answer, not a problem
        errors = [o for o in cells[step.index].get("outputs", []) if o.get("output_type") == "error"]
        if not errors:
            continue
        where = step.grade_id or f"cell {step.index + 1}"
        ename, evalue = errors[0].get("ename", ""), errors[0].get("evalue", "")
        if ename in ("SyntaxError", "IndentationError"):
            found.append(problem(student, "syntax error", f"{where}: {evalue}"))
        else:
            found.append(problem(student, "error", f"{where} raised {ename}: {evalue[:120]}"))
    return found
