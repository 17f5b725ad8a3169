"""Feedback pages never show the answer key, whatever makes them: the attack first, then every path.

The attack: a course whose nbgrader_config.py lacks the feedback settings, where plain
``nbgrader generate_feedback`` (what formgrader's button runs) writes every hidden test, and
with it each expected value, into each student's page. Then, with the course's own
configuration: plain ``nbgrader generate_feedback``, ``NbGraderAPI.generate_feedback`` as
formgrader calls it, and a command line that drops the hiding step, each page scanned for
hidden-test markers, hidden lines and the key's values. Pure tests (unmarked) check the
configuration file and the checking exporter on small notebooks; the rest grade a small
class for real (``notebooks`` and ``grading``).
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from traitlets.config.loader import PyFileConfigLoader

from crafted import submissions as craft
from hostile.sandbox_check import require_sandbox
from ossllm_helpers.course import nbgrader_env
from ossllm_helpers.errors import FeedbackLeakError, GradingError
from ossllm_helpers.grading.feedback import (FEEDBACK_EXPORTER, FEEDBACK_STEPS, FeedbackExporter, find_leaks,
                                             hidden_lines, visible_text)
from ossllm_helpers.grading.paths import load_notebook

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "source" / "module_test" / "module_test.ipynb"
MARKERS = ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS")


# --------------------------------------------------------------------------- the configuration and the exporter


def test_the_course_config_names_the_hiding_steps_as_text():
    """nbgrader_config.py sets both, as names: reading it imports neither nbconvert nor the package's feedback."""
    cfg = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()
    assert list(cfg.GenerateFeedback.preprocessors) == FEEDBACK_STEPS
    assert cfg.GenerateFeedback.exporter_class == FEEDBACK_EXPORTER
    probe = ("import sys; from traitlets.config.loader import PyFileConfigLoader as L; "
             f"L('nbgrader_config.py', path={str(ROOT)!r}).load_config(); "
             "print(sorted(m for m in sys.modules if m.startswith(('nbconvert', 'nbgrader', 'ossllm_helpers'))))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert out.strip() == "[]"


def _test_cell(hidden: str, outputs=()):
    source = f'"""Checked when graded."""\n### BEGIN HIDDEN TESTS\n{hidden}\n### END HIDDEN TESTS'
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "grade_id": "t1", "points": 1,
                                 "schema_version": 3}
    cell.outputs = [nbformat.from_dict(o) for o in outputs]
    return cell


def _notebook(*cells):
    answer = nbformat.v4.new_code_cell("answer = 41")
    answer.metadata["nbgrader"] = {"grade": False, "solution": True, "locked": False, "grade_id": "a1",
                                   "schema_version": 3}
    return nbformat.v4.new_notebook(cells=[answer, *cells])


TRACEBACK = {"output_type": "error", "ename": "AssertionError", "evalue": "",
             "traceback": ["Traceback", "----> 3 assert answer == 42 and answer % 7 == 0", "AssertionError: "]}


def test_the_exporter_hides_tests_even_when_the_hiding_step_was_dropped():
    """A config or command line that replaced the preprocessor list still gets pages without the test."""
    nb = _notebook(_test_cell("assert answer == 42 and answer % 7 == 0", [TRACEBACK]))
    exporter = FeedbackExporter()  # no preprocessors registered at all
    page, _ = exporter.from_notebook_node(nb, {})
    text = visible_text(page)
    assert "answer == 42" not in text and not any(m in text for m in MARKERS)
    assert "Not passed: this question scored 0" in text and "answer = 41" in text


def test_the_exporter_refuses_a_page_that_still_shows_a_hidden_line():
    """Whatever slips past the hiding step (here a cell that printed the test) stops the page: nothing is written."""
    shown = nbformat.v4.new_code_cell("print(open('t').read())")
    shown.outputs = [nbformat.v4.new_output("stream", name="stdout", text="assert answer == 42 and answer % 7 == 0\n")]
    nb = _notebook(_test_cell("assert answer == 42 and answer % 7 == 0"), shown)
    with pytest.raises(FeedbackLeakError) as err:
        FeedbackExporter().from_notebook_node(nb, {"nbgrader": {"student": "ada", "notebook": "module_test"}})
    assert isinstance(err.value, GradingError) and err.value.student == "ada"
    assert err.value.leaks == ["t1: assert answer == 42 and answer % 7 == 0"] and "not written" in str(err.value)


