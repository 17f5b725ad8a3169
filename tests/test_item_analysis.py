"""The item analysis: statistics checked by hand, a synthetic class with planted problems, a real grading run.

Pure tests first (no kernel, no nbgrader): difficulty, the corrected item-total correlation,
the upper group and alpha against values worked out by hand; classes with no spread, too few
students, students not graded, number questions; then a synthetic class of 30 built on the
module test's own questions, with a wrong key, a question everyone gets right and one no one
does: the CSV and the page name each. Last, marked ``notebooks`` and ``grading``: a small class
graded for real with a wrong key planted in the source, where ``grade all`` and ``grade items``
write grading/items.csv and grading/items.html.
"""

import csv
import math
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from crafted import submissions as craft
from hostile.sandbox_check import require_sandbox
from ossllm_helpers.course import nbgrader_env
from ossllm_helpers.grading import items, items_report
from ossllm_helpers.grading.feedback import visible_text
from ossllm_helpers.grading.items import Question, analyse, choice, pearson, upper_group
from ossllm_helpers.grading.paths import Course, load_notebook

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "source" / "module_test" / "module_test.ipynb"


def _q(name, points=1.0, kind="letter", key=None):
    return Question(f"{name}_test", name, points, kind, name, key)


# --------------------------------------------------------------------------- statistics, checked by hand

# five students, three right/wrong questions:   s1 1 1 1 | s2 1 1 0 | s3 1 0 0 | s4 0 0 1 | s5 0 0 0
MATRIX = {"s1": (1, 1, 1), "s2": (1, 1, 0), "s3": (1, 0, 0), "s4": (0, 0, 1), "s5": (0, 0, 0)}


def _hand_class():
    questions = [_q("a"), _q("b"), _q("c")]
    scores = {s: {q.grade_id: float(v) for q, v in zip(questions, row)} for s, row in MATRIX.items()}
    return questions, scores


def test_difficulty_discrimination_and_alpha_match_hand_computation():
    questions, scores = _hand_class()
    a = analyse(questions, scores)
    first, second, third = a.items
    assert [i.difficulty for i in a.items] == pytest.approx([0.6, 0.4, 0.4])
    assert [i.right for i in a.items] == [3, 2, 2]
    # a: scores 1 1 1 0 0, rest scores 2 1 0 1 0: cov 0.6 - 0.6*0.8 = 0.12, var 0.24 and 0.56
    assert first.discrimination == pytest.approx(0.12 / math.sqrt(0.24 * 0.56))
    # b: scores 1 1 0 0 0, rest 2 1 1 1 0: cov 0.6 - 0.4*1 = 0.2, var 0.24 and 0.4
    assert second.discrimination == pytest.approx(0.2 / math.sqrt(0.24 * 0.4))
    # c: scores 1 0 0 1 0, rest 2 2 1 0 0: cov 0.4 - 0.4*1 = 0: no separation at all
    assert third.discrimination == pytest.approx(0.0, abs=1e-12) and third.flag_codes == ["low"]
    assert first.flags == [] and second.flags == []
    # totals 3 2 1 1 0: variance 3 - 1.4^2 = 1.04; each item 0.24: alpha = 3/2 * (1 - 0.72/1.04)
    assert a.alpha == pytest.approx(1.5 * (1 - 0.72 / 1.04))
    assert a.totals == {"s1": 3, "s2": 2, "s3": 1, "s4": 1, "s5": 0} and a.max_total == 3
    d = a.describe()
    assert (d["mean"], d["median"], d["min"], d["max"]) == (1.4, 1, 0, 3) and d["sd"] == pytest.approx(math.sqrt(1.04))


def test_pearson_and_the_upper_group():
    assert pearson([1, 0, 1, 0], [3, 1, 3, 1]) == pytest.approx(1.0)
    assert pearson([1, 0, 1, 0], [1, 3, 1, 3]) == pytest.approx(-1.0)
    assert pearson([1, 1, 1], [1, 2, 3]) is None and pearson([0, 1, 0], [2, 2, 2]) is None
    # 27% of 5 rounds up to 2; the second-highest rest score is shared, so the tie is in: 3 students
    assert upper_group({"s1": 2, "s2": 1, "s3": 0, "s4": 1, "s5": 0}) == ["s1", "s2", "s4"]
    assert upper_group({f"s{i}": i for i in range(10)}) == ["s7", "s8", "s9"]
    assert upper_group({"x": 1}) == ["x"] and upper_group({}) == []


