"""The instructor's grading workflow for the module test: release, collect, autograde, feedback, export.

Every step runs real nbgrader in the course folder (the one holding nbgrader_config.py).
One broken or tampered submission never stops the others: each student is graded on
their own, and every problem found on the way is recorded in grading/problems.json and
listed per student in grading/report.txt and the problems column of the exported CSV.

    python -m ossllm_helpers grade release
    python -m ossllm_helpers grade collect [--from FOLDER] [--roster FILE]
    python -m ossllm_helpers grade autograde [--timeout S] [--jobs 2]
    python -m ossllm_helpers grade feedback
    python -m ossllm_helpers grade export [--csv grades.csv]
    python -m ossllm_helpers grade all [--from FOLDER] [--roster FILE] ...
"""

import argparse
import ast
import csv
import datetime as dt
import html
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import GradingError, OssllmError
from .selfcheck import classify

try:  # nbconvert comes with nbgrader, which only the instructor's machine needs
    from nbconvert.preprocessors import Preprocessor as _Preprocessor
except ImportError:  # pragma: no cover
    _Preprocessor = object

__all__ = [
    "ASSIGNMENT", "PASS_PERCENT", "GradingError", "Course", "HideAnswers", "strip_hidden_tests",
    "release", "collect", "import_folder", "autograde", "merge_gradebook", "inspect_submission",
    "feedback", "find_leaks", "export", "run_all", "main",
]

ASSIGNMENT = "module_test"
PASS_PERCENT = 80
STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$")
_HIDDEN = re.compile(r"^[ \t]*#+[ \t]*BEGIN HIDDEN TESTS.*?^[ \t]*#+[ \t]*END HIDDEN TESTS[^\n]*\n?", re.S | re.M)
_SOLUTION = re.compile(r"### BEGIN SOLUTION\n(.*?)\n### END SOLUTION", re.S)
_TIMEOUT_ERRORS = {"CellTimeoutError", "KeyboardInterrupt", "DeadKernelError"}


# --------------------------------------------------------------------------- course folder


