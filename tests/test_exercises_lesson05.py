"""Lesson 5's exercises: a plausible wrong answer to each is caught by the visible tests with a message that helps,
and the source solutions pass every test, hidden ones included (no kernel: tests/exercises.py)."""

import pytest

import exercises as ex

LESSON = "lesson05"

_SCORER = '''
import string


def normalise(text):
    words = (w.strip(string.punctuation) for w in text.lower().split())
    return " ".join(w for w in words if w)


def score(answer, accepted, match):
    if match not in ("exact", "contains"):
        raise ValueError(match)
    got = normalise(answer)
    for ref in accepted:
        want = normalise(ref)
        if match == "exact" and got == want:
            return 1
        if match == "contains" and CONTAINS(want, got):
            return 1
    return 0
'''

# "contains" as a substring test: finds "4" inside "14"
_SUBSTRING = _SCORER.replace("CONTAINS(want, got)", "want in got")
# "contains" as a set of words: ignores the order of a phrase's words
_WORD_SET = _SCORER.replace("CONTAINS(want, got)", "want and all(w in got.split() for w in want.split())")
# every punctuation character removed, inside words too: "3.5" becomes "35"
_ALL_PUNCTUATION = _SCORER.replace(
    "words = (w.strip(string.punctuation) for w in text.lower().split())",
    'words = ("".join(ch for ch in w if ch not in string.punctuation) for w in text.lower().split())',
).replace("CONTAINS(want, got)", "want in got")

_PASS_AT_K_BIASED = '''
def pass_at_k(n, c, k):
    if not (0 <= c <= n and 1 <= k <= n):
        raise ValueError((n, c, k))
    return 1 - (1 - c / n) ** k
'''

_PASS_AT_K_BIASED_EDGE = '''
def pass_at_k(n, c, k):
    if not (0 <= c <= n and 1 <= k <= n):
        raise ValueError((n, c, k))
    if n - c < k:
        return 1.0
    return 1 - (1 - c / n) ** k
'''

_PASS_AT_K_NO_CHECK = '''
import math


def pass_at_k(n, c, k):
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)
'''

_MEAN_OF_MEANS = '''
def accuracy_by_category(rows):
    if not rows:
        raise ValueError("no rows")
    by_cat = {}
    for r in rows:
        by_cat.setdefault(r["category"], []).append(r["score"])
    result = {c: sum(v) / len(v) for c, v in by_cat.items()}
    result["overall"] = sum(result.values()) / len(result)
    return result
'''

# (test cell, a wrong answer students plausibly write, words the visible failure message must contain)
WRONG = {
    "contains as a substring": ("ex1_scorer_tests", _SUBSTRING, ["whole words", "'14'"]),
    "punctuation removed inside words": ("ex1_scorer_tests", _ALL_PUNCTUATION, ["start and end of a word"]),
    "pass@k with replacement": ("ex2_pass_at_k_tests", _PASS_AT_K_BIASED, ["n - c < k", "1.0"]),
    "pass@k with replacement, edge case patched": ("ex2_pass_at_k_tests", _PASS_AT_K_BIASED_EDGE, ["without replacement"]),
    "no input check": ("ex2_pass_at_k_tests", _PASS_AT_K_NO_CHECK, ["ValueError"]),
    "overall as the mean of category means": ("ex3_by_category_tests", _MEAN_OF_MEANS, ["mean of the category means"]),
}

SOLUTIONS = [
    ("ex1_scorer", "ex1_scorer_tests"),
    ("ex2_pass_at_k", "ex2_pass_at_k_tests"),
    ("ex3_by_category", "ex3_by_category_tests"),
]


def test_hidden_tests_reject_a_phrase_matched_out_of_order():
    """A scorer that ignores the order of a phrase's words passes the visible tests; the hidden ones, named in the
    test's docstring, reject it."""
    ns = ex.namespace(LESSON)
    exec(_WORD_SET, ns)
    ex.visible(LESSON, "ex1_scorer_tests", ns)
    with pytest.raises(AssertionError):
        ex.full(LESSON, "ex1_scorer_tests", ns)
    assert "out of order" in ex.cell(LESSON, "ex1_scorer_tests").source.splitlines()[0]