def test_a_line_the_student_wrote_is_no_leak():
    mine = nbformat.v4.new_code_cell("assert answer == 42 and answer % 7 == 0")  # a student who guessed the test
    mine.metadata["nbgrader"] = {"grade": False, "solution": True, "locked": False, "grade_id": "a2",
                                 "schema_version": 3}
    page, _ = FeedbackExporter().from_notebook_node(_notebook(_test_cell("assert answer == 42 and answer % 7 == 0"),
                                                              mine), {})
    assert "assert answer == 42" in visible_text(page)


# --------------------------------------------------------------------------- a graded class, every feedback path


def _nbgrader(root: Path, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=root, env=nbgrader_env(), capture_output=True,
                          text=True)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Four students graded with `grade all`: all right, blank, half done, all wrong."""
    require_sandbox()
    tmp = tmp_path_factory.mktemp("feedback")
    root = tmp / "course"
    root.mkdir()
    shutil.copy(ROOT / "nbgrader_config.py", root)
    shutil.copytree(SOURCE.parent, root / "source" / "module_test")
    def run(*args):
        return subprocess.run([sys.executable, "-m", "ossllm_helpers", "grade", *args, "--course", str(root)],
                              env=nbgrader_env(), capture_output=True, text=True)

    assert run("release").returncode == 0
    src = nbformat.read(SOURCE, as_version=4)
    release = nbformat.read(root / "release" / "module_test" / "module_test.ipynb", as_version=4)
    inbox = tmp / "inbox"
    submissions = {"full": craft.answered(release, src), "blank": release, "half": craft.half_done(release, src),
                   "wrong": craft.with_answers(release, {n: craft.wrong_answer(src, n) for n in craft.solutions(src)})}
    for student, nb in submissions.items():
        craft.write_notebook(nb, inbox / f"{student}.ipynb")
    graded_run = run("all", "--from", str(inbox), "--timeout", "5", "--jobs", "2")
    assert graded_run.returncode == 0, graded_run.stderr[-3000:]
    return {"root": root, "src": src, "release": release, "students": sorted(submissions)}


def _course_copy(graded, dest: Path, config: str | None = None) -> Path:
    root = shutil.copytree(graded["root"], dest, ignore=shutil.ignore_patterns("feedback", "exchange"))
    if config is not None:
        (root / "nbgrader_config.py").write_text(config)
    return root


def _key_values(src) -> dict:
    """{question: the strings that give its answer away}: its hidden lines, `q03 = "D"`, the expected number."""
    out = {}
    for gid, line in hidden_lines(load_notebook(SOURCE)):
        out.setdefault(gid.removesuffix("_test"), []).append(line)
    for name, value in craft.key(src).items():
        out.setdefault(name, []).extend([f"{name} = {value!r}", f'{name} = "{value}"'] if isinstance(value, str)
                                        else [repr(value)])
    return out


def _notebook_text(path: Path) -> str:
    return "\n".join(c.get("source", "") for c in load_notebook(path)["cells"])


def scan(root: Path, graded) -> dict:
    """{student: what their page shows of the key}: markers, hidden lines, and key values they did not write."""
    release_text = _notebook_text(root / "release" / "module_test" / "module_test.ipynb")
    found = {}
    for student in graded["students"]:
        page = root / "feedback" / student / "module_test" / "module_test.html"
        assert page.is_file(), f"no feedback page for {student}"
        text = visible_text(page.read_text())
        assert "Score:" in text  # a real feedback page, with its scores
        allowed = release_text + _notebook_text(root / "submitted" / student / "module_test" / "module_test.ipynb")
        shown = [m for m in MARKERS if m in text]
        shown += find_leaks(page.read_text(), hidden_lines(load_notebook(SOURCE)))
        shown += [v for values in _key_values(graded["src"]).values() for v in values if v not in allowed and v in text]
        found[student] = shown
    return found


@pytest.mark.notebooks
@pytest.mark.grading
def test_attack_a_config_without_the_hiding_steps_hands_out_the_key(graded, tmp_path):
    """The leak this guards against: plain nbgrader, as formgrader runs it, writes every hidden test into every page."""
    config = (graded["root"] / "nbgrader_config.py").read_text()
    plain = config.split("# Feedback never shows the key")[0]
    assert "GenerateFeedback" not in plain and "GenerateFeedback" in config
    root = _course_copy(graded, tmp_path / "leaky", plain)
    result = _nbgrader(root, "generate_feedback", "module_test", "--force")
    assert result.returncode == 0, result.stderr[-2000:]
    found = scan(root, graded)
    tests = len(hidden_lines(load_notebook(SOURCE)))
    for student, shown in found.items():
        assert "BEGIN HIDDEN TESTS" in shown and len(shown) > tests, (student, shown[:5])
    blank = (root / "feedback" / "blank" / "module_test" / "module_test.html").read_text()
    assert visible_text(blank).count("### BEGIN HIDDEN TESTS") == len(craft.solutions(graded["src"]))
    number = craft.number_questions(graded["src"])[0]
    assert repr(craft.key(graded["src"])[number]) in visible_text(blank)  # the expected number, in a blank page


@pytest.mark.notebooks
@pytest.mark.grading
def test_the_grading_step_made_pages_without_the_key(graded):
    assert scan(graded["root"], graded) == {s: [] for s in graded["students"]}


@pytest.mark.notebooks
@pytest.mark.grading
def test_plain_nbgrader_generate_feedback_shows_no_key(graded, tmp_path):
    root = _course_copy(graded, tmp_path / "plain")
    result = _nbgrader(root, "generate_feedback", "module_test", "--force")
    assert result.returncode == 0, result.stderr[-2000:]
    assert scan(root, graded) == {s: [] for s in graded["students"]}
    wrong = visible_text((root / "feedback" / "wrong" / "module_test" / "module_test.html").read_text())
    assert wrong.count("Not passed: this question scored 0") == len(craft.solutions(graded["src"]))


@pytest.mark.notebooks
@pytest.mark.grading
def test_nbgrader_api_as_formgrader_calls_it_shows_no_key(graded, tmp_path):
    """NbGraderAPI configured from the course folder, as formgrader's "Generate Feedback" buttons use it."""
    root = _course_copy(graded, tmp_path / "api")
    script = ("import json\nfrom nbgrader.apps import NbGraderAPI\nfrom nbgrader.apps.baseapp import NbGrader\n"
              "app = NbGrader()\napp.initialize([])\napi = NbGraderAPI(coursedir=app.coursedir, parent=app)\n"
              "every = api.generate_feedback('module_test')\none = api.generate_feedback('module_test', 'blank')\n"
              "print(json.dumps([every['success'], one['success']]))\n")
    result = subprocess.run([sys.executable, "-c", script], cwd=root, env=nbgrader_env(), capture_output=True,
                            text=True)
    assert result.returncode == 0 and json.loads(result.stdout.strip().splitlines()[-1]) == [True, True], result.stderr
    assert scan(root, graded) == {s: [] for s in graded["students"]}