@dataclass
class Course:
    """A course folder: nbgrader_config.py, source/<assignment>/, and nbgrader's working folders."""

    root: Path
    assignment: str = ASSIGNMENT

    def __post_init__(self):
        self.root = Path(self.root).resolve()
        if not (self.root / "nbgrader_config.py").is_file():
            raise GradingError(f"{self.root} has no nbgrader_config.py: run this from the course folder or pass --course.")
        if not (self.root / "source" / self.assignment).is_dir():
            raise GradingError(f"{self.root}/source/{self.assignment} is missing: the course folder needs the source.")

    @property
    def notebook(self) -> str:
        """The assignment's notebook name, without .ipynb (module_test)."""
        names = sorted(p.stem for p in (self.root / "source" / self.assignment).glob("*.ipynb"))
        if len(names) != 1:
            raise GradingError(f"source/{self.assignment} should hold exactly one notebook, found {names}.")
        return names[0]

    @property
    def state(self) -> Path:
        path = self.root / "grading"
        path.mkdir(exist_ok=True)
        return path

    def submitted(self, student: str) -> Path:
        return self.root / "submitted" / student / self.assignment / f"{self.notebook}.ipynb"

    def autograded(self, student: str) -> Path:
        return self.root / "autograded" / student / self.assignment / f"{self.notebook}.ipynb"

    def feedback_html(self, student: str) -> Path:
        return self.root / "feedback" / student / self.assignment / f"{self.notebook}.html"

    def students_submitted(self) -> list[str]:
        base = self.root / "submitted"
        if not base.is_dir():
            return []
        return sorted(p.name for p in base.iterdir() if (p / self.assignment).is_dir())

    def nbgrader(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run one nbgrader command in the course folder."""
        from .course import nbgrader_env

        cmd = [sys.executable, "-m", "nbgrader", *args]
        result = subprocess.run(cmd, cwd=self.root, capture_output=True, text=True, env=nbgrader_env())
        if check and result.returncode != 0:
            raise GradingError(f"nbgrader {' '.join(args)} failed (exit {result.returncode}):\n{_tail(result)}\n"
                               "Fix the cause shown above and run the step again.")
        return result


def _tail(result, lines=15) -> str:
    text = (result.stdout or "") + (result.stderr or "")
    return "\n".join(text.strip().splitlines()[-lines:])


def _coursedir(root: Path, argv=()):
    """nbgrader's own view of the course (config files loaded as its commands load them)."""
    from nbgrader.apps.baseapp import NbGrader

    cwd = os.getcwd()
    os.chdir(root)  # nbgrader also reads nbgrader_config.py from the working folder
    try:
        app = NbGrader()
        app.initialize(list(argv))
    finally:
        os.chdir(cwd)
    return app


class _Problems:
    """grading/problems.json: {step: [{student, kind, detail}, ...]}; each step rewrites its own entries."""

    def __init__(self, course: Course):
        self.path = course.state / "problems.json"

    def load(self) -> dict:
        if not self.path.is_file():
            return {}
        return json.loads(self.path.read_text())

    def replace(self, step: str, problems: list, students=None):
        data = self.load()
        keep = [] if students is None else [p for p in data.get(step, []) if p["student"] not in set(students)]
        data[step] = keep + problems
        self.path.write_text(json.dumps(data, indent=1))

    def by_student(self) -> dict:
        out = {}
        for step, items in self.load().items():
            for p in items:
                out.setdefault(p["student"], []).append({**p, "step": step})
        return out


def _problem(student, kind, detail):
    return {"student": student, "kind": kind, "detail": detail}


# --------------------------------------------------------------------------- release


def release(course: Course) -> Path:
    """nbgrader generate_assignment, then release_assignment to the exchange; returns release/<assignment>."""
    course.nbgrader("generate_assignment", course.assignment, "--force")
    course.nbgrader("release_assignment", course.assignment, "--force")
    print(f"released {course.assignment}: the student version is in release/{course.assignment}/ and in the "
          "exchange (students run `nbgrader fetch_assignment`, or hand out the release folder yourself)")
    return course.root / "release" / course.assignment


def _ensure_generated(course: Course):
    """Autograde needs the assignment (with its source cells) in the gradebook: generate it if missing."""
    from nbgrader.api import Gradebook, MissingEntry

    app = _coursedir(course.root)
    try:
        with Gradebook(app.coursedir.db_url, app.coursedir.course_id) as gb:
            gb.find_notebook(course.notebook, course.assignment)
            return
    except MissingEntry:
        pass
    course.nbgrader("generate_assignment", course.assignment, "--force")


# --------------------------------------------------------------------------- collect


def _read_roster(path) -> list[str]:
    text = Path(path).read_text()
    ids = []
    for row in csv.reader(text.splitlines()):
        if row and row[0].strip() and not row[0].startswith("#") and row[0].strip().lower() not in ("id", "student"):
            ids.append(row[0].strip())
    return ids


def import_folder(course: Course, folder) -> tuple[list[str], list[dict]]:
    """Copy ``<folder>/<student>.ipynb`` or ``<folder>/<student>/<notebook>.ipynb`` into submitted/.

    Returns the students imported and the problems found (bad ids, folders without the notebook, stray files).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise GradingError(f"{folder} is not a folder: pass the folder that holds the submitted notebooks.")
    wanted = f"{course.notebook}.ipynb"
    found, problems = {}, []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            student, nb = entry.name, entry / wanted
            if not nb.is_file():
                others = sorted(p.name for p in entry.iterdir() if not p.name.startswith("."))
                problems.append(_problem(student, "missing file",
                                         f"no {wanted} in {entry.name}/ (found: {', '.join(others) or 'nothing'})"))
                continue
        elif entry.suffix == ".ipynb":
            student, nb = entry.stem, entry
        else:
            problems.append(_problem(entry.name, "ignored file", f"{entry.name} is not a notebook; not imported"))
            continue
        if not STUDENT_ID.match(student):
            problems.append(_problem(student, "invalid student id",
                                     f"{entry.name}: use letters, digits, '.', '_', '-' or '@' as the student id"))
            continue
        if student in found:
            problems.append(_problem(student, "duplicate submission",
                                     f"both {found[student].name} and {entry.name}; used {nb.relative_to(folder)}"))
        found[student] = nb
    for student, nb in found.items():
        dest = course.submitted(student)
        if dest.parent.exists():
            shutil.rmtree(dest.parent)
        dest.parent.mkdir(parents=True)
        shutil.copyfile(nb, dest)
        stamp = dt.datetime.fromtimestamp(nb.stat().st_mtime, dt.timezone.utc)
        (dest.parent / "timestamp.txt").write_text(stamp.strftime("%Y-%m-%d %H:%M:%S.%f UTC"))
    return sorted(found), problems


def collect(course: Course, from_folder=None, roster=None) -> list[str]:
    """Bring submissions into submitted/: nbgrader collect from the exchange, or a folder of notebooks."""
    if from_folder:
        students, problems = import_folder(course, from_folder)
    else:
        course.nbgrader("collect", course.assignment, "--update")
        students, problems = course.students_submitted(), []
    if roster:
        have = set(course.students_submitted()) | {p["student"] for p in problems}
        problems += [_problem(s, "missing file", "no submission") for s in _read_roster(roster) if s not in have]
    _Problems(course).replace("collect", problems)
    print(f"collected {len(students)} submissions; {len(problems)} problems")
    return students


# --------------------------------------------------------------------------- autograde


def _precheck(course: Course, student: str) -> dict | None:
    """A problem that keeps nbgrader from grading this notebook at all, or None."""
    import nbformat

    path = course.submitted(student)
    if not path.is_file():
        return _problem(student, "missing file", f"no {path.name} in submitted/{student}/{course.assignment}/")
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:  # nbformat raises several kinds for a corrupt file
        return _problem(student, "invalid notebook", f"{path.name} is not a readable notebook: "
                        f"{type(exc).__name__}: {str(exc).splitlines()[0][:120] if str(exc) else ''}")
    if not nb.cells:
        return _problem(student, "empty notebook", f"{path.name} has no cells; nothing to grade")
    return None


def _worker(argv) -> int:
    """Grade some students with nbgrader's API in one process (one import of nbgrader, one kernel per student)."""
    p = argparse.ArgumentParser(prog="grading _worker")
    p.add_argument("--course", required=True)
    p.add_argument("--assignment", default=ASSIGNMENT)
    p.add_argument("--out", required=True)
    p.add_argument("--nbgrader-arg", action="append", default=[])
    p.add_argument("students", nargs="*")
    args = p.parse_args(argv)
    from nbgrader.apps import NbGraderAPI

    app = _coursedir(Path(args.course), args.nbgrader_arg)
    api = NbGraderAPI(coursedir=app.coursedir, parent=app)
    results = []
    for student in args.students:
        start = time.perf_counter()
        res = api.autograde(args.assignment, student, force=True, create=True)
        results.append({"student": student, "success": bool(res.get("success")), "seconds": time.perf_counter() - start,
                        "error": res.get("error") or "", "log": res.get("log") or ""})
        Path(args.out).write_text(json.dumps(results, indent=1))  # after each student: a crash loses nothing
    return 0


def _nbgrader_args(timeout, db_url=None, restore_missing=True) -> list[str]:
    # a deleted test cell is put back and graded; every output is in before the kernel stops, so a
    # graceful shutdown (about a second each) buys nothing
    args = [f"--OverwriteCells.add_missing_cells={restore_missing}", "--Execute.shutdown_kernel=immediate"]
    if timeout:
        args += [f"--Execute.timeout={int(timeout)}", f"--ExecutePreprocessor.timeout={int(timeout)}"]
    if db_url:
        args.append(f"--CourseDirectory.db_url={db_url}")
    return args


def _spawn_worker(course, students, out, nbgrader_args):
    from .course import nbgrader_env

    cmd = [sys.executable, "-m", "ossllm_helpers.instructor", "_worker", "--course", str(course.root),
           "--assignment", course.assignment, "--out", str(out)]
    cmd += [f"--nbgrader-arg={a}" for a in nbgrader_args] + ["--", *students]
    return subprocess.Popen(cmd, cwd=course.root, env=nbgrader_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def _run_workers(course, shards, nbgrader_args_for) -> dict:
    """Run one worker per shard at once; return {student: result} for the students they got through."""
    procs = []
    for k, students in enumerate(shards):
        out = course.state / f"worker{k}.json"
        out.unlink(missing_ok=True)
        procs.append((_spawn_worker(course, students, out, nbgrader_args_for(k)), out, students))
    results = {}
    for proc, out, students in procs:
        output, _ = proc.communicate()
        if out.is_file():
            results.update({r["student"]: r for r in json.loads(out.read_text())})
        if proc.returncode != 0:
            log = course.state / f"{out.stem}.log"
            log.write_text(output or "")
            last = [ln for ln in (output or "").splitlines() if ln.strip()][-1:] or ["no output"]
            print(f"autograde: a grading process stopped (exit {proc.returncode}): {last[0][:200]}; see {log}")
            for s in students:
                results.setdefault(s, {"student": s, "success": False,
                                       "error": f"the grading process stopped: {last[0][:200]}"})
    return results


def merge_gradebook(src_url: str, dst_url: str, course_id: str, assignment: str, students) -> None:
    """Copy these students' submissions (scores, comments, flags) from one gradebook into another."""
    from nbgrader.api import Gradebook

    with Gradebook(src_url, course_id) as src, Gradebook(dst_url, course_id) as dst:
        for sid in students:
            sub = src.find_submission(assignment, sid)
            st = sub.student
            dst.update_or_create_student(sid, first_name=st.first_name, last_name=st.last_name, email=st.email,
                                         lms_user_id=st.lms_user_id)
            dst.update_or_create_submission(assignment, sid, timestamp=sub.timestamp, extension=sub.extension)
            for nb in sub.notebooks:
                dnb = dst.find_submission_notebook(nb.name, assignment, sid)
                dnb.flagged = nb.flagged
                dnb.late_submission_penalty = nb.late_submission_penalty
                for g in nb.grades:
                    dg = dst.find_grade(g.name, nb.name, assignment, sid)
                    dg.auto_score, dg.manual_score = g.auto_score, g.manual_score
                    dg.extra_credit, dg.needs_manual_grade = g.extra_credit, g.needs_manual_grade
                for c in nb.comments:
                    dc = dst.find_comment(c.name, nb.name, assignment, sid)
                    dc.auto_comment, dc.manual_comment = c.auto_comment, c.manual_comment
            dst.db.commit()


def _sqlite_path(db_url: str) -> Path | None:
    return Path(db_url.removeprefix("sqlite:///")) if db_url.startswith("sqlite:///") else None


def autograde(course: Course, students=None, *, timeout=None, jobs=1) -> dict:
    """Autograde every submission (or ``students``), each on its own; returns {student: result}.

    With ``jobs=2`` two nbgrader processes grade disjoint halves of the class into their own copies
    of the gradebook, merged into the course gradebook afterwards. Anything that failed is graded
    again on its own before being reported.
    """
    from nbgrader.api import Gradebook

    _ensure_generated(course)
    app = _coursedir(course.root)
    db_url, course_id = app.coursedir.db_url, app.coursedir.course_id
    students = sorted(students or course.students_submitted())
    problems, gradable = [], []
    for s in students:
        issue = _precheck(course, s)
        (problems.append(issue) if issue else gradable.append(s))
    jobs = max(1, min(int(jobs), len(gradable) or 1))
    if jobs > 1 and _sqlite_path(db_url) is None:
        print("autograde: the gradebook is not a SQLite file; grading one student at a time")
        jobs = 1
    started = time.perf_counter()
    if jobs == 1:
        results = _run_workers(course, [gradable], lambda k: _nbgrader_args(timeout))
    else:
        shards = [gradable[k::jobs] for k in range(jobs)]
        shard_urls = []
        for k in range(jobs):
            shard_db = course.state / f"shard{k}.db"
            shutil.copyfile(_sqlite_path(db_url), shard_db)
            shard_urls.append(f"sqlite:///{shard_db}")
        results = _run_workers(course, shards, lambda k: _nbgrader_args(timeout, shard_urls[k]))
        for k, shard in enumerate(shards):
            ok = [s for s in shard if results.get(s, {}).get("success")]
            merge_gradebook(shard_urls[k], db_url, course_id, course.assignment, ok)
            _sqlite_path(shard_urls[k]).unlink()
    # A failure may be the process's (a crash, a kernel port clash): grade once more, alone, on the course
    # gradebook. What still fails is graded without putting deleted cells back (nbgrader's restoring fails
    # when a test cell's neighbour is gone too): the other questions count, the lost test needs a hand grade.
    first_failure = {}
    for restore in (True, False):
        retry = [s for s in gradable if not results.get(s, {}).get("success")]
        if not retry:
            break
        for s in retry:
            first_failure.setdefault(s, _cause(results.get(s, {})))
        results.update(_run_workers(course, [retry], lambda k: _nbgrader_args(timeout, restore_missing=restore)))
        if not restore:
            for s in retry:
                results.get(s, {})["restored"] = False
    elapsed = time.perf_counter() - started

    source = _source_cells(db_url, course_id, course)
    with Gradebook(db_url, course_id) as gb:
        for s in gradable:
            res = results.get(s) or {"success": False, "error": "the grading process stopped before this student"}
            if not res["success"]:
                problems.append(_problem(s, "not graded", f"nbgrader autograde failed: {_cause(res)}"))
            elif s in first_failure:
                problems.append(_problem(s, "graded on a second try", f"the first attempt failed ({first_failure[s]})"
                                         + ("; graded without putting deleted cells back"
                                            if res.get("restored") is False else "")))
            problems += inspect_submission(course, s, source, timeout=timeout or _config_timeout(app),
                                           graded=res["success"] and res.get("restored", True))
            try:
                sub = gb.find_submission(course.assignment, s)
                manual = [g.name for nb in sub.notebooks for g in nb.grades if g.needs_manual_grade]
                if manual and res["success"]:
                    problems.append(_problem(s, "needs manual grade", f"cells without an automatic score: {', '.join(manual)}"))
            except Exception:
                pass
    _Problems(course).replace("autograde", problems, students)
    print(f"autograded {sum(1 for s in gradable if results.get(s, {}).get('success'))} of {len(students)} "
          f"submissions in {elapsed:.1f} s ({jobs} process{'es' if jobs > 1 else ''}); {len(problems)} problems")
    return {s: results.get(s, {"success": False}) for s in students}


def _cause(result) -> str:
    """The exception behind a failed autograde, from its log and traceback (nbgrader's own summary says little)."""
    text = (result.get("log") or "") + "\n" + (result.get("error") or "")
    causes = [m.group(1) for m in re.finditer(r"^\s*(?:\[ERROR\] )?([A-Za-z_][\w.]*(?:Error|Exception)\b.*)$", text, re.M)
              if "NbGraderException" not in m.group(0)]
    last = causes[-1] if causes else ([ln for ln in text.splitlines() if ln.strip()] or ["unknown error"])[-1]
    return last.removeprefix("[ERROR] ").strip()[:200]


def _config_timeout(app):
    return app.config.get("Execute", {}).get("timeout") or app.config.get("ExecutePreprocessor", {}).get("timeout")


# --------------------------------------------------------------------------- inspecting one submission


def strip_hidden_tests(source: str) -> str:
    """A test cell's source as students see it: the hidden-test region removed."""
    return _HIDDEN.sub("", source).rstrip("\n")


@dataclass
class _SourceCell:
    name: str
    cell_type: str
    locked: bool
    grade: bool
    solution: bool
    source: str


def _source_cells(db_url, course_id, course) -> dict:
    """The source notebook's nbgrader cells, from the gradebook, by grade_id."""
    from nbgrader.api import Gradebook

    with Gradebook(db_url, course_id) as gb:
        nb = gb.find_notebook(course.notebook, course.assignment)
        grades = {c.name for c in nb.grade_cells}
        solutions = {c.name for c in nb.solution_cells}
        return {c.name: _SourceCell(c.name, c.cell_type, c.locked, c.name in grades, c.name in solutions, c.source)
                for c in nb.source_cells}


def _answer_kinds(course: Course) -> dict:
    """{answer cell id: "letter" or "number"}, from the type of each solution in the source notebook."""
    import nbformat

    nb = nbformat.read(course.root / "source" / course.assignment / f"{course.notebook}.ipynb", as_version=4)
    kinds = {}
    for cell in nb.cells:
        m = _SOLUTION.search(cell.source) if cell.cell_type == "code" else None
        if not m:
            continue
        try:
            value = ast.literal_eval(m.group(1).partition("=")[2].strip())
        except (ValueError, SyntaxError):
            continue  # a solution that is code, not a value: nothing to check statically
        kinds[cell.metadata.get("nbgrader", {}).get("grade_id")] = "letter" if isinstance(value, str) else "number"
    return kinds


def _static_value(src: str, name: str):
    """The value last assigned to ``name`` in a cell, when it is a constant (or arithmetic on constants)."""
    tree = ast.parse(src)
    value = None
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            value = node.value
    if value is None:
        raise ValueError("no assignment")
    return _safe_eval(value)


def _safe_eval(node):
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        v = _safe_eval(node.operand)
        return -v if isinstance(node.op, ast.USub) else +v
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div)):
        a, b = _safe_eval(node.left), _safe_eval(node.right)
        return {ast.Add: lambda: a + b, ast.Sub: lambda: a - b, ast.Mult: lambda: a * b,
                ast.Div: lambda: a / b}[type(node.op)]()
    if isinstance(node, (ast.List, ast.Tuple, ast.Dict, ast.Set)):
        return ast.literal_eval(node)
    raise ValueError("not a constant")


