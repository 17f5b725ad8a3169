"""The grading workflow: its pure logic, then whole classes graded with real nbgrader in the real sandbox.

Pure tests (no kernel, no nbgrader run) come first: the module test's grading contract,
what runs where (plans), answers as plain data and the hidden tests run on them, output
cleaning, the report's escaping, the feedback filter. Then, marked ``notebooks`` and
``grading``: a class of honest mistakes graded end to end with ``grade release`` and
``grade all``, checked against plain ``nbgrader autograde`` cell by cell, its feedback,
the exchange round trip, the self-check in a real kernel, and a lesson graded the same way.
The attacks have their own suite (test_grading_hostile.py).
"""

import csv
import decimal
import fractions
import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest

from crafted import submissions as craft
from hostile.sandbox_check import require_sandbox
from ossllm_helpers import selfcheck
from ossllm_helpers.course import nbgrader_env
from ossllm_helpers.errors import GradingError, OssllmError, SandboxUnavailableError
from ossllm_helpers.grading import harness, plan, sandbox, scoring
from ossllm_helpers.grading.export import csv_cell
from ossllm_helpers.grading.feedback import HideAnswers, find_leaks, hidden_lines, visible_text
from ossllm_helpers.grading.paths import Course, load_notebook, one_line
from ossllm_helpers.grading.runner import CellRun, RunResult

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "source" / "module_test" / "module_test.ipynb"
TIMEOUT = 5  # seconds a cell may run in these tests (the course config says 120)


def _meta(cell):
    return cell.metadata.get("nbgrader", {}) if hasattr(cell, "metadata") else cell.get("metadata", {}).get("nbgrader", {})


def _cells(nb, suffix):
    return [c for c in nb.cells if _meta(c).get("grade_id", "").endswith(suffix)]


@pytest.fixture(scope="module")
def source_nb():
    return nbformat.read(SOURCE, as_version=4)


def _code(source, **nbgrader):
    cell = {"cell_type": "code", "source": source, "metadata": {}, "outputs": []}
    if nbgrader:
        cell["metadata"]["nbgrader"] = {"grade": False, "solution": False, "locked": False, **nbgrader}
    return cell


# --------------------------------------------------------------------------- the module test's contract


def test_module_test_keeps_the_grading_contract(source_nb):
    """Answers are module-level names of plain types; every test is hidden and reads only answers."""
    answers, tests = _cells(source_nb, "_answer"), _cells(source_nb, "_test")
    assert answers and len(answers) == len(tests)
    for cell in answers:
        name = _meta(cell)["grade_id"].removesuffix("_answer")
        assert cell.source.startswith(f"{name} = None\n### BEGIN SOLUTION\n{name} = ")
    for cell in tests:
        assert re.fullmatch(r'"""[^\n]*"""', plan.strip_hidden_tests(cell.source)), cell.source
        assert _meta(cell)["points"] > 0
    info = plan.analyse_source(load_notebook(SOURCE))
    # every hidden test runs in the grader, on answers only: the key never enters a student's kernel
    assert set(info.tests) == {_meta(c)["grade_id"] for c in tests} and set(info.tests.values()) == {"data"}
    assert set(info.answers) == set(craft.solutions(source_nb))
    assert sum(info.points.values()) == sum(craft.points(source_nb).values())
    letters = [v.strip('"') for v in craft.solutions(source_nb).values() if v.startswith('"')]
    assert set(letters) <= set(selfcheck.LETTERS)


# --------------------------------------------------------------------------- plans: what runs where


