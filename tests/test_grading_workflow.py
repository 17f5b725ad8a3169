"""The module test and the instructor's grading workflow, with real nbgrader on crafted submissions.

Pure logic first (the notebook's shape, the self-check rules, the feedback filter), then the
self-check in a real kernel, then whole grading runs in temporary course folders: release,
collect from a folder, autograde (one process, and two processes checked against plain
`nbgrader autograde`), feedback and export.
"""

import csv
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

import importlib

from crafted import submissions as craft
from ossllm_helpers import selfcheck
from ossllm_helpers.course import nbgrader_env
from ossllm_helpers.errors import OssllmError

grading = importlib.import_module("ossllm_helpers.instructor")

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "source" / "module_test" / "module_test.ipynb"
TIMEOUT = 5  # seconds a cell may run in these tests (the course config says 120)


def _nbgrader_cells(nb, kind):
    return [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id", "").endswith(kind)]


@pytest.fixture(scope="module")
def source_nb():
    return nbformat.read(SOURCE, as_version=4)


# --------------------------------------------------------------------------- the notebook


def test_questions_options_points_and_pass_mark(source_nb):
    questions = _nbgrader_cells(source_nb, "_question")
    answers = _nbgrader_cells(source_nb, "_answer")
    tests = _nbgrader_cells(source_nb, "_test")
    assert len(questions) == len(answers) == len(tests) >= 20
    solutions = craft.solutions(source_nb)
    letters = {q: v.strip('"') for q, v in solutions.items() if v.startswith('"')}
    numbers = {q: v for q, v in solutions.items() if not v.startswith('"')}
    assert numbers, "at least one answer is a computation"
    for q in questions:
        name = q.metadata["nbgrader"]["grade_id"].removesuffix("_question")
        assert re.search(r"\(\d+ points?\)", q.source), f"{name} shows no points"
        if name in letters:
            for letter in "ABCD":
                assert f"**{letter}.**" in q.source, f"{name} lacks option {letter}"
    # the correct letter varies: every letter is right for at least three questions
    assert all(list(letters.values()).count(x) >= 3 for x in "ABCD")
    total = sum(t.metadata["nbgrader"]["points"] for t in tests)
    title = source_nb.cells[0].source
    assert f"{total} points" in title and "80%" in title
    lessons = " ".join(q.source for q in questions)
    for lesson in (2, 3, 5, 7):
        assert f"Lesson {lesson}" in lessons


def test_answers_are_scored_only_by_hidden_tests(source_nb):
    for cell in _nbgrader_cells(source_nb, "_test"):
        visible = grading.strip_hidden_tests(cell.source)
        assert "BEGIN HIDDEN TESTS" in cell.source
        # what a student sees of a test cell is its docstring and nothing else
        assert re.fullmatch(r'"""[^\n]*"""', visible), visible
    for cell in _nbgrader_cells(source_nb, "_answer"):
        name = cell.metadata["nbgrader"]["grade_id"].removesuffix("_answer")
        assert cell.source.startswith(f"{name} = None\n### BEGIN SOLUTION\n")


def test_facts_the_factcheck_marks_wrong_are_not_taught(source_nb):
    text = " ".join(c.source for c in source_nb.cells if c.cell_type == "markdown")
    q = {c.metadata["nbgrader"]["grade_id"]: c.source for c in _nbgrader_cells(source_nb, "_question")}
    sol = craft.solutions(source_nb)

    def right(name):
        letter = sol[name].strip('"')
        return re.search(rf"\*\*{letter}\.\*\* (.*)", q[f"{name}_question"]).group(1)

    assert "Meta had granted" in right("q01") and "leaked" not in right("q01").split("not on")[0]
    assert "non-profit" in right("q02") and "donated compute" in right("q02")
    assert "inference" in right("q03")
    assert "10.5 weeks" in right("q04") and "105M" in right("q04")
    assert "points 5 and 6" in right("q07") and "source-available" not in right("q07")
    assert "release date" in right("q08")
    assert "December 2023" in right("q09") and "June 2024" in right("q09") and "July 2024" in right("q09")
    assert "0.1754" in right("q10") and "95%" not in text
    for bench in ("IFEval", "BBH", "MATH Level 5", "GPQA", "MuSR", "MMLU-Pro"):
        assert bench in right("q11")
    assert "0.75 GiB" in right("q14")
    assert "no acceptable-use policy" in right("q15") and "Research License" in right("q15")
    assert "TheBloke" not in text and "bartowski" not in text  # no unsourced ranking of quantizers
    assert float(sol["q19"]) == pytest.approx(46.7 * 2, abs=0.05)  # Mixtral at fp16: over 90 GB, not 26


# --------------------------------------------------------------------------- self-check rules


@pytest.mark.parametrize("value, kind, verdict", [
    (None, "letter", "unanswered"), ("B", "letter", None), (" c ", "letter", None), ("E", "letter", "malformed"),
    (2, "letter", "malformed"), (["A"], "letter", "malformed"), (None, "number", "unanswered"), (93.4, "number", None),
    (7, "number", None), ("93.4", "number", "malformed"), (True, "number", "malformed"),
    (float("nan"), "number", "malformed"),
])
def test_classify(value, kind, verdict):
    got = selfcheck.classify(value, kind)
    assert (got is None) if verdict is None else got.startswith(verdict)


def test_check_answers_names_missing_and_never_says_right_or_wrong():
    kinds = {"q01": "letter", "q02": "letter", "q03": "number", "q04": "letter"}
    problems = selfcheck.check_answers({"q01": "A", "q02": None, "q03": "ten"}, kinds)
    assert set(problems) == {"q02", "q03", "q04"}
    assert problems["q02"] == "unanswered" and problems["q04"].startswith("missing")
    text = selfcheck.format_report(problems, len(kinds))
    assert "1 of 4" in text and "q02" in text and "q03" in text
    assert not re.search(r"\b(correct|wrong|incorrect)\b", text, re.I)


def test_classify_rejects_an_unknown_kind():
    with pytest.raises(ValueError, match="letter"):
        selfcheck.classify("A", "essay")


# --------------------------------------------------------------------------- feedback filter (logic only)


def test_hide_answers_strips_hidden_tests_and_test_tracebacks():
    cell = nbformat.v4.new_code_cell('"""Question 1."""\n### BEGIN HIDDEN TESTS\nassert q01 == "C"\n### END HIDDEN TESTS')
    cell.metadata["nbgrader"] = {"grade": True, "solution": False, "grade_id": "q01_test", "points": 1}
    cell.outputs = [nbformat.v4.new_output("error", ename="AssertionError", evalue="",
                                           traceback=['----> 3 assert q01 == "C"'])]
    answer = nbformat.v4.new_code_cell("q01 = 3")
    answer.metadata["nbgrader"] = {"grade": False, "solution": True, "grade_id": "q01_answer"}
    answer.outputs = [nbformat.v4.new_output("stream", name="stdout", text="mine")]
    pp = grading.HideAnswers()
    out, _ = pp.preprocess_cell(cell, {}, 0)
    assert out.source == '"""Question 1."""'
    assert json.dumps(out.outputs).count('"C"') == 0 and "Not passed" in out.outputs[0]["text"]
    kept, _ = pp.preprocess_cell(answer, {}, 1)
    assert kept.outputs[0]["text"] == "mine"  # a student's own output stays


def test_find_leaks_sees_through_highlighting():
    src = {"q01_test": grading._SourceCell("q01_test", "code", True, True, False,
                                           '"""Q1."""\n### BEGIN HIDDEN TESTS\nassert q01 == "C"\n### END HIDDEN TESTS')}
    page = '<span class="k">assert</span> <span class="n">q01</span> <span class="o">==</span> <span>&quot;C&quot;</span>'
    assert grading.find_leaks(page, src) == ['q01_test: assert q01 == "C"']
    assert grading.find_leaks("<p>Question 1: 0 / 1</p>", src) == []


# --------------------------------------------------------------------------- typed errors


def test_importing_the_workflow_keeps_the_grading_function_working(monkeypatch):
    import ossllm_helpers as oh

    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    assert oh.grading() is False
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert oh.grading() is True
    oh.setup_notebook()  # calls grading() through the package namespace


def test_bad_course_folder_and_bad_import_folder_raise_typed_errors(tmp_path):
    with pytest.raises(OssllmError, match="nbgrader_config.py"):
        grading.Course(tmp_path)
    course = _course(tmp_path / "course")
    with pytest.raises(grading.GradingError, match="not a folder"):
        grading.import_folder(course, tmp_path / "nowhere")


def test_cli_help_and_a_folder_that_is_no_course(tmp_path, capsys):
    assert grading.main(["help"]) == 0
    assert "release,collect,autograde,feedback,export,all" in capsys.readouterr().out
    with pytest.raises(grading.GradingError, match="no nbgrader_config.py"):
        grading.main(["export", "--course", str(tmp_path)])


def test_import_folder_reports_bad_ids_missing_files_and_stray_files(tmp_path, source_nb):
    course = _course(tmp_path / "course")
    inbox = tmp_path / "inbox"
    craft.write_notebook(source_nb, inbox / "ann.ipynb")
    craft.write_notebook(source_nb, inbox / "bob" / "module_test.ipynb")
    craft.write_notebook(source_nb, inbox / "cy" / "Module Test.ipynb")
    craft.write_notebook(source_nb, inbox / "bad id!.ipynb")
    (inbox / "notes.txt").write_text("hi")
    students, problems = grading.import_folder(course, inbox)
    assert students == ["ann", "bob"]
    assert course.submitted("ann").is_file() and (course.submitted("bob").parent / "timestamp.txt").is_file()
    kinds = {(p["student"], p["kind"]) for p in problems}
    assert kinds == {("cy", "missing file"), ("bad id!", "invalid student id"), ("notes.txt", "ignored file")}


# --------------------------------------------------------------------------- real grading runs


def _course(root: Path) -> grading.Course:
    root.mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", root)
    shutil.copytree(SOURCE.parent, root / "source" / "module_test")
    return grading.Course(root)


def _grade(*args) -> subprocess.CompletedProcess:
    """The real command line: python -m ossllm_helpers grade ..."""
    result = subprocess.run([sys.executable, "-m", "ossllm_helpers", "grade", *args], capture_output=True, text=True,
                            env=nbgrader_env())
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def _scores(course: grading.Course, db_name="gradebook.db") -> dict:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course.root / db_name}", "ossllm") as gb:
        return {s.student.id: {g.name: g.score for nb in s.notebooks for g in nb.grades}
                for s in gb.assignment_submissions("module_test")}


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    """A class with every kind of bad submission, graded end to end with `grade release` and `grade all --jobs 2`."""
    tmp = tmp_path_factory.mktemp("grading")
    course = _course(tmp / "course")
    _grade("release", "--course", str(course.root))
    release_nb = nbformat.read(course.root / "release" / "module_test" / "module_test.ipynb", as_version=4)
    src = nbformat.read(SOURCE, as_version=4)
    inbox = tmp / "inbox"
    crafted = {
        "full": craft.answered(release_nb, src),
        "source": src,  # the instructor's own notebook, solutions and hidden tests included
        "blank": release_nb,
        "syntax": craft.syntax_error(release_nb, src, "q03"),
        "loop": craft.infinite_loop(release_nb, src, "q05"),
        "deleted": craft.deleted_test_cell(release_nb, src, "q07"),
        "gutted": craft.deleted_question(release_nb, src, "q04"),  # nbgrader itself fails on this one
        "edited": craft.edited_test_cell(release_nb, src, "q08"),
        "wrongtype": craft.wrong_type(release_nb, src, "q01", "q19"),
        "empty": craft.empty_notebook(release_nb),
        "half": craft.half_done(release_nb, src),
    }
    for student, nb in crafted.items():
        craft.write_notebook(nb, inbox / f"{student}.ipynb")
    craft.write_notebook("{ this is not json", inbox / "corrupt" / "module_test.ipynb")
    craft.write_notebook(release_nb, inbox / "misnamed" / "Module Test (1).ipynb")
    roster = tmp / "roster.txt"
    roster.write_text("\n".join([*crafted, "corrupt", "misnamed", "absent"]) + "\n")
    run = _grade("all", "--course", str(course.root), "--from", str(inbox), "--roster", str(roster),
                 "--timeout", str(TIMEOUT), "--jobs", "2")
    rows = {r["student"]: r for r in csv.DictReader(open(course.root / "grades.csv"))}
    return {"course": course, "rows": rows, "src": src, "release": release_nb, "inbox": inbox, "output": run.stdout,
            "report": (course.root / "grading" / "report.txt").read_text()}


