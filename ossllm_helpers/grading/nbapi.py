"""nbgrader's API for the course, configured as nbgrader's own commands are, with the grading steps of ours.

nbgrader takes seconds to import, so it loads here, when a step first needs it (the
autograde step's first kernels are already running by then).
"""

import logging
import os
import re
import warnings

from traitlets.config import Config

from ..errors import GradingError
from .paths import Course, venv_on_path

__all__ = ["nbgrader_api", "ensure_generated", "cause_of", "manual_grades", "gradebook"]


def nbgrader_api(course: Course, *, restore_missing: bool = True, sandboxed: bool = True, config=None):
    """``NbGraderAPI`` for this course; ``sandboxed`` swaps in the sandbox's autograde steps, ``config`` adds settings."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.apps.baseapp import NbGrader

    from . import steps  # imports nbgrader's preprocessors: deferred with nbgrader itself

    # nbgrader's own session use warns (harmless), and old notebooks lack cell ids: noise in an instructor's terminal
    warnings.filterwarnings("ignore", message=".*not in session.*")
    warnings.filterwarnings("ignore", message="Cell is missing an id field")
    venv_on_path()
    cwd = os.getcwd()
    os.chdir(course.root)  # nbgrader reads nbgrader_config.py from the working folder
    try:
        app = NbGrader()
        app.initialize([])
    finally:
        os.chdir(cwd)
    cfg = Config()
    cfg.OverwriteCells.add_missing_cells = bool(restore_missing)
    cfg.Execute.shutdown_kernel = "immediate"
    if sandboxed:
        cfg.Autograde.sanitize_preprocessors = steps.SANITIZE
        cfg.Autograde.autograde_preprocessors = steps.AUTOGRADE
        # nbconvert validates the whole notebook after every step; once at the end of each pass is enough
        cfg.Exporter.optimistic_validation = True
    if config is not None:
        cfg.merge(config)
    app.update_config(cfg)
    app.log.setLevel(logging.WARNING)
    for handler in app.log.handlers:  # the report says what went wrong; nbgrader's own chatter stays quiet
        handler.setLevel(logging.CRITICAL)
    return NbGraderAPI(coursedir=app.coursedir, parent=app)


def gradebook(api):
    """The course gradebook (a context manager), through nbgrader's Gradebook."""
    from nbgrader.api import Gradebook

    return Gradebook(api.coursedir.db_url, api.coursedir.course_id)


def ensure_generated(course: Course, api) -> None:
    """Autograde needs the assignment (its source cells) in the gradebook: generate it if missing."""
    from nbgrader.api import MissingEntry

    with gradebook(api) as gb:
        try:
            for name in course.notebooks:
                gb.find_notebook(name, course.assignment)
            return
        except MissingEntry:
            pass
    result = api.generate_assignment(course.assignment, force=True)
    if not result.get("success"):
        raise GradingError(f"nbgrader generate_assignment {course.assignment} failed: {cause_of(result)}. Fix "
                           f"source/{course.assignment} and run the step again.")


def cause_of(result: dict) -> str:
    """The exception behind a failed nbgrader step, from its log and traceback (nbgrader's own summary says little)."""
    text = (result.get("log") or "") + "\n" + (result.get("error") or "")
    causes = [m.group(1) for m in re.finditer(r"^\s*(?:\[ERROR\] )?([A-Za-z_][\w.]*(?:Error|Exception)\b.*)$", text, re.M)
              if "NbGraderException" not in m.group(0)]
    last = causes[-1] if causes else ([ln for ln in text.splitlines() if ln.strip()] or ["unknown error"])[-1]
    return last.removeprefix("[ERROR] ").strip()[:200]


def manual_grades(api, course: Course, student: str) -> list:
    """Grade cells of this submission that nbgrader left for a hand grade."""
    from nbgrader.api import MissingEntry

    with gradebook(api) as gb:
        try:
            sub = gb.find_submission(course.assignment, student)
        except MissingEntry:
            return []
        return [g.name for nb in sub.notebooks for g in nb.grades if g.needs_manual_grade]