def test_data_tests_leave_their_hidden_lines_outside_the_kernel():
    nb = {"cells": [
        _code("x = None\n### BEGIN SOLUTION\nx = 3\n### END SOLUTION", grade_id="x_answer", solution=True),
        _code('"""Check x."""\n### BEGIN HIDDEN TESTS\nassert x == 3\n### END HIDDEN TESTS', grade_id="x_test",
              grade=True, locked=True, points=1),
        _code("def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION", grade_id="f_answer", solution=True),
        _code('"""Check f."""\n### BEGIN HIDDEN TESTS\nassert f() == 1\n### END HIDDEN TESTS', grade_id="f_test",
              grade=True, locked=True, points=1),
        _code("### BEGIN HIDDEN TESTS\nassert x == 3\n### END HIDDEN TESTS\nprint(x)", grade_id="mid_test",
              grade=True, locked=True, points=1),
    ]}
    info = plan.analyse_source(nb)
    assert info.tests == {"x_test": "data", "f_test": "code", "mid_test": "code"}
    assert info.answers == {"x": "number"}
    steps = {s.grade_id: s for s in plan.build_plan("nb", nb["cells"], info).steps}
    assert steps["x_test"].kind == "data_test" and steps["x_test"].names == ("x",)
    assert "assert" not in steps["x_test"].code and steps["x_test"].hidden == "assert x == 3"
    # its visible part (a docstring) does nothing: the answer is captured right after the answer cell
    assert steps["x_test"].code == "" and steps["x_answer"].captures == ((1, ("x",)),)
    assert "assert f() == 1" in steps["f_test"].code  # a test of code runs where the code is
    assert steps["mid_test"].kind == "code_test"  # visible code after the hidden lines: order matters


def test_free_names_and_separable_regions():
    assert plan.free_names("import numbers\nassert isinstance(q, numbers.Real) and abs(q - 1) < t") == {"q", "t"}
    assert plan.free_names("y = [v for v in x]\nassert y") == {"x"}
    visible, hidden, separable = plan.split_hidden("if True:\n    ### BEGIN HIDDEN TESTS\n    assert 1\n    ### END HIDDEN TESTS")
    assert not separable


def test_forecast_follows_nbgrader_sanitising(source_nb):
    src = load_notebook(SOURCE)
    info = plan.analyse_source(src)
    release = json.loads(json.dumps(src))
    for cell in release["cells"]:  # what students get: solutions and hidden tests gone
        cell["source"] = plan.strip_hidden_tests(re.sub(r"### BEGIN SOLUTION.*?### END SOLUTION", "# YOUR ANSWER HERE",
                                                        cell["source"], flags=re.S))
    cells = plan.predict(release, info)
    tests = [c for c in cells if c.get("metadata", {}).get("nbgrader", {}).get("grade_id", "").endswith("_test")]
    assert all("BEGIN HIDDEN TESTS" in c["source"] for c in tests)  # nbgrader puts locked cells back whole
    name = craft.letter_questions(source_nb)[0]
    gone = {**release, "cells": [c for c in release["cells"]
                                 if c["metadata"].get("nbgrader", {}).get("grade_id") != f"{name}_test"]}
    restored = plan.predict(gone, info)
    assert len(restored) == len(cells) and f"id:{name}_test" in "".join(c["source"] for c in restored)
    gutted = {**gone, "cells": [c for c in gone["cells"]
                                if c["metadata"].get("nbgrader", {}).get("grade_id") != f"{name}_answer"]}
    assert plan.predict(gutted, info) is None  # nbgrader fails there too; its retry runs live
    twin = json.loads(json.dumps(release))
    answer = next(i for i, c in enumerate(twin["cells"]) if c["metadata"].get("nbgrader", {}).get("solution"))
    twin["cells"].insert(answer, json.loads(json.dumps(twin["cells"][answer])))
    assert plan.predict(twin, info)[answer]["metadata"] == {}  # the first copy loses its identity


# --------------------------------------------------------------------------- answers out, hidden tests in the grader


class Shout(str):
    def __eq__(self, other):
        return True

    __hash__ = str.__hash__


def _roundtrip(**namespace):
    text = repr(harness.capture(namespace, sorted(namespace) + ["absent"]))  # as the kernel shows it
    return scoring.decode(text, sorted(namespace) + ["absent"])