def _points(src, name):
    cell = next(c for c in _nbgrader_cells(src, "_test") if c.metadata["nbgrader"]["grade_id"] == f"{name}_test")
    return cell.metadata["nbgrader"]["points"]


@pytest.mark.notebooks
def test_full_marks_and_zero_marks(graded_class):
    rows = graded_class["rows"]
    assert rows["full"]["percent"] == "100.0" and rows["full"]["passed"] == "yes"
    assert float(rows["full"]["score"]) == float(rows["full"]["max"])
    assert rows["source"]["percent"] == "100.0" and rows["source"]["problems"] == ""
    assert rows["blank"]["percent"] == "0.0" and rows["blank"]["passed"] == "no"
    assert "blank submission" in rows["blank"]["problems"]


@pytest.mark.notebooks
def test_every_bad_submission_is_reported_and_the_rest_graded(graded_class):
    rows, src, report = graded_class["rows"], graded_class["src"], graded_class["report"]
    full = float(rows["full"]["max"])
    expected = {  # student: (kind in the report, points the crafted fault costs)
        "syntax": ("syntax error", _points(src, "q03")),
        "loop": ("timeout", 0),  # the answer was set before the loop started
        "deleted": ("deleted test cell", 0),  # nbgrader put the test back and it passed
        "edited": ("edited test cell", _points(src, "q08")),  # the rewritten test did not save a wrong answer
        "wrongtype": ("malformed answer", _points(src, "q01") + _points(src, "q19")),
        "empty": ("empty notebook", full),
        # nbgrader fails to put the test back (its neighbour is gone too): graded again without restoring
        "gutted": ("graded on a second try", _points(src, "q04")),
        "corrupt": ("invalid notebook", full),
        "misnamed": ("missing file", full),
        "absent": ("missing file", full),
    }
    for student, (kind, lost) in expected.items():
        row = rows[student]
        assert kind in row["problems"], (student, row["problems"])
        assert float(row["score"]) == full - lost, (student, row)
        assert student in report and kind in report
    assert "q01" in rows["wrongtype"]["problems"] and "q19" in rows["wrongtype"]["problems"]
    assert f"{TIMEOUT} s" in rows["loop"]["problems"]
    assert "Module Test (1).ipynb" in rows["misnamed"]["problems"]
    gutted = rows["gutted"]["problems"]
    assert "KeyError: 'q04_answer'" in gutted and "deleted answer cell" in gutted
    assert "needs manual grade: cells without an automatic score: q04_test" in gutted
    half = rows["half"]
    assert "malformed answer" in half["problems"] and 0 < float(half["score"]) < full
    assert rows["full"]["problems"] == ""