def test_partial_credit_and_points_weigh_in():
    questions = [_q("a", points=2, kind="number"), _q("b")]
    scores = {"s1": {"a_test": 2.0, "b_test": 1.0}, "s2": {"a_test": 1.0, "b_test": 0.0},
              "s3": {"a_test": 0.0, "b_test": 1.0}}
    a = analyse(questions, scores)
    assert a.items[0].difficulty == pytest.approx(3 / 6) and a.items[0].right == 1
    assert a.totals == {"s1": 3.0, "s2": 1.0, "s3": 1.0} and a.max_total == 3


def test_choices_are_counted_as_letters_blank_or_other():
    assert [choice(v) for v in ("C", " b ", "Z", "", None, 3, True, {"not a plain value": "function"})] == [
        "C", "B", "other", "other", "blank", "other", "other", "other"]


def test_options_for_letters_only_and_blanks_for_every_answer():
    questions = [_q("a", key="B"), _q("n", points=2, kind="number")]
    scores = {"s1": {"a_test": 1.0, "n_test": 2.0}, "s2": {"a_test": 0.0, "n_test": 0.0},
              "s3": {"a_test": 0.0, "n_test": 0.0}}
    choices = {"s1": {"a": "b", "n": 4.5}, "s2": {"a": "Q", "n": None}, "s3": {"a": None}}
    letter, number = analyse(questions, scores, choices).items
    assert letter.options == {"A": 0, "B": 1, "C": 0, "D": 0, "blank": 1, "other": 1} and letter.blank == 1
    assert number.options == {} and number.upper_options == {} and number.blank == 2  # None and never answered


def test_a_class_with_no_spread_says_so_and_divides_by_nothing():
    questions = [_q("a", key="A"), _q("b", key="B")]
    scores = {f"s{i}": {"a_test": 1.0, "b_test": 0.0} for i in range(6)}
    a = analyse(questions, scores, {f"s{i}": {"a": "A", "b": "C"} for i in range(6)})
    assert all(i.discrimination is None for i in a.items) and a.alpha is None
    assert a.items[0].no_discrimination == "everyone scored the same on it"
    assert a.items[0].flag_codes == ["easy"] and a.items[1].flag_codes == ["hard"]
    # the upper group is the whole class: a wrong option everyone chose is no sign of a wrong key here
    assert "wrong-key" not in a.items[1].flag_codes
    assert any("no spread" in n and "Every student scored 1 of 2" in n for n in a.notes)
    page = items_report.render(a)
    assert "n/a" in page and "not defined" in page


def test_small_classes_and_students_not_graded():
    questions, scores = _hand_class()
    two = {s: scores[s] for s in ("s1", "s5")}
    a = analyse(questions, two, not_graded={"late": "invalid notebook", "gone": "no submission"})
    assert a.students == 2 and all(i.discrimination is None for i in a.items)
    assert a.items[0].no_discrimination == "too few students (2; at least 3)"
    assert any(n.startswith("2 not graded, left out of every figure: gone, late") for n in a.notes)
    assert any("Only 2 students graded" in n for n in a.notes)
    empty = analyse(questions, {}, not_graded={"x": "empty notebook"})
    assert empty.students == 0 and all(i.difficulty is None for i in empty.items) and empty.describe() == {}
    page = items_report.render(empty)
    assert "No plots: no student was graded" in page and "nothing to analyse" in page


def test_cells_awaiting_a_hand_grade_count_as_zero_and_are_counted():
    questions, scores = _hand_class()
    scores["s1"]["a_test"] = None
    a = analyse(questions, scores)
    assert a.items[0].awaiting_hand_grade == 1 and a.totals["s1"] == 2


