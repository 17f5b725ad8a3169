"""Lesson 8's exercises: a plausible wrong answer to each is caught by the visible tests with a message that helps,
and the source solutions pass every test, hidden ones included (no kernel: tests/exercises.py)."""

import pytest

import exercises as ex

LESSON = "lesson08"

_CLASSIFY_NO_CASE = '''
def classify_licence(licence_id):
    if not isinstance(licence_id, str) or not licence_id.strip():
        return "unknown"
    if licence_id in LICENCE_TABLE:
        return LICENCE_TABLE[licence_id]
    if licence_id.startswith("llama") or "rail" in licence_id:
        return "restricted"
    if licence_id.startswith("cc-by-nc"):
        return "research-only"
    return "unknown"
'''

_CLASSIFY_RULES_FIRST = '''
def classify_licence(licence_id):
    if not isinstance(licence_id, str) or not licence_id.strip():
        return "unknown"
    lid = licence_id.strip().lower()
    if lid.startswith("llama") or "rail" in lid:
        return "restricted"
    if lid.startswith("cc-by-nc"):
        return "research-only"
    return LICENCE_TABLE.get(lid, "unknown")
'''

_ALLOWED_INTERNAL_EXEMPT = '''
def allowed_models(terms, *, commercial, mau=0, accept_use_policy=True, finetune_name=None, internal_only=False):
    allowed = []
    for m in terms:
        if m["tier"] not in ("permissive", "restricted", "research-only"):
            continue
        if m["tier"] == "research-only" and commercial and not internal_only:
            continue  # the misconception: "internal use is not commercial"
        if m["mau_limit"] is not None and mau > m["mau_limit"]:
            continue
        if not accept_use_policy and m["use_policy"] is not False:
            continue
        if finetune_name is not None and m["name_prefix"] and not finetune_name.startswith(m["name_prefix"]):
            continue
        allowed.append(m["key"])
    return sorted(allowed)
'''

_ALLOWED_NAMING_IGNORED = '''
def allowed_models(terms, *, commercial, mau=0, accept_use_policy=True, finetune_name=None, internal_only=False):
    return sorted(m["key"] for m in terms
                  if m["tier"] in ("permissive", "restricted") or (m["tier"] == "research-only" and not commercial)
                  if m["mau_limit"] is None or mau <= m["mau_limit"])
'''

# (test cell, a wrong answer students plausibly write, words the visible failure message must contain)
WRONG = {
    "ids compared as written": ("ex1_classify_licence_tests", _CLASSIFY_NO_CASE, ["capitals and spaces", "rule 2"]),
    "fallback rules before the table": ("ex1_classify_licence_tests", _CLASSIFY_RULES_FIRST, ["llama1", "rule 3"]),
    "internal use taken as non-commercial": ("ex2_allowed_models_tests", _ALLOWED_INTERNAL_EXEMPT, ["section 6"]),
    "naming rule ignored": ("ex2_allowed_models_tests", _ALLOWED_NAMING_IGNORED, ["name_prefix", "rule 4"]),
}

SOLUTIONS = [("ex1_classify_licence", "ex1_classify_licence_tests"), ("ex2_allowed_models", "ex2_allowed_models_tests")]


def test_hidden_tests_treat_an_unrecorded_use_policy_as_a_possible_one():
    """Rule 3's 'None counts as a policy' is checked when graded (the test's docstring names it)."""
    ns = ex.namespace(LESSON)
    exec(_ALLOWED_INTERNAL_EXEMPT.replace("and not internal_only", "").replace(
        'm["use_policy"] is not False', 'm["use_policy"] is True'), ns)
    ex.visible(LESSON, "ex2_allowed_models_tests", ns)
    with pytest.raises(AssertionError):
        ex.full(LESSON, "ex2_allowed_models_tests", ns)
    assert "unrecorded" in ex.cell(LESSON, "ex2_allowed_models_tests").source.splitlines()[0]
