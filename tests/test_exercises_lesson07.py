"""Lesson 7's exercises: a plausible wrong answer to each is caught by the visible tests with a message that helps,
and the source solutions pass every test, hidden ones included (no kernel: tests/exercises.py)."""

import pytest

import exercises as ex

LESSON = "lesson07"

# (test cell, a wrong answer students plausibly write, words the visible failure message must contain)
WRONG = {
    "gigabytes instead of gibibytes": (
        "ex1_weights_gib_tests",
        "def weights_gib(n_params, bits_per_weight):\n    return n_params * bits_per_weight / 8 / 1e9\n",
        ["4.58 GiB", "unit"],
    ),
    "bits taken for bytes": (
        "ex1_weights_gib_tests",
        "def weights_gib(n_params, bits_per_weight):\n    return n_params * bits_per_weight / 2**30\n",
        ["bits to bytes"],
    ),
    "keys only, values forgotten": (
        "ex2_kv_cache_tests",
        "def kv_cache_gib(n_layers, n_ctx, n_kv_heads, head_dim, bytes_per_value=2):\n"
        "    return n_layers * n_ctx * n_kv_heads * head_dim * bytes_per_value / 2**30\n",
        ["1 GiB", "per token and layer"],
    ),
    "licence filter forgotten": (
        "ex3_rank_models_tests",
        "def rank_models(models, task, ram_gib, commercial, min_tokens_per_s):\n"
        "    keep = [m for m in models if task in m['tasks'] and m['memory_gib'] <= ram_gib\n"
        "            and m['tokens_per_s'] >= min_tokens_per_s]\n"
        "    return [m['name'] for m in sorted(keep, key=lambda m: -m['params_b'])]\n",
        ["four filters"],
    ),
    "memory from the active parameters only": (
        "ex4_moe_estimate_tests",
        "def moe_estimate(total_b, active_b, bits_per_weight, bandwidth_gb_s):\n"
        "    return active_b * 1e9 * bits_per_weight / 8 / 2**30, bandwidth_gb_s * 1e9 / (active_b * 1e9 * bits_per_weight / 8)\n",
        ["must be in memory", "section 7"],
    ),
    "speed from the total parameters": (
        "ex4_moe_estimate_tests",
        "def moe_estimate(total_b, active_b, bits_per_weight, bandwidth_gb_s):\n"
        "    return total_b * 1e9 * bits_per_weight / 8 / 2**30, bandwidth_gb_s * 1e9 / (total_b * 1e9 * bits_per_weight / 8)\n",
        ["one generated token read"],
    ),
    "ranked by speed instead of size": (
        "ex3_rank_models_tests",
        "def rank_models(models, task, ram_gib, commercial, min_tokens_per_s):\n"
        "    keep = [m for m in models if task in m['tasks'] and m['memory_gib'] <= ram_gib\n"
        "            and m['tokens_per_s'] >= min_tokens_per_s and (m['commercial_ok'] or not commercial)]\n"
        "    return [m['name'] for m in sorted(keep, key=lambda m: -m['tokens_per_s'])]\n",
        ["wrong order", "largest"],
    ),
}

SOLUTIONS = [("ex1_weights_gib", "ex1_weights_gib_tests"), ("ex2_kv_cache", "ex2_kv_cache_tests"),
             ("ex3_rank_models", "ex3_rank_models_tests"), ("ex4_moe_estimate", "ex4_moe_estimate_tests")]


def test_hidden_tests_reject_a_strict_memory_limit():
    """'At most' means at most: a model needing exactly the memory on the box is kept (the docstring names the check)."""
    ns = ex.namespace(LESSON)
    exec("def rank_models(models, task, ram_gib, commercial, min_tokens_per_s):\n"
         "    if ram_gib <= 0 or min_tokens_per_s < 0:\n        raise ValueError('bad limit')\n"
         "    keep = [m for m in models if task in m['tasks'] and m['memory_gib'] < ram_gib\n"
         "            and m['tokens_per_s'] >= min_tokens_per_s and (m['commercial_ok'] or not commercial)]\n"
         "    keep.sort(key=lambda m: (-m['params_b'], -m['tokens_per_s'], m['name']))\n"
         "    return [m['name'] for m in keep]\n", ns)
    ex.visible(LESSON, "ex3_rank_models_tests", ns)
    with pytest.raises(AssertionError):
        ex.full(LESSON, "ex3_rank_models_tests", ns)
    assert "boundary" in ex.cell(LESSON, "ex3_rank_models_tests").source.splitlines()[0]
