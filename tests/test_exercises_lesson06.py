"""Lesson 6's exercises: a plausible wrong answer to each is caught by the visible tests with a message that helps,
and the source solutions pass every test, hidden ones included (no kernel: tests/exercises.py)."""

import pytest

import exercises as ex

LESSON = "lesson06"


def _solution_with(old: str, new: str) -> str:
    """The source solution of exercise 1 with one line changed: a mistake students plausibly make."""
    src = ex.cell(LESSON, "ex1_parse_gguf_name").source
    body = src.split("### BEGIN SOLUTION\n", 1)[1].split("    ### END SOLUTION", 1)[0]
    head = src.split("    ### BEGIN SOLUTION", 1)[0]
    assert old in body, f"the solution no longer contains {old!r}: update this test"
    return head + body.replace(old, new)


_SEARCH = (
    "def search_models(models, *, task=None, licences=None, gguf_only=False, sort='likes', limit=None):\n"
    "    if sort not in ('likes', 'downloads'):\n"
    "        raise ValueError(sort)\n"
    "    wanted = None if licences is None else {{{lic}}}\n"
    "    kept = [m for m in models\n"
    "            if (task is None or m.get('pipeline_tag') == task)\n"
    "            and (wanted is None or (m.get('license') is not None and {licence_check}))\n"
    "            and (not gguf_only or m.get('gguf'))]\n"
    "    kept.sort(key={key})\n"
    "    ids = [m['repo_id'] for m in kept]\n"
    "    return ids if limit is None else ids[:limit]\n"
)
_RIGHT_KEY = "lambda m: (m.get(sort) is None, -(m.get(sort) or 0), m['repo_id'])"

# (test cell, a wrong answer students plausibly write, words the visible failure message must contain)
WRONG = {
    "split on dots as well as dashes": (
        "ex1_parse_gguf_name_tests",
        _solution_with('parts = stem.split("-")', 'parts = re.split(r"[-.]", stem)'),
        ["family", "not on dots"],
    ),
    "quant left in the case of the file name": (
        "ex1_parse_gguf_name_tests",
        _solution_with("quant = m.group(1).upper()", "quant = m.group(1)"),
        ["quant", "upper-cased"],
    ),
    "quant searched before the shard suffix is removed": (
        "ex1_parse_gguf_name_tests",
        _solution_with('m = re.search(r"-(\\d{5})-of-(\\d{5})$", stem)', "m = None"),
        ["shard"],
    ),
    "every unmarked name called base": (
        "ex1_parse_gguf_name_tests",
        _solution_with("        variant = None\n", '        variant = "base"\n'),
        ["variant", "else None"],
    ),
    "licences compared case-sensitively": (
        "ex2_search_models_tests",
        _SEARCH.format(lic="lic for lic in licences", licence_check="m['license'] in wanted", key=_RIGHT_KEY),
        ["case-insensitively"],
    ),
    "least liked first": (
        "ex2_search_models_tests",
        _SEARCH.format(lic="lic.lower() for lic in licences", licence_check="m['license'].lower() in wanted",
                       key="lambda m: (m.get(sort) is None, m.get(sort) or 0, m['repo_id'])"),
        ["wrong order", "most likes first"],
    ),
    "missing likes counted as zero": (
        "ex2_search_models_tests",
        _SEARCH.format(lic="lic.lower() for lic in licences", licence_check="m['license'].lower() in wanted",
                       key="lambda m: (-(m.get(sort) or 0), m['repo_id'])"),
        ["None", "0 included"],
    ),
    "GGUF filter forgotten": (
        "ex2_search_models_tests",
        _SEARCH.format(lic="lic.lower() for lic in licences", licence_check="m['license'].lower() in wanted",
                       key=_RIGHT_KEY).replace("and (not gguf_only or m.get('gguf'))", ""),
        ["three filters"],
    ),
}

SOLUTIONS = [("ex1_parse_gguf_name", "ex1_parse_gguf_name_tests"), ("ex2_search_models", "ex2_search_models_tests")]


def test_hidden_tests_reject_a_parser_without_mxfp4():
    """A parser that knows only the Q, IQ and float types passes the visible names; the hidden ones (MXFP4, named in the docstring) catch it."""
    ns = ex.namespace(LESSON)
    exec(_solution_with("|BF16|F16|F32|MXFP4)$", "|BF16|F16|F32)$"), ns)
    ex.visible(LESSON, "ex1_parse_gguf_name_tests", ns)
    with pytest.raises(AssertionError):
        ex.full(LESSON, "ex1_parse_gguf_name_tests", ns)
    assert "MXFP4" in ex.cell(LESSON, "ex1_parse_gguf_name_tests").source.splitlines()[0]