def inspect_submission(course: Course, student: str, source: dict, *, timeout=None, graded=True) -> list[dict]:
    """Problems in one graded submission: tampered or deleted cells, timeouts, errors, malformed answers."""
    import nbformat

    problems = []
    try:
        submitted = nbformat.read(course.submitted(student), as_version=4)
    except Exception:
        return problems  # reported by the precheck
    kinds, unanswered = _answer_kinds(course), []
    cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in submitted.cells}
    for name, sc in source.items():
        cell = cells.get(name)
        what = "test cell" if sc.grade and not sc.solution else "answer cell" if sc.solution else "locked cell"
        if cell is None:
            restored = ("nbgrader put the original back and graded it" if graded
                        else "nbgrader could not put it back: grade that question by hand")
            detail = {"test cell": f"test cell {name} was deleted; {restored}",
                      "answer cell": f"answer cell {name} was deleted; that question cannot score"}.get(
                what, f"locked cell {name} was deleted")
            problems.append(_problem(student, f"deleted {what}", detail))
            continue
        # the released text, or the source's own (an instructor's check with the source notebook), is untouched
        text = cell.source.rstrip("\n")
        if sc.locked and (text not in (strip_hidden_tests(sc.source), sc.source.rstrip("\n"))
                          or cell.cell_type != sc.cell_type):
            problems.append(_problem(student, f"edited {what}",
                                     f"{what} {name} differs from the released one; nbgrader's checksum check "
                                     f"replaced it with the original before grading"))
        if sc.solution:
            kind = kinds.get(name)
            qname = name.removesuffix("_answer")
            if kind:
                try:
                    value = _static_value(cell.source, qname)
                except SyntaxError:
                    value = None  # the executed cell reports the syntax error below
                except ValueError:
                    continue  # a computation: its value is only known when run
                verdict = classify(value, kind)
                if verdict == "unanswered":
                    unanswered.append(qname)
                elif verdict:
                    problems.append(_problem(student, "malformed answer", f"{qname}: {verdict.removeprefix('malformed: ')}"))
    if kinds and len(unanswered) == len(kinds):
        problems.append(_problem(student, "blank submission", "no question answered"))
    graded = course.autograded(student)
    if graded.is_file():
        nb = nbformat.read(graded, as_version=4)
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            gid = meta.get("grade_id", "an ungraded cell")
            errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
            if not errors:
                continue
            names = {o.get("ename") for o in errors}
            if names & _TIMEOUT_ERRORS:
                limit = f"the {timeout} s limit" if timeout else "the time limit"
                problems.append(_problem(student, "timeout", f"{gid} ran over {limit} and was interrupted "
                                         "(an infinite loop?); grading went on with the next cell"))
            elif meta.get("grade") and not meta.get("solution"):
                continue  # a failed test is a wrong answer, not a problem
            elif "SyntaxError" in names or "IndentationError" in names:
                problems.append(_problem(student, "syntax error", f"{gid}: {errors[0].get('evalue', '')}"))
            else:
                e = errors[0]
                problems.append(_problem(student, "error", f"{gid} raised {e.get('ename')}: {str(e.get('evalue'))[:120]}"))
    return problems


