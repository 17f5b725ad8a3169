"""Lesson 4's exercises: a plausible wrong answer to each is caught by the visible tests with a message that helps,
and the source solutions pass every test, hidden ones included (no kernel: tests/exercises.py)."""

import pytest

import exercises as ex

LESSON = "lesson04"

_PARSE = (
    "import re\n"
    "def parse_model_name(name):\n"
    "    parts = name.split('-')\n"
    "    for i, part in enumerate(parts):\n"
    "        m = re.fullmatch(r'(\\d+(?:\\.\\d+)?)([bBmM])', part)\n"
    "        if m:\n"
    "            size = {size}\n"
    "            tail = {tail}\n"
    "            variant = 'instruct' if tail & {{'instruct', 'it', 'chat'}} else {fallback}\n"
    "            return {{'family': '-'.join(parts[:i]), 'size_b': size, 'variant': variant}}\n"
    "    raise ValueError(name)\n"
)
_RIGHT_SIZE = "float(m.group(1)) / (1000 if m.group(2) in 'mM' else 1)"
_RIGHT_TAIL = "{p.lower() for p in parts[i + 1:]}"
_RIGHT_FALLBACK = "('base' if tail & {'base', 'pt'} else None)"

# (test cell, a wrong answer students plausibly write, words the visible failure message must contain)
WRONG = {
    "variant words compared case-sensitively": (
        "ex1_parse_model_name_tests",
        _PARSE.format(size=_RIGHT_SIZE, tail="set(parts[i + 1:])", fallback=_RIGHT_FALLBACK),
        ["in any case"],
    ),
    "millions left as billions": (
        "ex1_parse_model_name_tests",
        _PARSE.format(size="float(m.group(1))", tail=_RIGHT_TAIL, fallback=_RIGHT_FALLBACK),
        ["millions", "billions"],
    ),
    "every unmarked name called base (the old convention)": (
        "ex1_parse_model_name_tests",
        _PARSE.format(size=_RIGHT_SIZE, tail=_RIGHT_TAIL, fallback="'base'"),
        ["does not say", "section 1"],
    ),
    "pt not recognised as a base model": (
        "ex1_parse_model_name_tests",
        _PARSE.format(size=_RIGHT_SIZE, tail=_RIGHT_TAIL, fallback="('base' if 'base' in tail else None)"),
        ["pre-trained"],
    ),
    "sizes compared as strings": (
        "ex2_eligible_models_tests",
        "def eligible_models(rows, max_size_b, tiers):\n"
        "    return [r['model'] for r in rows if r['size_b'] <= str(max_size_b) and r['licence_tier'] in tiers]\n",
        ["as numbers"],
    ),
    "active parameters taken for the memory": (
        "ex2_eligible_models_tests",
        "def eligible_models(rows, max_size_b, tiers):\n"
        "    return [r['model'] for r in rows if float(r['active_b']) <= max_size_b and r['licence_tier'] in tiers]\n",
        ["in total", "size_b"],
    ),
    "licence tier ignored": (
        "ex2_eligible_models_tests",
        "def eligible_models(rows, max_size_b, tiers):\n"
        "    return [r['model'] for r in rows if float(r['size_b']) <= max_size_b]\n",
        ["research-only"],
    ),
    "licences compared instead of tiers": (
        "ex3_mixed_licence_families_tests",
        "def mixed_licence_families(rows):\n"
        "    seen = defaultdict(set)\n"
        "    for r in rows:\n"
        "        seen[r['family']].add(r['licence'])\n"
        "    return sorted(f for f, s in seen.items() if len(s) > 1)\n",
        ["licence_tier"],
    ),
    "names left in table order": (
        "ex3_mixed_licence_families_tests",
        "def mixed_licence_families(rows):\n"
        "    seen = defaultdict(set)\n"
        "    for r in rows:\n"
        "        seen[r['family']].add(r['licence_tier'])\n"
        "    return [f for f, s in seen.items() if len(s) > 1]\n",
        ["alphabetically"],
    ),
}

SOLUTIONS = [("ex1_parse_model_name", "ex1_parse_model_name_tests"),
             ("ex2_eligible_models", "ex2_eligible_models_tests"),
             ("ex3_mixed_licence_families", "ex3_mixed_licence_families_tests")]


def test_hidden_tests_reject_a_parser_that_misses_names_without_a_size():
    """A parser that invents a size for 'gemma-4-E4B-it' passes the visible checks; the hidden ones (named in the docstring) catch it."""
    ns = ex.namespace(LESSON)
    ex.solve(LESSON, "ex1_parse_model_name", ns)
    right = ns["parse_model_name"]

    def lenient(name):
        try:
            return right(name)
        except ValueError:
            return {"family": name, "size_b": None, "variant": None}

    ns["parse_model_name"] = lenient
    ex.visible(LESSON, "ex1_parse_model_name_tests", ns)
    with pytest.raises(AssertionError):
        ex.full(LESSON, "ex1_parse_model_name_tests", ns)
    assert "ValueError" in ex.cell(LESSON, "ex1_parse_model_name_tests").source.splitlines()[0]