def test_answers_leave_as_exact_builtin_types():
    values, notes = _roundtrip(a="C", b=7, c=2.5, d=[1, (2, "x")], e={1: {3}}, f=b"\x00", g=1 + 2j, h=float("inf"),
                               i=10 ** 40, j=None, k=True, l=frozenset({"z"}))
    assert values["a"] == "C" and type(values["a"]) is str
    assert values["d"] == [1, (2, "x")] and type(values["d"][1]) is tuple
    assert values["e"] == {1: {3}} and values["f"] == b"\x00" and values["g"] == 1 + 2j
    assert math.isinf(values["h"]) and values["i"] == 10 ** 40 and values["j"] is None and values["k"] is True
    assert values["l"] == frozenset({"z"}) and values["absent"] is scoring.MISSING and notes == []


def test_lookalike_answers_become_what_they_hold_and_are_named():
    values, notes = _roundtrip(a=Shout("B"), b=decimal.Decimal("61.3125"), c=fractions.Fraction(7, 20),
                               d=np.float64(9.25), e=np.int64(4), f=np.bool_(True))
    assert values == {"a": "B", "b": 61.3125, "c": 0.35, "d": 9.25, "e": 4, "f": True, "absent": scoring.MISSING}
    assert [type(values[k]) for k in "abcdef"] == [str, float, float, float, int, bool]
    assert {n[0] for n in notes} == set("abcdef") and ("b", "decimal.Decimal", "float") in notes


def test_answers_that_are_no_plain_value():
    loop = []
    loop.append(loop)
    values, _ = _roundtrip(a=lambda: 1, b=object(), c="x" * 100_000, d=loop)
    assert all(isinstance(values[k], scoring.NotPlain) for k in "abcd")
    assert "too large" in values["c"].what and "nested too deep" in values["d"].what


@pytest.mark.parametrize("text", [
    "__import__('os').system('true')", "'not json'", repr('{"values": {"q": ["str", 1]}}'),
    repr('{"values": {"q": ["int", "1; import os"]}}'), repr('{"values": {"q": ["bool", 1]}}'),
    repr('{"values": {"q": ["list", [["?", "function"]]]}}'), repr('{"values": {"q": ["evil", "x"]}}'),
    repr('{"values": []}'), "'" + "x" * (scoring.MAX_CAPTURE + 1) + "'", 42, None,
])
def test_forged_or_broken_reports_give_no_value(text):
    values, _ = scoring.decode(text, ["q"])
    assert isinstance(values["q"], scoring.NotPlain)


def test_hidden_tests_run_in_the_grader_with_real_builtins():
    hidden = 'import numbers\nassert isinstance(q, numbers.Real) and not isinstance(q, bool)\nassert abs(float(q) - 2) <= 0.1'
    assert scoring.evaluate(hidden, {"q": 2.05}) == []
    failed = scoring.evaluate(hidden, {"q": 3.0})
    assert [o["ename"] for o in failed] == ["AssertionError"] and "2" not in failed[0]["traceback"][0]
    assert scoring.evaluate(hidden, {"q": scoring.MISSING})[0]["ename"] == "NameError"
    assert scoring.evaluate(hidden, {"q": scoring.NotPlain("a function")})[0]["ename"] == "TypeError"
    partial = scoring.evaluate("print('half')\n0.5", {})
    assert partial[0]["text"] == "half\n" and partial[-1]["data"]["text/plain"] == "0.5"


def test_student_outputs_are_made_safe():
    outs = scoring.clean_outputs([
        {"output_type": "stream", "name": "stdout", "text": "### BEGIN HIDDEN TESTS\n### END SOLUTION"},
        {"output_type": "display_data", "data": {"text/html": "<script>x</script>", "text/plain": "p"}, "metadata": {}},
        {"output_type": "display_data", "data": {"application/javascript": "x"}, "metadata": {}},
        {"output_type": "execute_result", "data": {"text/plain": "1.0"}, "metadata": {}, "execution_count": 1},
        {"output_type": "error", "ename": "E", "evalue": "BEGIN  HIDDEN TESTS", "traceback": ["BEGIN SOLUTION"]},
    ], test_cell=True)
    text = json.dumps(outs)
    assert "BEGIN HIDDEN" not in text and "BEGIN_HIDDEN_TESTS" in text and "END_SOLUTION" in text
    assert "<script" not in text and "javascript" not in text
    assert [o["output_type"] for o in outs] == ["stream", "display_data", "display_data", "error"]