def test_a_wrong_key_needs_two_of_the_upper_group():
    questions = [_q("w", key="A"), _q("x"), _q("y")]
    rows = {"s1": (0, 1, 1), "s2": (1, 1, 0), "s3": (1, 0, 0), "s4": (1, 0, 0), "s5": (0, 0, 0)}
    scores = {s: {q.grade_id: float(v) for q, v in zip(questions, r)} for s, r in rows.items()}
    one = {"s1": {"w": "C"}, "s2": {"w": "A"}, "s3": {"w": "A"}, "s4": {"w": "A"}, "s5": {"w": "B"}}
    assert "wrong-key" not in analyse(questions, scores, one).items[0].flag_codes  # one strong student is no evidence
    rows["s2"] = (0, 1, 0)
    scores = {s: {q.grade_id: float(v) for q, v in zip(questions, r)} for s, r in rows.items()}
    two = {**one, "s2": {"w": "C"}}
    item = analyse(questions, scores, two).items[0]
    assert item.upper_options["C"] == 2 and item.upper_options["A"] == 0 and "wrong-key" in item.flag_codes


def test_no_one_right_but_the_strongest_agree_is_a_likely_wrong_key():
    questions = [_q("w", key="A"), _q("x"), _q("y")]
    rows = {"s1": (0, 1, 1), "s2": (0, 1, 1), "s3": (0, 1, 0), "s4": (0, 0, 0), "s5": (0, 0, 0), "s6": (0, 0, 0)}
    scores = {s: {q.grade_id: float(v) for q, v in zip(questions, r)} for s, r in rows.items()}
    agree = {"s1": {"w": "D"}, "s2": {"w": "D"}, "s3": {"w": "B"}, "s4": {"w": "B"}, "s5": {"w": "C"}, "s6": {"w": "B"}}
    item = analyse(questions, scores, agree).items[0]
    assert item.flag_codes == ["hard", "wrong-key"] and "chose D 2 times, the key A 0 times" in item.flags[1][1]
    spread = {**agree, "s2": {"w": "C"}}  # the upper group split: no answer they agree on
    assert analyse(questions, scores, spread).items[0].flag_codes == ["hard"]
    popular = {s: {"w": "D"} for s in rows}  # everyone's favourite wrong answer: a good distractor, not a wrong key
    assert analyse(questions, scores, popular).items[0].flag_codes == ["hard"]


# --------------------------------------------------------------------------- a synthetic class with planted problems


def synthetic_class(n: int = 30, seed: int = 15):
    """A class of ``n`` on the module test's own questions, with three planted problems.

    Returns (questions, scores, choices, planted): ``planted`` names the question whose key is
    wrong (the strong students choose another letter, the one a corrected key would name), the
    one everyone gets right and the one no one does. Everything else follows ability.
    """
    questions = items.questions_of(load_notebook(SOURCE))
    letters = [q for q in questions if q.kind == "letter"]
    planted = {"wrong_key": letters[2].label, "easy": letters[4].label, "hard": letters[10].label}
    numbers = craft.key(nbformat.read(SOURCE, as_version=4))
    rng = random.Random(seed)
    scores, choices = {}, {}
    for i in range(n):
        ability, student = (i + 0.5) / n, f"student{i + 1:02d}"
        scores[student], choices[student] = {}, {}
        for j, q in enumerate(questions):
            difficulty = 0.3 + 0.4 * ((j * 7) % 11) / 10
            knows = rng.random() < 1 / (1 + math.exp(-10 * (ability - difficulty)))
            if q.kind == "number":
                key = float(numbers[q.answer])
                value = key if knows else (None if rng.random() < 0.3 else round(key * 2 + 1, 3))
                choices[student][q.answer] = value
                scores[student][q.grade_id] = q.points if knows else 0.0
                continue
            wrong = [x for x in "ABCD" if x != q.key]
            if q.label == planted["easy"]:
                picked = q.key
            elif q.label == planted["hard"]:
                picked = wrong[i % 3]  # spread evenly over the wrong letters, whatever the student's ability
            elif q.label == planted["wrong_key"]:
                truth = wrong[0]  # the letter the key should have named: the strong students pick it
                if rng.random() < 1 / (1 + math.exp(-10 * (ability - 0.4))):
                    picked = truth
                else:  # the others fall for the letter the key names, or guess
                    picked = q.key if rng.random() < 0.6 else rng.choice(wrong[1:])
            else:
                picked = q.key if knows else rng.choice(wrong)
            choices[student][q.answer] = picked
            scores[student][q.grade_id] = q.points if picked == q.key else 0.0
    return questions, scores, choices, planted