@pytest.mark.notebooks
@pytest.mark.grading
def test_a_command_line_that_drops_the_hiding_step_still_shows_no_key(graded, tmp_path):
    root = _course_copy(graded, tmp_path / "override")
    steps = [s for s in FEEDBACK_STEPS if not s.endswith("HideAnswers")]
    result = _nbgrader(root, "generate_feedback", "module_test", "--force", f"--GenerateFeedback.preprocessors={steps}")
    assert result.returncode == 0, result.stderr[-2000:]
    assert scan(root, graded) == {s: [] for s in graded["students"]}


@pytest.mark.notebooks
@pytest.mark.grading
def test_plain_nbgrader_writes_no_page_that_shows_a_hidden_line(graded, tmp_path):
    """A graded notebook whose cell output quotes a hidden test: nbgrader skips that page, writes the others."""
    root = _course_copy(graded, tmp_path / "tampered")
    path = root / "autograded" / "half" / "module_test" / "module_test.ipynb"
    nb = nbformat.read(path, as_version=4)
    gid, line = hidden_lines(load_notebook(SOURCE))[0]
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution"))
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=line + "\n")]
    nbformat.write(nb, path)
    result = _nbgrader(root, "generate_feedback", "module_test", "--force")
    assert result.returncode != 0 and "FeedbackLeakError" in result.stdout + result.stderr
    assert not (root / "feedback" / "half" / "module_test" / "module_test.html").exists()
    others = [s for s in graded["students"] if s != "half"]
    assert scan(root, {**graded, "students": others}) == {s: [] for s in others}


@pytest.mark.notebooks
@pytest.mark.grading
def test_without_the_course_package_nbgrader_writes_no_page_at_all(graded, tmp_path):
    """nbgrader run where ossllm_helpers cannot be imported (another environment, say): no page, rather than the key."""
    root = _course_copy(graded, tmp_path / "no-package")
    launcher = "import sys; sys.modules['ossllm_helpers'] = None; from nbgrader.apps.nbgraderapp import main; main()"
    result = subprocess.run([sys.executable, "-c", launcher, "generate_feedback", "module_test", "--force"], cwd=root,
                            env=nbgrader_env(), capture_output=True, text=True)
    assert result.returncode != 0 and "could not be imported" in result.stderr, result.stderr[-2000:]
    assert "cannot import ossllm_helpers" in result.stderr and "source .venv/bin/activate" in result.stderr
    assert list(root.glob("feedback/*/module_test/*.html")) == []

