"""The module test's text source: its answer contract, its self-check, and what test-taking strategies score.

Fast tier: reads source/module_test/module_test.md with jupytext and runs the hidden tests' own code
(no kernel, no nbgrader). The figures themselves come from tests/content_lint.py; here a guesser's
answers go through the real hidden tests, so the lint's arithmetic is checked against the grader's.
"""

import ast
import io
import re
from contextlib import redirect_stdout
from pathlib import Path

import jupytext
import pytest

import content_lint
from ossllm_helpers import selfcheck
from ossllm_helpers.constants import PASS_PERCENT

ROOT = Path(__file__).resolve().parents[1]
TEXT = ROOT / "source" / "module_test" / "module_test.md"
HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", re.S)
HEADING = re.compile(r"^### Question (\d+) \((\d+) (points?)\) · Lesson ([1-8])$", re.M)


def _meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


@pytest.fixture(scope="module")
def nb():
    return jupytext.read(TEXT, fmt="md:myst")


@pytest.fixture(scope="module")
def cells(nb):
    return {_meta(c).get("grade_id"): c for c in nb.cells if _meta(c).get("grade_id")}


@pytest.fixture(scope="module")
def names(cells):
    return sorted(g.removesuffix("_question") for g in cells if re.fullmatch(r"q\d\d_question", g))


def solution(cells, name):
    """The source answer: the value the solution region assigns (a letter string or a computed number)."""
    src = cells[f"{name}_answer"].source
    body = re.search(r"### BEGIN SOLUTION\n(.*?)\n### END SOLUTION", src, re.S).group(1)
    (stmt,) = ast.parse(body).body
    assert isinstance(stmt, ast.Assign) and [t.id for t in stmt.targets] == [name], f"{name}: one assignment to {name}"
    # a literal, so the grading report (ossllm_helpers/instructor.py) can tell a letter question from a number one
    return ast.literal_eval(stmt.value)


def passes(cells, name, value) -> bool:
    """Whether the hidden tests of question `name` accept `value` (run as the grader runs them)."""
    (code,) = HIDDEN.findall(cells[f"{name}_test"].source)
    try:
        exec(code, {name: value})
    except AssertionError:
        return False
    return True


def score(cells, names, answers) -> float:
    return sum(float(_meta(cells[f"{n}_test"])["points"]) for n in names if passes(cells, n, answers.get(n)))


# ---------------------------------------------------------------- the answer contract


def test_questions_are_numbered_and_headed_with_points_and_lesson(cells, names):
    assert names == [f"q{i:02d}" for i in range(1, len(names) + 1)]
    for i, name in enumerate(names, 1):
        head = HEADING.search(cells[f"{name}_question"].source)
        assert head, f"{name}: heading must read '### Question N (P point[s]) · Lesson L'"
        points = _meta(cells[f"{name}_test"])["points"]
        assert int(head.group(1)) == i and int(head.group(2)) == points
        assert head.group(3) == ("point" if points == 1 else "points")


def test_every_question_says_which_skill_it_measures(cells, names):
    skills = [cells[f"{n}_question"].metadata.get("ossllm", {}).get("skill") for n in names]
    assert set(skills) <= {"apply", "recall"} and None not in skills
    assert skills.count("apply") >= len(skills) / 2


def test_answers_are_plain_letters_or_numbers(cells, names):
    for name in names:
        value = solution(cells, name)
        question = cells[f"{name}_question"].source
        if isinstance(value, str):
            assert value in selfcheck.LETTERS
            assert re.findall(r"^- \*\*([A-D])\.\*\* \S", question, re.M) == list("ABCD"), f"{name}: options A-D"
        else:
            assert isinstance(value, (int, float)) and not isinstance(value, bool), f"{name}: {value!r}"
            assert "**A.**" not in question and "Answer with a number" in question


def test_test_cells_hold_hidden_tests_only_and_answer_cells_open_with_none(cells, names):
    for name in names:
        test = cells[f"{name}_test"].source
        visible = HIDDEN.sub("", test).strip()
        assert re.fullmatch(r'"""[^\n]*"""', visible), f"{name}: a student sees only the docstring"
        assert cells[f"{name}_answer"].source.startswith(f"{name} = None\n### BEGIN SOLUTION\n")
        assert _meta(cells[f"{name}_answer"]).get("solution") and not _meta(cells[f"{name}_answer"]).get("grade")


def test_source_solutions_pass_and_blanks_fail(cells, names):
    for name in names:
        assert passes(cells, name, solution(cells, name)), name
        assert not passes(cells, name, None), name


def test_numbers_are_scored_with_a_tolerance_that_separates_the_usual_slips(cells, names):
    """A number question rejects the answer of the misconception it targets."""
    slips = {
        # Llama 4 Scout: the active parameters instead of the total
        "q09": 17e9 * 4.5 / 8 / 1e9,
        # pass@2 with the biased shortcut 1 - (1 - c/n)^k
        "q15": ((1 - (1 - 2 / 5) ** 2) + 0) / 2,
        # GB instead of GiB; keys without values
        "q19": (14e9 * 4.9 / 8 + 2 * 40 * 8192 * 8 * 128 * 2) / 1e9,
    }
    numeric = [n for n in names if not isinstance(solution(cells, n), str)]
    assert sorted(slips) == numeric, "update the slips when the number questions change"
    for name, wrong in slips.items():
        assert not passes(cells, name, wrong), f"{name} accepts the slip {wrong}"
    assert not passes(cells, "q19", (14e9 * 4.9 / 8 + 40 * 8192 * 8 * 128 * 2) / 2**30)