# --------------------------------------------------------------------------- feedback


class HideAnswers(_Preprocessor):
    """Feedback preprocessor: test cells lose their hidden tests and their outputs (tracebacks quote the test).

    What remains of a test cell is its one-line docstring and, if it failed, a note: the student
    sees the score per question, never the test or the expected answer.
    """

    enabled = True  # nbgrader registers its preprocessors without enabling them; nbconvert skips disabled ones

    def preprocess_cell(self, cell, resources, index):
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and "BEGIN HIDDEN TESTS" in cell.source:
            cell.source = strip_hidden_tests(cell.source)
        if cell.cell_type == "code" and meta.get("grade") and not meta.get("solution"):
            failed = any(o.get("output_type") == "error" for o in cell.get("outputs", []))
            note = "Not passed: this question scored 0. (The test is not shown.)\n"
            cell.outputs = [{"output_type": "stream", "name": "stdout", "text": note}] if failed else []
        return cell, resources


def _visible_text(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def find_leaks(page: str, source: dict) -> list[str]:
    """Hidden-test lines (each holds an answer) that appear in a feedback page; empty if none."""
    text = _visible_text(page)
    leaks = ["BEGIN HIDDEN TESTS"] if "BEGIN HIDDEN TESTS" in text else []
    for sc in source.values():
        for region in re.findall(r"BEGIN HIDDEN TESTS[^\n]*\n(.*?)\n[^\n]*END HIDDEN TESTS", sc.source, re.S):
            for line in region.splitlines():
                line = line.strip()
                if line and not line.startswith("#") and line not in ("import numbers",) and line in text:
                    leaks.append(f"{sc.name}: {line}")
    return leaks


def feedback(course: Course, students=None) -> list[Path]:
    """nbgrader generate_feedback (hidden tests and test tracebacks removed), checked for leaks, then released."""
    steps = ["nbgrader.preprocessors.GetGrades", "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
             "ossllm_helpers.instructor.HideAnswers"]
    args = ["generate_feedback", course.assignment, "--force"] + [f"--GenerateFeedback.preprocessors={s}" for s in steps]
    result = course.nbgrader(*args, check=False)
    app = _coursedir(course.root)
    source = _source_cells(app.coursedir.db_url, app.coursedir.course_id, course)
    students = sorted(students or course.students_submitted())
    pages, problems = [], []
    for s in students:
        page = course.feedback_html(s)
        if not page.is_file():
            if course.autograded(s).is_file():
                problems.append(_problem(s, "no feedback", f"nbgrader generate_feedback made no page: {_tail(result, 2)}"))
            continue
        leaks = find_leaks(page.read_text(errors="replace"), source)
        if leaks:
            page.unlink()  # never hand out a page that shows an answer
            problems.append(_problem(s, "feedback withheld", f"the page showed hidden tests ({leaks[0]}); deleted"))
            continue
        pages.append(page)
    _Problems(course).replace("feedback", problems, students)
    if any(p["kind"] == "feedback withheld" for p in problems):
        raise GradingError("feedback pages showed hidden tests and were deleted: check GenerateFeedback.preprocessors "
                           "in nbgrader_config.py (HideAnswers must run) and run the step again.")
    # release_feedback needs the secret that `nbgrader submit` leaves; notebooks imported from a folder have none
    via_exchange = [p.parent.parts[-2] for p in pages if (p.parent / "submission_secret.txt").is_file()]
    if via_exchange and len(via_exchange) == len(pages):
        course.nbgrader("release_feedback", course.assignment)
    else:
        for s in via_exchange:
            course.nbgrader("release_feedback", course.assignment, "--student", s)
    print(f"feedback: {len(pages)} pages in feedback/<student>/{course.assignment}/, none showing a hidden test; "
          f"{len(via_exchange)} released to the exchange, {len(pages) - len(via_exchange)} to hand out yourself")
    return pages


# --------------------------------------------------------------------------- export


def export(course: Course, csv_path=None, roster=None) -> list[dict]:
    """Write grades.csv (student, score, max, percent, passed, problems) and grading/report.txt."""
    from nbgrader.api import Gradebook, MissingEntry

    app = _coursedir(course.root)
    by_student = _Problems(course).by_student()
    rows = {}
    with Gradebook(app.coursedir.db_url, app.coursedir.course_id) as gb:
        try:
            assignment = gb.find_assignment(course.assignment)
        except MissingEntry:
            raise GradingError(f"the gradebook has no {course.assignment}: run the release and autograde steps first.")
        max_score = float(assignment.max_score)
        for sub in gb.assignment_submissions(course.assignment):
            rows[sub.student.id] = float(sub.score)
    everyone = set(rows) | set(by_student) | set(course.students_submitted())
    if roster:
        everyone |= set(_read_roster(roster))
    out = []
    for s in sorted(everyone):
        graded = s in rows and not any(p["kind"] in ("not graded",) for p in by_student.get(s, []))
        score = rows.get(s, 0.0) if graded else 0.0
        percent = 100.0 * score / max_score if max_score else 0.0
        problems = [f"{p['kind']}: {p['detail']}" for p in by_student.get(s, [])]
        if s not in rows and not problems:
            problems = ["not graded: run the autograde step"]
        out.append({"student": s, "score": round(score, 2), "max": round(max_score, 2), "percent": round(percent, 1),
                    "passed": "yes" if percent >= PASS_PERCENT else "no", "problems": " | ".join(problems)})
    csv_path = Path(csv_path) if csv_path else course.root / "grades.csv"
    with open(csv_path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["student", "score", "max", "percent", "passed", "problems"])
        writer.writeheader()
        writer.writerows(out)
    report = _report_text(course, out, by_student, max_score)
    (course.state / "report.txt").write_text(report)
    print(report)
    print(f"grades: {csv_path}")
    return out


def _report_text(course, rows, by_student, max_score) -> str:
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    passed = sum(r["passed"] == "yes" for r in rows)
    lines = [f"Grading report: {course.assignment}, {now}",
             f"{len(rows)} students, {passed} passed (pass mark {PASS_PERCENT}% = {max_score * PASS_PERCENT / 100:g} "
             f"of {max_score:g} points); {sum(1 for r in rows if r['problems'])} with problems", ""]
    for r in rows:
        lines.append(f"{r['student']:<24} {r['score']:>6g}/{r['max']:g}  {r['percent']:5.1f}%  "
                     f"{'pass' if r['passed'] == 'yes' else 'FAIL'}")
        for p in by_student.get(r["student"], []):
            lines.append(f"    - [{p['step']}] {p['kind']}: {p['detail']}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- the whole run and the CLI


def run_all(course: Course, *, from_folder=None, roster=None, timeout=None, jobs=1, csv_path=None) -> list[dict]:
    """collect, autograde, feedback, export (release happens before the students work)."""
    collect(course, from_folder, roster)
    autograde(course, timeout=timeout, jobs=jobs)
    feedback(course)
    return export(course, csv_path, roster)


def main(argv=None) -> int:
    """``python -m ossllm_helpers grade <step>``; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["_worker"]:
        return _worker(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m ossllm_helpers grade", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", choices=["release", "collect", "autograde", "feedback", "export", "all"])
    parser.add_argument("--course", help="course folder (default: the one holding nbgrader_config.py)")
    parser.add_argument("--assignment", default=ASSIGNMENT)
    parser.add_argument("--from", dest="from_folder", help="collect: a folder of <student>.ipynb or <student>/<nb>.ipynb")
    parser.add_argument("--roster", help="file with one student id a line: absent students are reported")
    parser.add_argument("--timeout", type=int, help="autograde: seconds a cell may run (default: nbgrader_config.py)")
    parser.add_argument("--jobs", type=int, default=1, help="autograde: grading processes at once (2 on 2 cores)")
    parser.add_argument("--student", action="append", help="autograde/feedback: only these students")
    parser.add_argument("--csv", help="export: where to write the grades (default: grades.csv in the course)")
    if argv in ([], ["help"]):
        parser.print_help()  # `./course grade help`: the outer command line keeps --help for itself
        return 0
    args = parser.parse_args(argv)
    try:
        if args.course:
            root = args.course
        else:
            from .course import course_root

            root = course_root()
    except FileNotFoundError as exc:
        raise GradingError(str(exc)) from None
    course = Course(root, args.assignment)
    if args.step == "release":
        release(course)
    elif args.step == "collect":
        collect(course, args.from_folder, args.roster)
    elif args.step == "autograde":
        autograde(course, args.student, timeout=args.timeout, jobs=args.jobs)
    elif args.step == "feedback":
        feedback(course, args.student)
    elif args.step == "export":
        export(course, args.csv, args.roster)
    else:
        run_all(course, from_folder=args.from_folder, roster=args.roster, timeout=args.timeout, jobs=args.jobs,
                csv_path=args.csv)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except OssllmError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
