"""The export step: grades.csv and grading/report.txt, from nbgrader's gradebook and the problems found.

Scores and maximum scores come from the gradebook (nbgrader sums the source notebook's
points). A student who was not graded shows as "not graded" with the reason, never as 0
and "no". Every line quoting a student's text is escaped to one line; a CSV cell that a
spreadsheet would read as a formula is quoted.
"""

import csv
import datetime as dt
from pathlib import Path

from ..errors import GradingError
from .collect import read_roster
from .nbapi import gradebook, nbgrader_api
from .paths import PASS_PERCENT, Course, Problems, one_line

__all__ = ["FIELDS", "csv_cell", "export", "question_scores"]

FIELDS = ["student", "score", "max", "percent", "passed", "problems"]


def csv_cell(text: str) -> str:
    """A CSV cell a spreadsheet reads as text: one that would start a formula gets a leading quote."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def question_scores(course: Course, api=None) -> tuple[dict, dict]:
    """({student: {grade_id: score}}, {grade_id: max score}) from the gradebook: per-question results.

    A cell still waiting for a hand grade (no automatic score, no manual one) scores None.
    """
    from nbgrader.api import MissingEntry

    api = api or nbgrader_api(course, sandboxed=False)
    scores, maxima = {}, {}
    with gradebook(api) as gb:
        try:
            assignment = gb.find_assignment(course.assignment)
        except MissingEntry:
            raise GradingError(f"the gradebook has no {course.assignment}: run the release and autograde steps "
                               "first.") from None
        for nb in assignment.notebooks:
            for cell in nb.grade_cells:
                maxima[cell.name] = float(cell.max_score)
        for sub in gb.assignment_submissions(course.assignment):
            scores[sub.student.id] = {g.name: None if g.score is None else float(g.score)
                                      for nb in sub.notebooks for g in nb.grades}
    return scores, maxima


def export(course: Course, csv_path=None, roster=None) -> list[dict]:
    """Write grades.csv (student, score, max, percent, passed, problems) and grading/report.txt."""
    from nbgrader.api import MissingEntry

    api = nbgrader_api(course, sandboxed=False)
    by_student = Problems(course).by_student()
    totals = {}
    with gradebook(api) as gb:
        try:
            max_score = float(gb.find_assignment(course.assignment).max_score)
        except MissingEntry:
            raise GradingError(f"the gradebook has no {course.assignment}: run the release and autograde steps "
                               "first.") from None
        for sub in gb.assignment_submissions(course.assignment):
            totals[sub.student.id] = float(sub.score)
    everyone = set(totals) | set(by_student) | set(course.students_submitted())
    if roster:
        everyone |= set(read_roster(roster))
    rows = []
    for s in sorted(everyone):
        found = by_student.get(s, [])
        not_graded = [p for p in found if p["kind"] == "not graded"]
        if s not in totals and not not_graded:
            not_graded = [{"kind": "not graded", "detail": "run the autograde step", "step": "export"}]
            found = found + not_graded
        problems = " | ".join(f"{p['kind']}: {p['detail']}" for p in found)
        if not_graded:
            rows.append({"student": s, "score": "", "max": round(max_score, 2), "percent": "", "passed": "not graded",
                         "problems": problems})
            continue
        percent = 100.0 * totals[s] / max_score if max_score else 0.0
        rows.append({"student": s, "score": round(totals[s], 2), "max": round(max_score, 2), "percent": round(percent, 1),
                     "passed": "yes" if percent >= PASS_PERCENT else "no", "problems": problems})
    csv_path = Path(csv_path) if csv_path else course.root / "grades.csv"
    with open(csv_path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows({k: csv_cell(str(v)) for k, v in r.items()} for r in rows)
    report = _report(course, rows, by_student, max_score)
    (course.state / "report.txt").write_text(report)
    print(report)
    print(f"grades: {csv_path}")
    return rows


def _report(course: Course, rows, by_student, max_score) -> str:
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    graded = [r for r in rows if r["passed"] != "not graded"]
    unsafe = {s for s, found in by_student.items() if any(p["kind"] == "unsafe" for p in found)}
    lines = [f"Grading report: {course.assignment}, {now}",
             f"{len(rows)} students: {len(graded)} graded, {sum(r['passed'] == 'yes' for r in graded)} passed "
             f"(pass mark {PASS_PERCENT}% = {max_score * PASS_PERCENT / 100:g} of {max_score:g} points), "
             f"{len(rows) - len(graded)} not graded; {sum(1 for r in rows if r['problems'])} with problems"]
    if unsafe:
        lines.append(f"WARNING: {len(unsafe)} graded WITHOUT a sandbox (--unsafe): their code ran with the grader's "
                     "rights; those lines are marked [no sandbox].")
    lines.append("")
    for r in rows:
        mark = "  [no sandbox]" if r["student"] in unsafe else ""
        if r["passed"] == "not graded":
            lines.append(f"{one_line(r['student'], 40):<24} {'not graded':>15}{mark}")
        else:
            lines.append(f"{one_line(r['student'], 40):<24} {r['score']:>6g}/{r['max']:g}  {r['percent']:5.1f}%  "
                         f"{'pass' if r['passed'] == 'yes' else 'FAIL'}{mark}")
        for p in by_student.get(r["student"], []):
            lines.append(f"    - [{p['step']}] {one_line(p['kind'], 40)}: {one_line(p['detail'])}")
        if r["student"] not in by_student and r["passed"] == "not graded":
            lines.append("    - [export] not graded: run the autograde step")
    return "\n".join(lines) + "\n"