def test_cells_that_never_ran_score_nothing():
    cells = [_code("q = 1"), _code('"""t"""', grade_id="q_test", grade=True, points=1)]
    p = plan.Plan("nb", [plan.Step(0, None, "code", "q = 1"), plan.Step(1, "q_test", "data_test", "pass", ("q",), "assert q")])
    answers, problems = scoring.apply_run(cells, p, RunResult(cells={0: CellRun([], 1, "ok", {})}, stopped="not run: x"))
    assert cells[1]["outputs"][0]["ename"] == "CellNotRun" and answers == {} and problems == []


def test_malformed_and_blank_answers_are_named():
    kinds = {"q1": "letter", "q2": "number", "q3": "letter"}
    found = scoring.answer_problems({"q1": "Z", "q2": "9", "q3": "b"}, kinds)
    assert [p[1].split(":")[0] for p in found] == ["q1", "q2"] and {p[0] for p in found} == {"malformed answer"}
    assert scoring.answer_problems({}, kinds) == [("blank submission", "no question answered")]


# --------------------------------------------------------------------------- report, CSV, feedback filter


def test_report_lines_and_csv_cells_cannot_be_forged():
    assert one_line("a\nb\r\x1b[31m\u2028c") == "a\\nb\\r\\x1b[31m\\u2028c"
    assert len(one_line("x" * 1000, 50)) == 50
    assert csv_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)" and csv_cell("-1") == "'-1" and csv_cell("ann") == "ann"


def test_hide_answers_strips_hidden_tests_and_test_tracebacks():
    cell = nbformat.v4.new_code_cell('"""Question 1."""\n### BEGIN HIDDEN TESTS\nassert q01 == "C"\n### END HIDDEN TESTS')
    cell.metadata["nbgrader"] = {"grade": True, "solution": False, "grade_id": "q01_test", "points": 1}
    cell.outputs = [nbformat.v4.new_output("error", ename="AssertionError", evalue="", traceback=['assert q01 == "C"'])]
    answer = nbformat.v4.new_code_cell("q01 = 3")
    answer.metadata["nbgrader"] = {"grade": False, "solution": True, "grade_id": "q01_answer"}
    answer.outputs = [nbformat.v4.new_output("stream", name="stdout", text="mine")]
    out, _ = HideAnswers().preprocess_cell(cell, {}, 0)
    assert out.source == '"""Question 1."""' and '"C"' not in json.dumps(out.outputs) and "Not passed" in out.outputs[0]["text"]
    assert HideAnswers().preprocess_cell(answer, {}, 1)[0].outputs[0]["text"] == "mine"


def test_leaks_are_hidden_lines_seen_through_highlighting():
    src = {"cells": [_code('"""Q1."""\n### BEGIN HIDDEN TESTS\nimport numbers\nassert q01 == "C"\n]\n### END HIDDEN TESTS',
                           grade_id="q01_test")]}
    lines = hidden_lines(src)
    assert lines == [("q01_test", 'assert q01 == "C"')]  # imports and lone brackets say nothing
    page = '<span class="k">assert</span> <span class="n">q01</span> <span class="o">==</span> <span>&quot;C&quot;</span>'
    assert find_leaks(page, lines) == ['q01_test: assert q01 == "C"'] and "assert q01" in visible_text(page)
    assert find_leaks("<p>Question 1: 0 / 1</p> ### BEGIN HIDDEN TESTS ]", lines) == []


# --------------------------------------------------------------------------- the sandbox, without running it


def test_seccomp_filter_is_a_program_for_known_machines():
    prog = sandbox.seccomp_filter("x86_64")
    assert len(prog) == 14 * 8 and sandbox.seccomp_filter("aarch64") and sandbox.seccomp_filter("sparc") is None


