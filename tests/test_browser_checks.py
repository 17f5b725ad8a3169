"""The browser tier's own logic, no browser needed: what happens without Chromium, and its checks on crafted input."""

import os
import subprocess
import sys
from pathlib import Path

from browser.checks import quiz_overlap_problems, rendered_markdown_problems, traceback_problems

ROOT = Path(__file__).resolve().parents[1]


def _run_tier(tmp_path, **env):
    environ = {k: v for k, v in os.environ.items() if k != "CI"}
    environ.update(OSSLLM_CHROMIUM=str(tmp_path / "no-chromium-here"), **env)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-m", "browser", "-k", "lab_enter", "-p", "no:cacheprovider", "-q", "-rs",
         "tests/test_browser.py"],
        cwd=ROOT, env=environ, capture_output=True, text=True, timeout=300,
    )


def test_without_chromium_the_tier_is_skipped_with_one_line(tmp_path):
    run = _run_tier(tmp_path)
    assert run.returncode in (0, 5), run.stdout + run.stderr  # 5: nothing left to run
    hints = [line for line in run.stdout.splitlines() if "Chromium" in line]
    assert len(hints) == 1, run.stdout
    assert hints[0].startswith("SKIPPED") and "apt-get install chromium" in hints[0]


def test_under_ci_a_missing_chromium_fails_the_run(tmp_path):
    run = _run_tier(tmp_path, CI="true")
    assert run.returncode == 1, run.stdout + run.stderr
    assert "browser tier cannot run under CI: Chromium not found" in run.stdout


# ---------------------------------------------------------------- what a page must show, on crafted inputs


def _code(source="x = 1", count=1, outputs=(), nbgrader=None):
    cell = {"cell_type": "code", "source": source, "execution_count": count, "outputs": list(outputs), "metadata": {}}
    if nbgrader:
        cell["metadata"]["nbgrader"] = nbgrader
    return cell


def _error(name="AssertionError", value="wrong"):
    return {"output_type": "error", "ename": name, "evalue": value, "traceback": []}


ANSWER = {"solution": True, "grade": False, "grade_id": "ex1"}
TEST = {"solution": False, "grade": True, "grade_id": "ex1_tests", "points": 2}


def _lesson(*middle):
    """Setup, the first exercise (answer, failing test), then whatever Run All left unrun."""
    return {"cells": [_code(), *middle, _code("def f(): pass", nbgrader=ANSWER),
                      _code("assert f() == 1", outputs=[_error()], nbgrader=TEST),
                      _code("later()", count=None, nbgrader=ANSWER)]}


def test_only_the_first_exercise_test_may_fail():
    assert traceback_problems(_lesson()) == []
    assert traceback_problems(_lesson({"cell_type": "markdown", "source": "text", "metadata": {}})) == []
    broken = _lesson(_code("oh.fetch(x)", outputs=[_error("ConnectError", "no network")]))
    assert traceback_problems(broken)[0] == "cell 1: ConnectError: no network"
    printed = _lesson(_code(outputs=[{"output_type": "stream", "name": "stderr",
                                      "text": "Traceback (most recent call last):\n  ...\nValueError: x\n"}]))
    assert any("traceback printed on stderr" in p for p in traceback_problems(printed))
    skipped = _lesson(_code(count=None))
    assert traceback_problems(skipped) == ["cells [1] before the first expected failure did not run"]
    # an answer cell that raises is not the expected failure: its test is
    raising = {"cells": [_code(), _code("def f(): raise NotImplementedError", outputs=[_error("NotImplementedError")],
                                        nbgrader=ANSWER), _code(count=None, nbgrader=TEST)]}
    assert traceback_problems(raising) == ["cell 1: NotImplementedError: wrong"]
    # a companion notebook has no exercise: any error is a problem
    assert traceback_problems({"cells": [_code(outputs=[_error()])]}) == ["cell 0: AssertionError: wrong"]


def test_unrendered_markdown_is_found():
    cells = [
        {"index": 0, "text": "A bold claim with code.", "math": [1, 0]},
        {"index": 1, "text": "the goal is the best performance at a given **inference** budget", "math": []},
        {"index": 2, "text": "the model cards in `meta-llama/llama-models` on GitHub", "math": []},
        {"index": 3, "text": "ranks models on *its* benchmarks", "math": []},
        {"index": 4, "text": "Under  of compute.", "math": [18]},
        {"index": 5, "text": None, "math": []},
        {"index": 6, "text": "2 * 3 * 4 and a*b are arithmetic", "math": []},
    ]
    problems = rendered_markdown_problems(cells)
    assert [p.split(":")[0] for p in problems] == ["cell 1", "cell 2", "cell 3", "cell 4", "cell 5"]
    assert "'*its*'" in problems[2] and "typeset as maths" in problems[3]


def _box(top, bottom, left=0, right=300):
    return {"left": left, "right": right, "top": top, "bottom": bottom}


def test_overlapping_options_are_found():
    apart = [{"text": "a", "ink": _box(0, 40), "box": _box(0, 44)}, {"text": "b", "ink": _box(46, 70), "box": _box(45, 72)}]
    assert quiz_overlap_problems([apart], "x") == []
    # the second line of option 1 is drawn over option 2 (a fixed-height row with wrapping text)
    spill = [{"text": "long", "ink": _box(0, 40), "box": _box(0, 24)}, {"text": "b", "ink": _box(26, 44), "box": _box(24, 48)}]
    assert quiz_overlap_problems([apart, spill], "1400 px") == [
        "1400 px: question 2: options 1 and 2 overlap ('long' / 'b')"]
