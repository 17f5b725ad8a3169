"""Lesson 1's exercises: a plausible wrong answer to each is caught by the visible tests with a message that helps,
and the source solutions pass every test, hidden ones included (no kernel: tests/exercises.py)."""

import pytest

import exercises as ex

LESSON = "lesson01"

_ORDER_DATE_ONLY = '''
def chronological(events):
    return [e["name"] for e in sorted(events, key=lambda e: e["date"])]
'''

_ORDER_IN_PLACE = '''
def chronological(events):
    events.sort(key=lambda e: (e["date"], e["name"]))
    return [e["name"] for e in events]
'''

_DAYS_ABSOLUTE = '''
def days_between(events, first, second):
    when = {e["name"]: date.fromisoformat(e["date"]) for e in events}
    return abs((when[second] - when[first]).days)
'''

_DAYS_NO_KEYERROR = '''
def days_between(events, first, second):
    when = {e["name"]: date.fromisoformat(e["date"]) for e in events}
    if first not in when or second not in when:
        return None
    return (when[second] - when[first]).days
'''

_PARENT_ONLY = '''
def is_finetune_of(name, base, models):
    if name not in models:
        raise KeyError(name)
    return models[name]["parent"] == base
'''

_NONE_FOR_BASE = '''
def is_finetune_of(name, base, models):
    parent = models[name]["parent"]
    while parent is not None:
        if parent == base:
            return True
        parent = models[parent]["parent"]
'''

# (test cell, a wrong answer students plausibly write, words the visible failure message must contain)
WRONG = {
    "ties left in input order": ("ex1_chronological_tests", _ORDER_DATE_ONLY, ["same date", "by name"]),
    "sorted in place": ("ex1_chronological_tests", _ORDER_IN_PLACE, ["changed the list", "copy"]),
    "gap without a sign": ("ex2_days_between_tests", _DAYS_ABSOLUTE, ["negative"]),
    "unknown name returns None": ("ex2_days_between_tests", _DAYS_NO_KEYERROR, ["KeyError"]),
    "parent only, no grandparents": ("ex3_is_finetune_of_tests", _PARENT_ONLY, ["parent's parent"]),
    "None for a base model": ("ex3_is_finetune_of_tests", _NONE_FOR_BASE, ["not None"]),
}

SOLUTIONS = [
    ("ex1_chronological", "ex1_chronological_tests"),
    ("ex2_days_between", "ex2_days_between_tests"),
    ("ex3_is_finetune_of", "ex3_is_finetune_of_tests"),
]


def test_hidden_tests_reject_a_model_counted_as_its_own_fine_tune():
    """What the visible tests leave out (a model against itself) is checked when graded, as the docstring says."""
    ns = ex.namespace(LESSON)
    exec('''
def is_finetune_of(name, base, models):
    if name not in models:
        raise KeyError(name)
    while name is not None:
        if name == base:
            return True
        name = models[name]["parent"]
    return False
''', ns)
    ex.visible(LESSON, "ex3_is_finetune_of_tests", ns)
    with pytest.raises(AssertionError):
        ex.full(LESSON, "ex3_is_finetune_of_tests", ns)
    assert "against itself" in ex.cell(LESSON, "ex3_is_finetune_of_tests").source.splitlines()[0]