@pytest.fixture(scope="module")
def synthetic():
    questions, scores, choices, planted = synthetic_class()
    analysis = analyse(questions, scores, choices, not_graded={"latecomer": "invalid notebook: not JSON"},
                       assignment="module_test")
    return analysis, planted


def _item(analysis, label):
    return next(i for i in analysis.items if i.question.label == label)


def test_the_planted_wrong_key_is_flagged_and_no_other(synthetic):
    analysis, planted = synthetic
    item = _item(analysis, planted["wrong_key"])
    assert item.discrimination < 0 and "negative" in item.flag_codes and "wrong-key" in item.flag_codes
    truth = max((n, o) for o, n in item.upper_options.items() if o != item.question.key)[1]
    assert item.upper_options[truth] > item.upper_options[item.question.key]
    assert [i.question.label for i in analysis.items if "wrong-key" in i.flag_codes] == [planted["wrong_key"]]
    assert [i.question.label for i in analysis.items if "negative" in i.flag_codes] == [planted["wrong_key"]]


def test_the_planted_easy_and_hard_questions_are_flagged(synthetic):
    analysis, planted = synthetic
    easy, hard = _item(analysis, planted["easy"]), _item(analysis, planted["hard"])
    assert easy.difficulty == 1.0 and easy.flag_codes == ["easy"] and easy.options[easy.question.key] == 30
    assert hard.difficulty == 0.0 and hard.flag_codes == ["hard"] and hard.options[hard.question.key] == 0
    assert easy.discrimination is None and easy.no_discrimination == "everyone scored the same on it"
    assert {i.question.label for i in analysis.items if {"easy", "hard"} & set(i.flag_codes)} == {
        planted["easy"], planted["hard"]}
    # the rest of the test works: most questions separate stronger from weaker students well
    good = [i for i in analysis.items if i.discrimination is not None and i.discrimination >= 0.3]
    assert len(good) >= len(analysis.items) - 6 and analysis.alpha > 0.7


def test_the_csv_and_the_page_name_each_planted_problem(synthetic, tmp_path):
    analysis, planted = synthetic
    items_report.write_csv(analysis, tmp_path / "items.csv")
    rows = {r["question"]: r for r in csv.DictReader(open(tmp_path / "items.csv"))}
    assert list(rows) == [q.question.label for q in analysis.items] and len(rows) == 25
    assert set(rows[planted["wrong_key"]]["flags"].split()) == {"negative", "wrong-key"}
    assert float(rows[planted["wrong_key"]]["discrimination"]) < 0  # a number a spreadsheet reads as one
    assert rows[planted["easy"]]["flags"] == "easy" and rows[planted["hard"]]["flags"] == "hard"
    assert rows[planted["easy"]]["difficulty"] == "1.000" and rows[planted["easy"]]["discrimination"] == ""
    number = next(r for r in rows.values() if r["kind"] == "number")
    assert number["A"] == "" and number["key"] == "" and number["blank"] != ""
    page = items_report.render(analysis)
    flagged = visible_text(page.split("<h2>Flagged questions</h2>")[1].split("<h2>")[0])
    assert f"{planted['wrong_key']}: negative discrimination" in flagged and "likely wrong key" in flagged
    assert f"{planted['easy']}: nearly everyone right (30 of 30)" in flagged
    assert f"{planted['hard']}: nearly no one right (0 of 30)" in flagged
    assert len(re.findall(r'src="data:image/png;base64,[A-Za-z0-9+/=]{1000,}"', page)) == 3
    text = visible_text(page)
    assert "30 students graded, 1 not graded" in text and "latecomer" in text
    assert "corrected item-total correlation" in text and "point-biserial" in text and "pass mark 80%" in text.lower()