def test_units_are_stated_once_and_each_size_question_names_its_unit(nb, cells, names):
    how_to = cells["how_to"].source
    assert "**GB** means 10<sup>9</sup> bytes" in how_to and "**GiB** means 2<sup>30</sup> bytes" in how_to
    for name in names:
        text = cells[f"{name}_question"].source
        if re.search(r"How many GiB?\b", text):
            unit = re.search(r"How many (GiB|GB)", text).group(1)
            assert ("2<sup>30</sup>" if unit == "GiB" else "10<sup>9</sup>") in text, name


def test_pass_mark_comes_from_constants(nb):
    header = nb.cells[0].source
    assert "{{ pass_percent }}%" in header and "{{ pass_points }}" in header
    assert PASS_PERCENT == 80


# The fact each key must point at: a slip in the key (a letter moved with its option) fails here.
KEY = {
    "q01": "Llama 3.1 Community License", "q02": "smaller model on far more tokens",
    "q03": "model that earns revenue stays closed", "q04": "8 times smaller", "q05": 'must begin with "Llama"',
    "q06": "against Llama 3.1 70B and 405B", "q07": "caches at most 4,096 positions", "q08": "experts the router picks",
    "q09": 109e9 * 4.5 / 8 / 1e9, "q10": "Switch to Qwen3-4B", "q11": "Gemma 4 is under Apache 2.0",
    "q12": "3B active per token", "q13": "Nothing yet", "q14": "released after March 2025",
    "q15": (1 - 3 / 10 + 0) / 2, "q16": "the uploader's word", "q17": "`hf download`", "q18": "(harmony)",
    "q19": (14e9 * 4.9 / 8 + 2 * 40 * 8192 * 8 * 128 * 2) / 2**30, "q20": "13B at Q2_K scored better",
    "q21": "About 20 tokens per second", "q22": "Open weights on its own servers", "q23": "pay per token",
    "q24": "multimodal models are withheld", "q25": "OLMo 2",
}


def test_each_key_points_at_its_fact(cells, names):
    assert sorted(KEY) == names, "update KEY when questions change"
    for name in names:
        value = solution(cells, name)
        if isinstance(value, str):
            options = dict(re.findall(r"^- \*\*([A-D])\.\*\* (.*)$", cells[f"{name}_question"].source, re.M))
            assert KEY[name] in options[value], f"{name}: key {value} is {options[value]!r}"
            assert sum(KEY[name] in text for text in options.values()) == 1, f"{name}: the fact appears twice"
        else:
            assert value == pytest.approx(KEY[name], abs=1e-3), name


# ---------------------------------------------------------------- the self-check


def test_self_check_lists_exactly_the_questions_with_their_kinds(cells, names):
    tree = ast.parse(cells["self_check"].source)
    lists = {t.id: ast.literal_eval(n.value) for n in tree.body if isinstance(n, ast.Assign)
             for t in n.targets if isinstance(t, ast.Name) and t.id.endswith("_QUESTIONS")}
    letters = [n for n in names if isinstance(solution(cells, n), str)]
    numbers = [n for n in names if n not in letters]
    assert lists == {"LETTER_QUESTIONS": letters, "NUMBER_QUESTIONS": numbers}


def test_self_check_passes_the_solutions_and_lists_the_blanks(cells, names):
    code = cells["self_check"].source
    solved = {n: solution(cells, n) for n in names}
    out = io.StringIO()
    with redirect_stdout(out):
        exec(code, dict(solved))
    assert f"well-formed answers: {len(names)} of {len(names)}" in out.getvalue()
    out = io.StringIO()
    with redirect_stdout(out):
        exec(code, {n: None for n in names})
    assert "unanswered (still None): " + ", ".join(names) in out.getvalue()


# ---------------------------------------------------------------- test-taking strategies, through the hidden tests


def _lint_and_total(cells, names):
    test = content_lint.read_module_test(TEXT)
    total = sum(float(_meta(cells[f"{n}_test"])["points"]) for n in names)
    assert test.total == total
    return test, total


def test_always_the_longest_option_scores_below_40_percent(cells, names):
    """Expected score of picking the longest option (a tie is broken at random), through the hidden tests."""
    test, total = _lint_and_total(cells, names)
    expected = 0.0
    for q in test.questions:
        if q.options:
            longest = [i for i, o in enumerate(q.options) if len(o) == max(map(len, q.options))]
            points = float(_meta(cells[f"{q.id}_test"])["points"])
            expected += points * sum(passes(cells, q.id, "ABCD"[i]) for i in longest) / len(longest)
    assert expected / total == pytest.approx(content_lint.longest_guesser_score(test))
    assert expected / total < content_lint.GUESSER_MAX


@pytest.mark.parametrize("letter", "ABCD")
def test_always_the_same_letter_scores_below_40_percent(cells, names, letter):
    test, total = _lint_and_total(cells, names)
    got = score(cells, names, {n: letter for n in names}) / total
    assert got < content_lint.GUESSER_MAX
    assert got <= content_lint.same_letter_best_score(test) + 1e-12


def test_the_module_test_passes_the_content_lint():
    assert content_lint.problems(content_lint.read_module_test(TEXT)) == []


def test_done_when_reports_every_assessment_and_the_module_test_stays_below():
    text, _ = content_lint.done_when(ROOT)
    quizzes = sorted(p.parent.name for p in ROOT.glob("source/*/quiz.answers.json"))
    for name in quizzes:
        assert re.search(rf"^  {name} quiz +always the longest option: +\d+%", text, re.M), name
    assert re.search(r"^  module test +always the longest option: +\d+%  ok$", text, re.M)
    assert re.search(r"^  module test +always the same letter: A \d+%, B \d+%, C \d+%, D \d+%  ok$", text, re.M)
