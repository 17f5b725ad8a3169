"""The autograde step: each submission runs in a sandbox, is scored outside it, and nbgrader saves the grades.

nbgrader's own autograde converter does everything but execute: ``NbGraderAPI.autograde``
sanitises each notebook (locked cells and hidden tests restored from its gradebook), then
``steps.SandboxExecute``, in place of nbgrader's ``Execute``, calls ``Grading.execute`` for
the outputs, and nbgrader's ``SaveAutoGrades`` writes the scores into the gradebook, as it
always does: formgrader, feedback and export work unchanged, and every score comes from the
source notebook's points. Kernels do not wait for nbgrader: each submission's plan is forecast
from the files and run while nbgrader loads and saves; nbgrader's real plan must match
the forecast's fingerprint, or the notebook runs again from nbgrader's version.
"""

import json
import os
import time
from pathlib import Path

from ..errors import GradingError
from .checks import cell_problems, precheck, run_problems, stage_files
from .nbapi import cause_of, ensure_generated, manual_grades, nbgrader_api
from .paths import Course, Problems, load_notebook, problem
from .plan import analyse_source, build_plan, predict
from .pool import Runner
from .sandbox import Limits, Sandbox
from .scoring import MISSING, NotPlain, answer_problems, apply_run

__all__ = ["ACTIVE", "Grading", "autograde", "default_limits", "save_answers"]

ACTIVE = []  # the Grading that steps.SandboxExecute serves (one autograde step at a time per process)


def default_limits(course: Course, **override) -> Limits:
    """The course's limits: a cell's time from nbgrader_config.py (Execute.timeout), the rest Limits' defaults."""
    cell = course.config_value("Execute", "timeout") or course.config_value("ExecutePreprocessor", "timeout")
    values = {"cell_seconds": float(cell)} if cell else {}
    values.update({k: v for k, v in override.items() if v is not None})
    return Limits(**values)


