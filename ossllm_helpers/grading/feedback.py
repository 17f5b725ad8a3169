"""The feedback step: nbgrader's HTML pages per student, with no hidden test or expected value in them.

``HideAnswers`` runs in nbgrader's GenerateFeedback pipeline (``FEEDBACK_STEPS``): test cells
lose their hidden lines and their outputs (a failed test's traceback quotes it), and keep a
note of pass or fail. ``FeedbackExporter`` renders the page and refuses to hand back one that
still shows a hidden-test line. The course's ``nbgrader_config.py`` names both, so plain
``nbgrader generate_feedback``, formgrader's button and ``NbGraderAPI`` make the same pages as
this step. The step then scans each page written; a page that shows a hidden line is deleted
and reported for that student alone, and the others go out.
"""

import html
import os
import re

from nbconvert.exporters import HTMLExporter
from nbconvert.preprocessors import Preprocessor
from traitlets.config import Config

from ..errors import FeedbackLeakError
from .nbapi import cause_of, nbgrader_api
from .paths import Course, Problems, load_notebook, problem
from .plan import HIDDEN, strip_hidden_tests

__all__ = ["FEEDBACK_STEPS", "FEEDBACK_EXPORTER", "HideAnswers", "FeedbackExporter", "visible_text", "hidden_lines",
           "find_leaks", "feedback_config", "feedback"]

# nbgrader_config.py repeats these two settings as text (a test keeps them equal): the file is read by
# processes that must not import nbconvert, and by nbgrader itself, which imports these names only for feedback.
FEEDBACK_STEPS = ["nbgrader.preprocessors.GetGrades", "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
                  "ossllm_helpers.grading.feedback.HideAnswers"]
FEEDBACK_EXPORTER = "ossllm_helpers.grading.feedback.FeedbackExporter"
_TRIVIAL = re.compile(r"^(import [\w., ]+|from [\w.]+ import [\w., ]+|pass|#.*|[^A-Za-z0-9]*)$")


class HideAnswers(Preprocessor):
    """Feedback preprocessor: test cells lose their hidden tests and their outputs (tracebacks quote the test).

    What remains of a test cell is its visible part and a note: the student sees the score per
    question, never the test or the expected answer.
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


class FeedbackExporter(HTMLExporter):
    """nbgrader's feedback page, checked: HideAnswers always runs, and a page showing a hidden-test line is refused.

    Named in ``nbgrader_config.py`` (``GenerateFeedback.exporter_class``), so every way of making
    feedback uses it. The hidden lines come from the assignment's source notebook and from the
    locked test cells nbgrader restored into the graded notebook. A refused page raises
    ``FeedbackLeakError``: nbgrader writes nothing for that student, logs the error and goes on
    with the next.
    """

    def from_notebook_node(self, nb, resources=None, **kw):
        if not any(isinstance(p, HideAnswers) for p in self._preprocessors):
            self.register_preprocessor(HideAnswers(parent=self), enabled=True)  # a config that dropped it
        lines = self._hidden_lines(nb, resources or {})
        output, resources = super().from_notebook_node(nb, resources, **kw)
        leaks = find_leaks(output, lines)
        if leaks:
            info = (resources or {}).get("nbgrader", {})
            raise FeedbackLeakError(f"the feedback page of {info.get('student', '?')} would show a hidden test "
                                    f"({leaks[0]}); not written (the other students' pages are). Look for what "
                                    "quotes it in that student's notebook in autograded/, and give that student "
                                    "feedback by hand.",
                                    student=info.get("student"), notebook=info.get("notebook"), leaks=leaks)
        return output, resources

    def _hidden_lines(self, nb, resources) -> list:
        # hidden regions of locked cells only (nbgrader restored them from the gradebook); a student's own cells
        # count as visible text, so a line the student wrote is never taken for a leak
        graded = {"cells": [c if c.get("metadata", {}).get("nbgrader", {}).get("locked") else
                            {**c, "source": strip_hidden_tests(c.get("source", ""))} for c in nb.cells]}
        lines = hidden_lines(graded)
        info = resources.get("nbgrader", {})
        coursedir = getattr(self.parent, "coursedir", None)
        if coursedir is not None and info.get("assignment") and info.get("notebook"):
            folder = coursedir.format_path(coursedir.source_directory, ".", info["assignment"])
            source = os.path.join(folder, f"{info['notebook']}.ipynb")
            if os.path.isfile(source):
                lines += hidden_lines(load_notebook(source))
        return lines


def feedback_config() -> Config:
    """The GenerateFeedback settings nbgrader_config.py holds, for a course whose file lacks them."""
    cfg = Config()
    cfg.GenerateFeedback.preprocessors = FEEDBACK_STEPS
    cfg.GenerateFeedback.exporter_class = FEEDBACK_EXPORTER
    return cfg


def visible_text(page: str) -> str:
    """A page's text as a reader sees it (tags dropped, entities decoded)."""
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def hidden_lines(source_nb: dict) -> list[tuple[str, str]]:
    """(grade_id, line) for every telling hidden-test line of a source notebook.

    Left out: imports, comments, lines of brackets and punctuation, and lines the students see
    anyway (elsewhere in the notebook's visible text).
    """
    visible = "\n".join(strip_hidden_tests(c.get("source", "")) for c in source_nb["cells"])
    found = []
    for cell in source_nb["cells"]:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "")
        for region in HIDDEN.finditer(cell.get("source", "")):
            for line in region.group(1).splitlines():
                line = line.strip()
                if len(line) >= 6 and not _TRIVIAL.match(line) and line not in visible:
                    found.append((gid, line))
    return found


