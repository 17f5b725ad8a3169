"""Every lesson's exercises: the visible tests catch plausible wrong answers, the source solutions pass everything.

The cases live beside each lesson's own checks, in tests/test_exercises_<lesson>.py (WRONG and SOLUTIONS).
"""

import importlib
from pathlib import Path

import pytest

import exercises as ex

CASE_MODULES = sorted(p.stem for p in Path(__file__).parent.glob("test_exercises_lesson*.py"))


def _cases(name):
    out = []
    for module_name in CASE_MODULES:
        module = importlib.import_module(module_name)
        data = getattr(module, name)
        items = data.items() if isinstance(data, dict) else enumerate(data)
        out += [pytest.param(module.LESSON, value, id=f"{module.LESSON}-{key}") for key, value in items]
    return out


@pytest.mark.parametrize("lesson, case", _cases("WRONG"))
def test_visible_tests_catch_a_plausible_wrong_answer(lesson, case):
    """The visible tests fail on the wrong answer, with a message that points at the mistake."""
    test_id, wrong, words = case
    ns = ex.namespace(lesson)
    exec(wrong, ns)
    with pytest.raises(AssertionError) as err:
        ex.visible(lesson, test_id, ns)
    message = str(err.value)
    assert message, "the visible assert must carry a message"
    for word in words:
        assert word in message, f"message {message!r} lacks {word!r}"


@pytest.mark.parametrize("lesson, case", _cases("SOLUTIONS"))
def test_source_solution_passes_the_whole_cell(lesson, case):
    """The source solution passes the visible and the hidden tests."""
    answer, test_id = case
    ns = ex.namespace(lesson)
    ex.solve(lesson, answer, ns)
    ex.full(lesson, test_id, ns)


def test_every_lesson_keeps_wrong_answers_for_every_exercise():
    """Each lesson with exercises keeps at least one plausible wrong answer per exercise test cell."""
    for module_name in CASE_MODULES:
        module = importlib.import_module(module_name)
        caught = {test_id for test_id, _, _ in module.WRONG.values()}
        tested = {test_id for _, test_id in module.SOLUTIONS}
        assert tested <= caught, f"{module.LESSON}: no wrong answer kept for {sorted(tested - caught)}"