class Grading:
    """One autograde run: the sandbox, the runner, and what each student's run found."""

    def __init__(self, course: Course, sandbox: Sandbox, limits: Limits, jobs: int):
        self.course, self.sandbox, self.limits = course, sandbox, limits
        self.info = {nb: analyse_source(load_notebook(course.source_notebook(nb))) for nb in course.notebooks}
        self.runner = Runner(sandbox, limits, jobs)
        self.stages = {}  # student: (folder, digest, problems)
        self.found = {}  # student: [problem, ...] from running and scoring
        self.answers = {}  # student: {notebook: {answer: value}}, as the hidden tests saw them

    def stage(self, student: str):
        if student not in self.stages:
            dest = Path(self.runner.tmp) / "stage" / student
            digest, problems = stage_files(self.course, student, dest, max_file_mb=self.limits.file_mb,
                                           max_total_mb=self.limits.disk_mb // 2)
            self.stages[student] = (str(dest), digest, problems)
        return self.stages[student]

    def _extra(self, digest: str) -> str:
        return f"{digest}|{sorted(self.limits.as_dict().items())}"

    def forecast(self, student: str, notebooks: dict, restore_missing: bool) -> None:
        """Start running this student's notebooks as nbgrader is expected to sanitise them."""
        folder, digest, _ = self.stage(student)
        for name, nb in notebooks.items():
            cells = predict(nb, self.info[name], restore_missing=restore_missing)
            if cells is not None:
                self.runner.submit((student, name), build_plan(name, cells, self.info[name], self._extra(digest)), folder)

    def execute(self, nb, resources):
        import nbformat

        student, name = resources["nbgrader"]["student"], resources["nbgrader"]["notebook"]
        info = self.info.get(name)
        if info is None:
            raise GradingError(f"{name} is not a notebook of source/{self.course.assignment}")
        folder, digest, _ = self.stage(student)
        plan = build_plan(name, nb.cells, info, self._extra(digest))
        result = self.runner.result((student, name), plan, folder)
        if result.infrastructure:
            raise GradingError(f"the sandbox could not run this notebook: {result.infrastructure}")
        answers, notes = apply_run(nb.cells, plan, result)
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs = nbformat.from_dict(cell.get("outputs", []))
        found = self.found.setdefault(student, [])
        found += run_problems(student, plan, result, nb.cells)
        found += _fewer(student, notes + answer_problems(answers, info.answers))
        self.answers.setdefault(student, {})[name] = {k: _plain(v) for k, v in answers.items() if v is not MISSING}
        return nb, resources


def _fewer(student: str, found: list, keep: int = 4) -> list:
    """Problems as report lines, at most ``keep`` of one kind (the rest counted in one more line)."""
    out, seen = [], {}
    for kind, detail in found:
        seen[kind] = seen.get(kind, 0) + 1
        if seen[kind] <= keep:
            out.append(problem(student, kind, detail))
    out += [problem(student, kind, f"and {n - keep} more like these") for kind, n in seen.items() if n > keep]
    return out


def _plain(value):
    """An answer as JSON can hold it (for grading/answers.json): the value, or a description of it."""
    if isinstance(value, NotPlain):
        return {"not a plain value": value.what}
    try:
        json.dumps(value, allow_nan=True)
        return value
    except (TypeError, ValueError):
        return {"value": repr(value)[:200]}


def save_answers(course: Course, answers: dict, students) -> None:
    """grading/answers.json: {student: {notebook: {answer: value}}}, each run replacing its students' entries.

    The answers as graded (what each data test read), for an item analysis; it holds students' answers,
    never the key. A student of this run who was not graded has no entry.
    """
    path = course.state / "answers.json"
    data = json.loads(path.read_text()) if path.is_file() else {}
    data = {s: v for s, v in data.items() if s not in set(students)}
    data.update(answers)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    tmp.replace(path)


def autograde(course: Course, students=None, *, limits: Limits | None = None, jobs: int | None = None,
              unsafe: bool = False) -> dict:
    """Grade every submission (or ``students``) in the sandbox; returns {student: "graded" or the reason not}."""
    started = time.perf_counter()
    limits = limits or default_limits(course)
    # beyond four kernels at once nbgrader's converter, one submission after another, is the bottleneck
    jobs = max(1, int(jobs or min(4, os.cpu_count() or 1)))
    sandbox = Sandbox.detect(course.root, unsafe=unsafe, slots=2 * jobs)
    students = sorted(students or course.students_submitted())
    problems, gradable = [], {}
    for s in students:
        issue, notebooks = precheck(course, s)
        if issue:
            problems.append(issue)
        else:
            gradable[s] = notebooks
    grading = Grading(course, sandbox, limits, jobs)
    outcome = {s: "not graded" for s in students}
    graded_answers = {}
    try:
        for s, notebooks in gradable.items():  # kernels start now, while nbgrader loads
            grading.forecast(s, notebooks, restore_missing=True)
        api = nbgrader_api(course)
        ensure_generated(course, api)
        retry_api = None
        ACTIVE.append(grading)
        for s, notebooks in gradable.items():
            result = api.autograde(course.assignment, s, force=True, create=True)
            restored = True
            if not result.get("success"):
                # nbgrader cannot put back a deleted test cell whose neighbour is gone too: grade the rest,
                # leave that question for a hand grade
                first = cause_of(result)
                grading.found.pop(s, None)
                retry_api = retry_api or nbgrader_api(course, restore_missing=False)
                result, restored = retry_api.autograde(course.assignment, s, force=True, create=True), False
                if result.get("success"):
                    problems.append(problem(s, "graded on a second try", f"the first attempt failed ({first}); "
                                            "graded without putting deleted cells back"))
            if not result.get("success"):
                problems.append(problem(s, "not graded", f"nbgrader autograde failed: {cause_of(result)}"))
                grading.found.pop(s, None)
                continue
            outcome[s] = "graded"
            graded_answers[s] = grading.answers.pop(s, {})
            problems += grading.found.pop(s, [])
            problems += grading.stage(s)[2]
            for name, nb in notebooks.items():
                problems += cell_problems(s, nb, grading.info[name], restored=restored)
            manual = manual_grades(api, course, s)
            if manual:
                problems.append(problem(s, "needs manual grade", f"cells without an automatic score: {', '.join(manual)}"))
            if sandbox.unsafe:
                problems.append(problem(s, "unsafe", f"graded without a sandbox (--unsafe): {sandbox.reason}"))
    finally:
        if grading in ACTIVE:
            ACTIVE.remove(grading)
        grading.runner.close()
    Problems(course).replace("autograde", problems, students)
    save_answers(course, graded_answers, students)
    graded = sum(v == "graded" for v in outcome.values())
    where = "without a sandbox (--unsafe)" if sandbox.unsafe else f"in a {sandbox.mode} sandbox"
    runs = ", ".join(f"{v} {k}" for k, v in sorted(grading.runner.stats.items()))
    print(f"autograded {graded} of {len(students)} submissions {where} in {time.perf_counter() - started:.1f} s "
          f"({jobs} at once; runs: {runs or 'none'}; kernels' CPU {grading.runner.kernel_cpu:.1f} s, grader's "
          f"{time.process_time():.1f} s); {len(problems)} problems")
    return outcome
