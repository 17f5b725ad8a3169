"""Lesson 3's exercises: a plausible wrong answer to each is caught by the visible tests with a message that helps,
and the source solutions pass every test, hidden ones included (no kernel: tests/exercises.py).

Issue 10 item 5: leaving out the routers gives 46,701,744,128 weights, which rounds to the published 46.7B; the
visible test compares exact counts, so it rejects that answer before the hidden tests do."""

import pytest

import exercises as ex

LESSON = "lesson03"

MOE = ("def moe_param_counts(vocab_size, d_model, n_layers, n_heads, n_kv_heads, d_ff, n_experts, top_k):\n"
       "    head_dim = d_model // n_heads\n"
       "    attention = 2 * d_model * d_model + 2 * d_model * n_kv_heads * head_dim\n"
       "    expert = 3 * d_model * d_ff\n")
MEMORY_OK = ("def weights_gb(n_params, bits_per_weight):\n    return n_params * bits_per_weight / 8 / 1e9\n"
             "def fits_in_memory(n_params, bits_per_weight, memory_gb, overhead_gib=2.0):\n"
             "    return weights_gb(n_params, bits_per_weight) * 1e9 / 2**30 + overhead_gib <= memory_gb\n")

# (test cell, a wrong answer students plausibly write, words the visible failure message must contain)
WRONG = {
    "routers left out (46.7018B, rounds to 46.7B)": (
        "ex1_moe_params_tests",
        MOE + "    shared = n_layers * (attention + 2 * d_model) + 2 * vocab_size * d_model + d_model\n"
        "    return shared + n_layers * n_experts * expert, shared + n_layers * top_k * expert\n",
        ["-1,048,576", "router"],
    ),
    "eight whole 7B models: attention counted per expert": (
        "ex1_moe_params_tests",
        MOE + "    router = d_model * n_experts\n"
        "    per_expert = attention + expert + 2 * d_model\n"
        "    return (n_layers * (n_experts * per_expert + router) + 2 * vocab_size * d_model + d_model,\n"
        "            n_layers * (top_k * per_expert + router) + 2 * vocab_size * d_model + d_model)\n",
        ["in total", "attention"],
    ),
    "active counts every expert": (
        "ex1_moe_params_tests",
        MOE + "    shared = n_layers * (attention + d_model * n_experts + 2 * d_model) + 2 * vocab_size * d_model + d_model\n"
        "    return shared + n_layers * n_experts * expert, shared + n_layers * n_experts * expert\n",
        ["active per token", "top_k"],
    ),
    "GiB instead of GB in weights_gb": (
        "ex2_memory_tests",
        "def weights_gb(n_params, bits_per_weight):\n    return n_params * bits_per_weight / 8 / 2**30\n"
        "def fits_in_memory(n_params, bits_per_weight, memory_gb, overhead_gib=2.0):\n"
        "    return weights_gb(n_params, bits_per_weight) + overhead_gib <= memory_gb\n"
        "mixtral_fp16_gb = weights_gb(46.7e9, 16)\nmixtral_fp16_fits_two_24gb_gpus = False\n",
        ["14.48 GB", "10^9 bytes"],
    ),
    "GB of weights compared with the GiB on the box": (
        "ex2_memory_tests",
        "def weights_gb(n_params, bits_per_weight):\n    return n_params * bits_per_weight / 8 / 1e9\n"
        "def fits_in_memory(n_params, bits_per_weight, memory_gb, overhead_gib=2.0):\n"
        "    return weights_gb(n_params, bits_per_weight) + overhead_gib <= memory_gb\n"
        "mixtral_fp16_gb = weights_gb(46.7e9, 16)\nmixtral_fp16_fits_two_24gb_gpus = False\n",
        ["sold as 32 GB", "one unit"],
    ),
    "memory from the active parameters": (
        "ex2_memory_tests",
        MEMORY_OK + "mixtral_fp16_gb = weights_gb(12.9e9, 16)\n"
        "mixtral_fp16_fits_two_24gb_gpus = fits_in_memory(12.9e9, 16, 48)\n",
        ["every expert", "parameter count"],
    ),
}

SOLUTIONS = [("ex1_moe_params", "ex1_moe_params_tests"), ("ex2_memory", "ex2_memory_tests")]


def test_what_the_visible_ex1_test_accepts_the_hidden_tests_accept():
    """Issue 10 item 5: an answer right on Mixtral 8x7B but wrong in general is caught by the hidden tests, and the
    exercise text says the visible test compares exact counts (no answer passes visibly and fails for a reason not named)."""
    ns = ex.namespace(LESSON)
    exec("def moe_param_counts(*args, **kwargs):\n    return 46_702_792_704, 12_879_925_248\n", ns)
    ex.visible(LESSON, "ex1_moe_params_tests", ns)
    with pytest.raises(AssertionError):
        ex.full(LESSON, "ex1_moe_params_tests", ns)
    assert "Mixtral 8x22B" in ex.cell(LESSON, "ex1_moe_params_tests").source.splitlines()[0]


def test_hidden_tests_reject_a_strict_fit():
    """'Fits' includes filling the memory exactly: the docstring names the boundary the hidden tests check."""
    ns = ex.namespace(LESSON)
    exec(MEMORY_OK.replace("<= memory_gb", "< memory_gb")
         + "mixtral_fp16_gb = weights_gb(46.7e9, 16)\nmixtral_fp16_fits_two_24gb_gpus = fits_in_memory(46.7e9, 16, 48)\n", ns)
    ex.visible(LESSON, "ex2_memory_tests", ns)
    with pytest.raises(AssertionError):
        ex.full(LESSON, "ex2_memory_tests", ns)
    assert "boundary" in ex.cell(LESSON, "ex2_memory_tests").source.splitlines()[0]
