"""The nbgrader pipeline, for every assignment in source/: execute, release, autograde, grade by hand.

Everything runs for real: notebooks in a Python kernel (nbclient), nbgrader's own
commands in a temporary course folder. The executed source notebook (with the lab
transcript its autoplayed lab wrote) is the solution submission; the committed
release notebook is the blank one. Cells graded by hand (the lab's judgement) are
found and scored the way formgrader does it, through nbgrader's API and gradebook.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from ossllm_helpers.course import assignments, nbgrader_env

from nbruns import ROOT, SKIP, executed, notebook_in  # noqa: F401  (executed is a fixture)

ASSIGNMENTS = assignments(ROOT)

pytestmark = pytest.mark.notebooks


@pytest.fixture(scope="session")
def course(tmp_path_factory):
    """A temporary nbgrader course per assignment: source copied, release generated."""
    cache = {}

    def get(name: str) -> Path:
        if name not in cache:
            root = tmp_path_factory.mktemp(f"course-{name}")
            shutil.copy(ROOT / "nbgrader_config.py", root)
            shutil.copytree(ROOT / "source" / name, root / "source" / name, ignore=SKIP)
            from ossllm_helpers.quiz import build_quizzes

            build_quizzes(root / "source")
            run_nbgrader(root, "generate_assignment", name, "--force")
            cache[name] = root
        return cache[name]

    return get


def run_nbgrader(root: Path, *args: str) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args], cwd=root, capture_output=True, text=True, env=nbgrader_env()
    )
    assert result.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts}


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_source_notebook_executes(name, executed):
    """Every cell of the source notebook runs without error in a fresh kernel, offline."""
    nb = nbformat.read(executed(f"source/{name}"), as_version=4)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, errors


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_release_equals_fresh_generation(name, course):
    """release/<assignment> is exactly what nbgrader generates from source/ now."""
    fresh, committed = course(name) / "release" / name, ROOT / "release" / name
    assert committed.is_dir(), f"release/{name} missing: run ./course release"
    assert _files(committed) == _files(fresh), "release/ files differ from a fresh generation: run ./course release"
    for rel in sorted(_files(fresh)):
        a, b = (fresh / rel).read_bytes(), (committed / rel).read_bytes()
        if rel.endswith(".ipynb"):
            a, b = json.loads(a), json.loads(b)
        assert a == b, f"release/{name}/{rel} is stale: run ./course release"


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_release_carries_no_answers(name):
    """No solutions, hidden tests, outputs, widget state or plain answer keys in release/."""
    folder = ROOT / "release" / name
    nb = nbformat.read(notebook_in(folder), as_version=4)
    for cell in nb.cells:
        for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
            assert marker not in cell.source, f"{marker!r} left in release/{name}"
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, "release notebook has outputs"
    assert "widgets" not in nb.metadata, "release notebook carries widget state"
    assert not list(folder.glob("*.answers.json")), "plain quiz key copied to release/"
    assert not list(folder.glob("lab_transcript*.json")), "a lab transcript was released"
    for quiz in folder.glob("quiz*.json"):
        text = quiz.read_text()
        assert '"correct"' not in text, f"{quiz.name} carries plain answers"


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_release_cells_are_valid_python(name):
    """With solutions stripped, every code cell still parses (the stub has no raise to lean on)."""
    import ast

    nb = nbformat.read(notebook_in(ROOT / "release" / name), as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            src = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
            ast.parse(src)


def manual_cells(name: str) -> dict[str, float]:
    """{grade_id: points} of the source cells nbgrader leaves to a human: graded answer cells (grade and solution)."""
    nb = nbformat.read(notebook_in(ROOT / "source" / name), as_version=4)
    meta = [c.metadata.get("nbgrader", {}) for c in nb.cells]
    return {m["grade_id"]: float(m["points"]) for m in meta if m.get("grade") and m.get("solution")}


def grade_by_hand(gb, grade_id: str, score: float) -> None:
    """Store a hand-given score as formgrader's grade handler does (nbgrader's formgrader/apihandlers.py)."""
    grade = gb.find_grade_by_id(grade_id)
    grade.manual_score = score
    grade.needs_manual_grade = grade.manual_score is None and grade.auto_score is None
    gb.db.commit()


def formgrader_api(root: Path):
    """nbgrader's API as formgrader uses it, on the course folder's own configuration."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    return NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_lab_judgement_cells_come_together(name):
    """A lesson with the lab's quoted claim also has the judgement graded by hand, and the reverse."""
    nb = nbformat.read(notebook_in(ROOT / "source" / name), as_version=4)
    ids = {c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells}
    parts = {"lab_claim", "lab_claim_tests", "lab_claim_judgement"}
    assert parts <= ids or not parts & ids, f"{name} has {sorted(parts & ids)} of {sorted(parts)}"
    if "lab_claim_judgement" in ids:
        assert manual_cells(name).get("lab_claim_judgement", 0) > 0, "the judgement cell must be graded (points)"


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_autograde_solution_full_marks_blank_zero(name, course, executed):
    """Real nbgrader autograde: the source solution scores full marks on the autograded points and the blank
    release zero; cells graded by hand wait in formgrader's list until scored, and then the totals add up."""
    from nbgrader.api import Gradebook

    root = course(name)
    solved = executed(f"source/{name}")
    nb_name = solved.name
    assert nb_name == notebook_in(ROOT / "release" / name).name
    for student, folder in (("solution", solved.parent), ("blank", ROOT / "release" / name)):
        dest = root / "submitted" / student / name
        shutil.copytree(folder, dest, ignore=shutil.ignore_patterns("__pycache__", "*.answers.json"))
    run_nbgrader(root, "autograde", name)
    manual = manual_cells(name)
    db = f"sqlite:///{root / 'gradebook.db'}"
    with Gradebook(db) as gb:
        solution = gb.find_submission(name, "solution")
        blank = gb.find_submission(name, "blank")
        grades = {g.name: g for nb in solution.notebooks for g in nb.grades}
        assert solution.max_score > 0 and set(manual) <= set(grades)
        failing = [k for k, g in grades.items() if k not in manual and g.score < g.max_score]
        assert not failing, f"solution lost points on {failing}"
        # autograding leaves the hand-graded cells unscored and flagged, and nothing else
        assert {k for k, g in grades.items() if g.needs_manual_grade} == set(manual)
        assert solution.score == pytest.approx(solution.max_score - sum(manual.values()))
        # an unchanged answer cell is no answer: nbgrader scores it 0 itself, nothing waits for a human
        assert blank.score == 0, f"blank release scored {blank.score} of {blank.max_score}"
        assert not any(g.needs_manual_grade for nb in blank.notebooks for g in nb.grades)

    # what formgrader lists: the notebook, and which submissions still need grading by hand
    api = formgrader_api(root)
    (listed,) = api.get_notebooks(name)
    assert listed["name"] == solved.stem and listed["needs_manual_grade"] == bool(manual)
    waiting = {s["student"]: s["needs_manual_grade"] for s in api.get_notebook_submissions(name, listed["name"])}
    assert waiting == {"solution": bool(manual), "blank": False}

    # the instructor grades them: what formgrader's grade handler does on each score typed in
    with Gradebook(db) as gb:
        for nb in gb.find_submission(name, "solution").notebooks:
            for g in nb.grades:
                if g.name in manual:
                    grade_by_hand(gb, g.id, g.max_score)
        solution = gb.find_submission(name, "solution")
        assert solution.score == solution.max_score and not solution.needs_manual_grade
        assert gb.find_submission(name, "blank").score == 0
    assert not api.get_notebooks(name)[0]["needs_manual_grade"]