@pytest.mark.notebooks
def test_feedback_shows_scores_but_no_hidden_test_or_answer(graded_class):
    course, src = graded_class["course"], graded_class["src"]
    answers = craft.solutions(src)
    pages = sorted((course.root / "feedback").glob("*/module_test/module_test.html"))
    assert {p.parts[-3] for p in pages} >= {"full", "blank", "syntax", "loop", "deleted", "edited", "wrongtype", "half"}
    for page in pages:
        text = grading._visible_text(page.read_text())
        # AssertionError comes only from a failed hidden test (a student's own errors may stay)
        assert "BEGIN HIDDEN TESTS" not in text and "AssertionError" not in text
        for name, value in answers.items():
            # the expected value appears only inside hidden tests: `== "C"` / `- 93.4)`
            assert f'{name}.strip().upper() == {value}' not in text
            assert f"float({name}) - {value})" not in text
        assert "Score:" in text
    wrong = grading._visible_text((course.root / "feedback" / "wrongtype" / "module_test" / "module_test.html").read_text())
    assert "Not passed" in wrong and "q01 = 3" in wrong  # the student's own answer and a score, not the key


@pytest.mark.notebooks
def test_two_processes_grade_exactly_like_plain_nbgrader(graded_class, tmp_path):
    """Regrade the same submissions with one plain `nbgrader autograde` and compare every cell's score."""
    course = graded_class["course"]
    parallel = _scores(course)
    plain = grading.Course(shutil.copytree(course.root, tmp_path / "plain", ignore=shutil.ignore_patterns(
        "gradebook.db", "autograded", "feedback", "grading", "exchange")))
    subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", "module_test", "--force"],
                   cwd=plain.root, env=nbgrader_env(), capture_output=True, check=True)
    # the precheck keeps unreadable and empty notebooks from nbgrader; do the same for plain nbgrader
    # (and "gutted" makes plain nbgrader fail, as the workflow's first try does)
    for student in ("corrupt", "empty", "gutted"):
        shutil.rmtree(plain.root / "submitted" / student)
    result = subprocess.run([sys.executable, "-m", "nbgrader", "autograde", "module_test", "--force",
                             "--OverwriteCells.add_missing_cells=True", f"--Execute.timeout={TIMEOUT}",
                             f"--ExecutePreprocessor.timeout={TIMEOUT}"],
                            cwd=plain.root, env=nbgrader_env(), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    parallel.pop("gutted")
    assert _scores(plain) == parallel
    assert len(parallel) == 9  # full, source, blank, syntax, loop, deleted, edited, wrongtype, half


@pytest.mark.notebooks
def test_self_check_in_a_real_kernel_names_unanswered_and_malformed(graded_class, tmp_path):
    from nbclient import NotebookClient

    nb = craft.half_done(graded_class["release"], graded_class["src"])
    NotebookClient(nb, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "self_check")
    text = "".join(o.get("text", "") for o in cell.outputs)
    n = len(craft.solutions(graded_class["src"]))
    assert f"of {n}" in text
    assert "unanswered (still None): " in text and "q23" in text.split("unanswered")[1]
    assert "q01: malformed: 'Z' is not one of A, B, C, D" in text
    assert "q19: malformed: str 'about 90'" in text
    assert "q02" not in text  # "a" is well formed; whether it is right is not said
    assert not re.search(r"\b(correct|incorrect|wrong)\b", text, re.I)


@pytest.mark.notebooks
def test_exchange_round_trip_release_submit_collect_feedback(tmp_path):
    """Through nbgrader's exchange: release, a student fetches and submits, collect, grade, feedback comes back."""
    course = _course(tmp_path / "course")
    _grade("release", "--course", str(course.root))
    exchange = f"--Exchange.root={course.root / 'exchange'}"
    home = tmp_path / "student-home"
    home.mkdir()

    def student(*args):
        result = subprocess.run([sys.executable, "-m", "nbgrader", *args, "--course", "ossllm", exchange],
                                cwd=home, env=nbgrader_env(), capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr
        return result

    student("fetch_assignment", "module_test")
    fetched = home / "module_test" / "module_test.ipynb"
    nb = craft.answered(nbformat.read(fetched, as_version=4), nbformat.read(SOURCE, as_version=4))
    craft.write_notebook(nb, fetched)
    student("submit", "module_test", "--student", "ada")
    _grade("all", "--course", str(course.root), "--timeout", str(TIMEOUT))
    rows = {r["student"]: r for r in csv.DictReader(open(course.root / "grades.csv"))}
    assert list(rows) == ["ada"] and rows["ada"]["percent"] == "100.0" and rows["ada"]["problems"] == ""
    student("fetch_feedback", "module_test", "--student", "ada")
    pages = list((home / "module_test" / "feedback").rglob("module_test.html"))
    assert len(pages) == 1 and "BEGIN HIDDEN TESTS" not in grading._visible_text(pages[0].read_text())