def test_the_sandbox_never_shows_the_course_folder(tmp_path):
    box = sandbox.Sandbox("root", [(1, 1)], course_root=ROOT)
    shown = box._readonly_paths()
    assert all(not sandbox._is_under(str(ROOT), p) for p in shown)  # no folder that holds the course
    assert not any(p == str(ROOT) or p.startswith(str(ROOT / "source")) or "gradebook" in p for p in shown)
    with pytest.raises(GradingError, match="contains the course folder"):
        sandbox.Sandbox("root", [(1, 1)], course_root=Path(sys.prefix) / "course")


def test_an_environment_under_tmp_stays_visible_over_the_private_tmp(tmp_path):
    """A clone under /tmp (CI's, say): its environment is bound after the private /tmp, which would hide it."""
    box = sandbox.Sandbox("root", [(1, 1)], course_root=tmp_path / "course")
    env = str(tmp_path / "course" / ".venv")
    box._readonly = [*box._readonly, env]
    argv, _, fds = box.command(user=(1, 1), connection_file="/k/c.json", conn_dir=str(tmp_path / "k"),
                               stage=str(tmp_path / "stage"), work=str(tmp_path / "w"), limits=sandbox.Limits())
    for fd in fds:
        os.close(fd)
    tmpfs = next(i for i in range(len(argv) - 1) if argv[i] == "--tmpfs" and argv[i + 1] == "/tmp")
    bind = next(i for i in range(len(argv) - 2) if argv[i] == "--ro-bind" and argv[i + 1] == env)
    assert tmpfs < bind, "the private /tmp must be mounted before the environment that lives under it"


def test_no_bubblewrap_means_refusal_unless_unsafe(monkeypatch, tmp_path):
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    with pytest.raises(SandboxUnavailableError, match="--unsafe") as err:
        sandbox.Sandbox.detect(tmp_path)
    assert "bubblewrap" in str(err.value) and err.value.reason
    assert sandbox.Sandbox.detect(tmp_path, unsafe=True).unsafe


# --------------------------------------------------------------------------- the package's shape


GRADING = sorted((ROOT / "ossllm_helpers" / "grading").glob("*.py"))
# a sibling imported inside a function only where it defers a heavy import (nbgrader, nbconvert)
DEFERRED = {("nbapi.py", "steps"), ("cli.py", "feedback")}


@pytest.mark.parametrize("module", GRADING, ids=lambda p: p.name)
def test_grading_modules_are_small_say_their_concern_and_import_at_the_top(module):
    import ast

    text = module.read_text()
    assert len(text.splitlines()) <= 400, f"{module.name}: {len(text.splitlines())} lines"
    doc = ast.get_docstring(ast.parse(text))
    assert doc and doc.split("\n")[0].rstrip().endswith("."), module.name
    for func in ast.walk(ast.parse(text)):
        if isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(func):
                if isinstance(node, ast.ImportFrom) and node.level:
                    names = [node.module] if node.module else [a.name for a in node.names]
                    assert all((module.name, n) in DEFERRED for n in names), f"{module.name}:{node.lineno} {names}"


# --------------------------------------------------------------------------- typed errors, the command line


def test_importing_the_workflow_keeps_the_grading_function_working(monkeypatch):
    import ossllm_helpers as oh
    import ossllm_helpers.grading.autograde  # noqa: F401  (binds oh.grading to the package)

    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    assert oh.grading() is False
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert oh.grading() is True
    oh.setup_notebook()  # calls grading() through the package namespace


def test_bad_course_folder_and_bad_import_folder_raise_typed_errors(tmp_path):
    from ossllm_helpers.grading.collect import import_folder

    with pytest.raises(OssllmError, match="nbgrader_config.py"):
        Course(tmp_path)
    course = _course(tmp_path / "course")
    with pytest.raises(GradingError, match="not a folder"):
        import_folder(course, tmp_path / "nowhere")
    with pytest.raises(GradingError, match="module_test"):
        Course(course.root, "lesson99")


