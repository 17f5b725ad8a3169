"""nbgrader configuration for the course (run nbgrader from this folder)."""

import importlib.util
import os
import sys

c = get_config()  # noqa: F821  (nbgrader provides get_config)

c.CourseDirectory.course_id = "ossllm"
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
# The gradebook is nbgrader's default, gradebook.db in the course root: each clone has its own.
# Plain-text quiz keys and the lessons' text sources (solutions, hidden tests) never reach release/
# (lab transcripts must reach the grader, so they are copied).
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "*.answers.json", "*.md"]

# A stub without `raise`: module-test answers are `q01 = ...` lines, and a student's
# self-check must run even with questions left blank.
c.ClearSolutions.code_stub = {"python": "# YOUR ANSWER HERE"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# An exchange root that exists, inside the course folder unless the instructor sets one.
c.Exchange.root = os.environ.get("OSSLLM_EXCHANGE", os.path.join(c.CourseDirectory.root, "exchange"))
os.makedirs(c.Exchange.root, exist_ok=True)

# A stuck submission (an infinite loop) times out and grading moves on to the next. The course's grading
# workflow (python -m ossllm_helpers grade) takes its per-cell limit from here too; it runs every notebook in
# a sandbox with limits of its own (`grade --help`) and replaces nbgrader's Execute step for that.
c.ExecutePreprocessor.timeout = 120
c.Execute.timeout = 120

# Feedback never shows the key, whatever makes it (`nbgrader generate_feedback`, formgrader's "Generate Feedback"
# button, NbGraderAPI, ./course grade feedback): test cells lose their hidden tests and their outputs (a failed
# test's traceback quotes the expected value), and a page that still shows a hidden-test line is not written.
# Named as text: nbgrader imports ossllm_helpers (installed with the course) only when it makes feedback.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
    "ossllm_helpers.grading.feedback.HideAnswers",
]
c.GenerateFeedback.exporter_class = "ossllm_helpers.grading.feedback.FeedbackExporter"
if importlib.util.find_spec("ossllm_helpers") is None:  # locates the package without importing it
    # nbgrader would then refuse to make feedback with a TraitError deep in a traceback: say why, and what to do.
    print("nbgrader_config.py: this Python cannot import ossllm_helpers, so nbgrader will make no feedback pages "
          "(it needs the course's checking exporter, which keeps the answer key out of them). Run nbgrader from "
          "the course's environment: `source .venv/bin/activate`, or `pip install -e .` in the course folder.",
          file=sys.stderr)