def test_the_page_and_the_csv_escape_what_they_quote(tmp_path):
    questions = [Question("<b>x</b>_test", "<script>alert(1)</script>", 1.0)]
    a = analyse(questions, {"s": {"<b>x</b>_test": 1.0}}, not_graded={"<img src=x>": "bad"})
    page = items_report.render(a)
    assert "<script>alert" not in page and "<img src=x>" not in page and "&lt;script&gt;" in page
    formula = analyse([Question("=cmd()_test", "=cmd()", 1.0)], {"s": {"=cmd()_test": 1.0}})
    items_report.write_csv(formula, tmp_path / "items.csv")
    row = next(csv.DictReader(open(tmp_path / "items.csv")))
    assert row["question"] == "'=cmd()" and row["grade_id"] == "'=cmd()_test"  # a spreadsheet shows it as text


# --------------------------------------------------------------------------- a real grading run


def _grade(*args) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "ossllm_helpers", "grade", *args], capture_output=True, text=True,
                            env=nbgrader_env())
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


@pytest.mark.notebooks
@pytest.mark.grading
def test_a_grading_run_writes_the_item_analysis_and_flags_a_planted_wrong_key(tmp_path):
    """A class graded for real: the source's key for one question is wrong, and the analysis says which."""
    require_sandbox()
    src = nbformat.read(SOURCE, as_version=4)
    key, letters = craft.solutions(src), craft.letter_questions(src)
    bad, easy, hard = letters[2], letters[4], letters[10]
    right = key[bad].strip('"')
    wrong = next(x for x in "ABCD" if x != right)
    root = tmp_path / "course"
    root.mkdir()
    shutil.copy(ROOT / "nbgrader_config.py", root)
    shutil.copytree(SOURCE.parent, root / "source" / "module_test")
    nb_path = root / "source" / "module_test" / "module_test.ipynb"
    planted = nb_path.read_text().replace(f'{bad} = \\"{right}\\"', f'{bad} = \\"{wrong}\\"').replace(
        f'upper() == \\"{right}\\"', f'upper() == \\"{wrong}\\"', 1)
    assert planted.count(f'\\"{wrong}\\"') > nb_path.read_text().count(f'\\"{wrong}\\"')
    nb_path.write_text(planted)  # the instructor's slip: the key now says `wrong`; the right answer is `right`
    _grade("release", "--course", str(root))
    release_nb = nbformat.read(root / "release" / "module_test" / "module_test.ipynb", as_version=4)
    names = sorted(key)
    inbox = tmp_path / "inbox"
    for i in range(8):  # strong students first: student i gets the first (len - 3i) questions right
        answers = {n: key[n] if k < len(names) - 3 * i else craft.wrong_answer(src, n) for k, n in enumerate(names)}
        answers[bad] = f'"{right}"' if i < 3 else f'"{wrong}"'  # the strong ones know; the weak ones fall for it
        answers[easy], answers[hard] = key[easy], craft.wrong_answer(src, hard)
        craft.write_notebook(craft.with_answers(release_nb, answers), inbox / f"s{i}.ipynb")
    craft.write_notebook(craft.empty_notebook(release_nb), inbox / "empty.ipynb")
    run = _grade("all", "--course", str(root), "--from", str(inbox), "--timeout", "5", "--jobs", "2")
    assert "item analysis:" in run.stdout and "8 students graded, 1 not graded" in run.stdout
    course = Course(root)
    rows = {r["question"]: r for r in csv.DictReader(open(course.state / "items.csv"))}
    assert set(rows[bad]["flags"].split()) == {"negative", "wrong-key"} and rows[bad]["key"] == wrong
    assert rows[bad]["upper_choices"] == f"{right}:3"
    assert rows[easy]["flags"] == "easy" and rows[hard]["flags"] == "hard"
    assert rows[easy]["right"] == "8" and rows[hard]["right"] == "0"
    page = visible_text((course.state / "items.html").read_text())
    assert "8 students graded, 1 not graded" in page and "empty" in page and "likely wrong key" in page
    (course.state / "items.csv").unlink()
    again = _grade("items", "--course", str(root))  # its own command gives the same analysis
    assert (course.state / "items.csv").is_file() and "flagged:" in again.stdout and bad in again.stdout