def test_cli_help_and_a_folder_that_is_no_course(tmp_path, capsys):
    from ossllm_helpers.grading import cli

    assert cli.main(["help"]) == 0 and "--unsafe" in capsys.readouterr().out
    assert cli.main(["export", "--course", str(tmp_path)]) == 1
    assert "no nbgrader_config.py" in capsys.readouterr().err
    result = subprocess.run([sys.executable, "-m", "ossllm_helpers", "grade", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "autograde" in result.stdout and "--notebook-timeout" in result.stdout


def test_import_folder_reports_bad_ids_missing_files_stray_files_and_links(tmp_path, source_nb):
    from ossllm_helpers.grading.collect import import_folder

    course = _course(tmp_path / "course")
    inbox = tmp_path / "inbox"
    craft.write_notebook(source_nb, inbox / "ann.ipynb")
    craft.write_notebook(source_nb, inbox / "bob" / "module_test.ipynb")
    craft.write_notebook(source_nb, inbox / "cy" / "Module Test.ipynb")
    craft.write_notebook(source_nb, inbox / "bad id!.ipynb")
    (inbox / "dee.ipynb").symlink_to(SOURCE)
    (inbox / "notes.txt").write_text("hi")
    students, problems = import_folder(course, inbox)
    assert students == ["ann", "bob"]
    assert course.submitted("ann").is_file() and (course.submitted("bob").parent / "timestamp.txt").is_file()
    kinds = {(p["student"], p["kind"]) for p in problems}
    assert kinds == {("cy", "not graded"), ("bad id!", "not graded"), ("dee", "not graded"), ("notes.txt", "ignored file")}


# --------------------------------------------------------------------------- real grading runs


def _course(root: Path) -> Course:
    root.mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", root)
    shutil.copytree(SOURCE.parent, root / "source" / "module_test")
    return Course(root)


def _grade(*args) -> subprocess.CompletedProcess:
    """The real command line: python -m ossllm_helpers grade ..."""
    result = subprocess.run([sys.executable, "-m", "ossllm_helpers", "grade", *args], capture_output=True, text=True,
                            env=nbgrader_env())
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def _scores(root: Path, assignment="module_test") -> dict:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}", "ossllm") as gb:
        return {s.student.id: {g.name: g.score for nb in s.notebooks for g in nb.grades}
                for s in gb.assignment_submissions(assignment)}


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    """A class with every kind of honest mistake, graded end to end with `grade release` and `grade all`."""
    require_sandbox()
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
        "syntax": craft.syntax_error(release_nb, src),
        "loop": craft.infinite_loop(release_nb, src),
        "deleted": craft.deleted_test_cell(release_nb, src),
        "gutted": craft.deleted_question(release_nb, src),  # nbgrader itself fails on this one
        "edited": craft.edited_test_cell(release_nb, src),
        "wrongtype": craft.wrong_type(release_nb, src),
        "empty": craft.empty_notebook(release_nb),
        "half": craft.half_done(release_nb, src),
        "copied": craft.duplicated_cell(release_nb, src),
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
            "crafted": crafted, "report": (course.root / "grading" / "report.txt").read_text()}




def _full(src):
    return craft.earned(src, craft.solutions(src))


@pytest.mark.notebooks
@pytest.mark.grading
def test_full_marks_and_zero_marks(graded_class):
    rows, full = graded_class["rows"], _full(graded_class["src"])
    assert float(rows["full"]["score"]) == full == float(rows["full"]["max"]) and rows["full"]["passed"] == "yes"
    assert rows["full"]["problems"] == ""
    assert float(rows["source"]["score"]) == full and rows["source"]["problems"] == ""
    assert rows["blank"]["percent"] == "0.0" and rows["blank"]["passed"] == "no"
    assert "blank submission" in rows["blank"]["problems"]