def find_leaks(page: str, lines) -> list[str]:
    """The hidden-test lines (each holds an expected value) that a feedback page shows; empty if none."""
    text = visible_text(page)
    return [f"{gid}: {line}" for gid, line in lines if line in text]


def feedback(course: Course, students=None) -> list:
    """nbgrader generate_feedback with HideAnswers, each page checked for leaks, then released to the exchange."""
    api = nbgrader_api(course, sandboxed=False, config=feedback_config())
    students = sorted(students or course.students_submitted())
    result = api.generate_feedback(course.assignment)
    lines = [pair for nb in course.notebooks for pair in hidden_lines(load_notebook(course.source_notebook(nb)))]
    pages, problems, released = [], [], 0
    for s in students:
        mine = []
        for nb in course.notebooks:
            page = course.feedback_html(s, nb)
            if not page.is_file():
                if course.autograded(s, nb).is_file():
                    problems.append(problem(s, "no feedback", f"nbgrader generate_feedback made no page for {nb}: "
                                                              f"{cause_of(result)}"))
                continue
            leaks = find_leaks(page.read_text(errors="replace"), lines)
            if leaks:
                page.unlink()  # never hand out a page that shows an answer
                problems.append(problem(s, "feedback withheld", f"{nb}'s page showed a hidden test ({leaks[0]}); "
                                                                "deleted"))
                continue
            mine.append(page)
        pages += mine
        # release_feedback needs the secret that `nbgrader submit` leaves; notebooks imported from a folder have none
        if mine and (course.submitted_dir(s) / "submission_secret.txt").is_file():
            if api.release_feedback(course.assignment, s).get("success"):
                released += 1
            else:
                problems.append(problem(s, "feedback not released", "nbgrader release_feedback failed; hand the page "
                                                                     "out yourself"))
    Problems(course).replace("feedback", problems, students)
    print(f"feedback: {len(pages)} pages in feedback/<student>/{course.assignment}/, none showing a hidden test; "
          f"{released} released to the exchange, the rest to hand out yourself"
          + (f"; {sum(p['kind'] == 'feedback withheld' for p in problems)} withheld (see the report)"
             if any(p["kind"] == "feedback withheld" for p in problems) else ""))
    return pages