@pytest.mark.notebooks
@pytest.mark.grading
def test_every_honest_mistake_is_graded_or_reported(graded_class):
    rows, src, report = graded_class["rows"], graded_class["src"], graded_class["report"]
    pts, letters, numbers = craft.points(src), craft.letter_questions(src), craft.number_questions(src)
    full = _full(src)
    expected = {  # student: (kind in the report, points the mistake costs)
        "syntax": ("syntax error", pts[letters[2]]),
        "loop": ("timeout", 0),  # the answer was set before the loop started
        "deleted": ("deleted test cell", 0),  # nbgrader put the test back and it passed
        "edited": ("edited test cell", pts[letters[7]]),  # the rewritten test did not save a wrong answer
        "wrongtype": ("malformed answer", pts[letters[0]] + pts[numbers[-1]]),
        "gutted": ("graded on a second try", pts[letters[3]]),
        "copied": ("", 0),  # a copy-pasted cell: graded as the rest (plain nbgrader cannot grade it at all)
    }
    for student, (kind, lost) in expected.items():
        row = rows[student]
        assert kind in row["problems"], (student, row["problems"])
        assert float(row["score"]) == full - lost, (student, row)
        assert student in report and kind in report
    assert f"{TIMEOUT} s" in rows["loop"]["problems"]
    gutted = rows["gutted"]["problems"]
    assert f"KeyError: '{letters[3]}_answer'" in gutted and "deleted answer cell" in gutted
    assert f"needs manual grade: cells without an automatic score: {letters[3]}_test" in gutted
    half = rows["half"]
    assert "malformed answer" in half["problems"] and 0 < float(half["score"]) < full
    for student, why in (("empty", "empty notebook"), ("corrupt", "invalid notebook"), ("misnamed", "Module Test (1)"),
                         ("absent", "no submission")):
        row = rows[student]  # never 0 and "no": not graded, and why
        assert row["passed"] == "not graded" and row["score"] == "" and why in row["problems"], row
        assert f"{student:<24}" in report and "not graded" in report


@pytest.mark.notebooks
@pytest.mark.grading
def test_kernels_ran_ahead_of_nbgrader(graded_class):
    """The forecast of each plan matched nbgrader's own sanitising for every submission it could foresee."""
    m = re.search(r"runs: (\d+) forecast used", graded_class["output"])
    assert m and int(m.group(1)) >= len(graded_class["crafted"]) - 3, graded_class["output"]


@pytest.mark.notebooks
@pytest.mark.grading
def test_scores_equal_plain_nbgrader_cell_by_cell(graded_class, tmp_path):
    """Regrade the same submissions with plain `nbgrader autograde` (no sandbox) and compare every cell's score."""
    course = graded_class["course"]
    ours = _scores(course.root)
    plain = shutil.copytree(course.root, tmp_path / "plain", ignore=shutil.ignore_patterns(
        "gradebook.db", "autograded", "feedback", "grading", "exchange"))
    subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", "module_test", "--force"],
                   cwd=plain, env=nbgrader_env(), capture_output=True, check=True)
    # plain nbgrader fails on these: a deleted neighbour pair, a copy-pasted cell (SchemaTooOldError), an empty and
    # a corrupt file (which the workflow reports as not graded before nbgrader sees them)
    for student in ("gutted", "copied", "empty", "corrupt"):
        shutil.rmtree(plain / "submitted" / student)
    result = subprocess.run([sys.executable, "-m", "nbgrader", "autograde", "module_test", "--force",
                             "--OverwriteCells.add_missing_cells=True", f"--Execute.timeout={TIMEOUT}",
                             f"--ExecutePreprocessor.timeout={TIMEOUT}"],
                            cwd=plain, env=nbgrader_env(), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    theirs = _scores(plain)
    for student in ("gutted", "copied"):
        ours.pop(student)
    assert theirs == ours and len(ours) == len(graded_class["crafted"]) - 3  # empty, gutted, copied


@pytest.mark.notebooks
@pytest.mark.grading
def test_feedback_shows_scores_but_no_hidden_test_or_answer(graded_class):
    course, src = graded_class["course"], graded_class["src"]
    lines = hidden_lines(load_notebook(SOURCE))
    pages = sorted((course.root / "feedback").glob("*/module_test/module_test.html"))
    assert {p.parts[-3] for p in pages} >= {"full", "blank", "syntax", "loop", "deleted", "edited", "wrongtype", "half"}
    for page in pages:
        text = visible_text(page.read_text())
        assert "BEGIN HIDDEN TESTS" not in text and "AssertionError" not in text and "Score:" in text
        assert find_leaks(page.read_text(), lines) == []
    wrong = visible_text(course.feedback_html("wrongtype").read_text())
    assert "Not passed" in wrong and f"{craft.letter_questions(src)[0]} = 3" in wrong


@pytest.mark.notebooks
@pytest.mark.grading
def test_answers_as_graded_are_kept_for_item_analysis(graded_class):
    data = json.loads((graded_class["course"].root / "grading" / "answers.json").read_text())
    key = craft.key(graded_class["src"])
    assert data["full"]["module_test"] == key
    first = craft.letter_questions(graded_class["src"])[0]
    assert data["wrongtype"]["module_test"][first] == 3 and "empty" not in data


@pytest.mark.notebooks
@pytest.mark.grading
def test_self_check_in_a_real_kernel_names_unanswered_and_malformed(graded_class, tmp_path):
    from nbclient import NotebookClient

    src = graded_class["src"]
    nb = craft.half_done(graded_class["release"], src)
    NotebookClient(nb, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    cell = next(c for c in nb.cells if _meta(c).get("grade_id") == "self_check")
    text = "".join(o.get("text", "") for o in cell.outputs)
    letters, numbers = craft.letter_questions(src), craft.number_questions(src)
    assert f"of {len(craft.solutions(src))}" in text
    assert "unanswered (still None): " in text and sorted(craft.solutions(src))[-1] in text.split("unanswered")[1]
    assert f"{letters[0]}: malformed: 'Z' is not one of A, B, C, D" in text
    assert f"{numbers[0]}: malformed: str 'about 90'" in text
    assert f"{letters[1]}:" not in text  # lower case is well formed; whether it is right is not said
    assert not re.search(r"\b(correct|incorrect|wrong)\b", text, re.I)


@pytest.mark.notebooks
@pytest.mark.grading
def test_exchange_round_trip_release_submit_collect_feedback(tmp_path):
    """Through nbgrader's exchange: release, a student fetches and submits, collect, grade, feedback comes back."""
    require_sandbox()
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
    assert len(pages) == 1 and "BEGIN HIDDEN TESTS" not in visible_text(pages[0].read_text())


@pytest.mark.notebooks
@pytest.mark.grading
def test_a_lesson_grades_as_plain_nbgrader_grades_it(tmp_path):
    """The same workflow grades a lesson, whose hidden tests call the student's functions (code tests)."""
    require_sandbox()
    lesson = "lesson01"
    root = tmp_path / "course"
    root.mkdir()
    shutil.copy(ROOT / "nbgrader_config.py", root)
    shutil.copytree(ROOT / "source" / lesson, root / "source" / lesson)
    _grade("release", "--course", str(root), "--assignment", lesson)
    name = Course(root, lesson).notebook
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(root / "source" / lesson / f"{name}.ipynb", inbox / "teacher.ipynb")
    shutil.copy(root / "release" / lesson / f"{name}.ipynb", inbox / "blank.ipynb")
    _grade("all", "--course", str(root), "--assignment", lesson, "--from", str(inbox), "--timeout", "60")
    ours = _scores(root, lesson)
    plain = shutil.copytree(root, tmp_path / "plain", ignore=shutil.ignore_patterns(
        "gradebook.db", "autograded", "feedback", "grading", "exchange"))
    subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", lesson, "--force"],
                   cwd=plain, env=nbgrader_env(), capture_output=True, check=True)
    result = subprocess.run([sys.executable, "-m", "nbgrader", "autograde", lesson, "--force"], cwd=plain,
                            env=nbgrader_env(), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert _scores(plain, lesson) == ours and sum(ours["teacher"].values()) > sum(ours["blank"].values())
