"""Lesson 2's exercises: a plausible wrong answer to each is caught by the visible tests with a message that helps,
and the source solutions pass every test, hidden ones included (no kernel: tests/exercises.py)."""

import pytest

import exercises as ex

LESSON = "lesson02"

LLAMA_PARAMS = "def llama_params(vocab_size, d_model, n_layers, n_heads, n_kv_heads, d_ff, tied_embeddings=True):\n"

# (test cell, a wrong answer students plausibly write, words the visible failure message must contain)
WRONG = {
    "output projection counted even when tied": (
        "ex1_llama_params_tests",
        LLAMA_PARAMS
        + "    head_dim = d_model // n_heads\n"
        "    block = 2 * d_model * d_model + 2 * d_model * n_kv_heads * head_dim + 3 * d_model * d_ff + 2 * d_model\n"
        "    return n_layers * block + 2 * vocab_size * d_model + d_model\n",
        ["SmolLM2", "only when embeddings are not tied"],
    ),
    "key and value projections as wide as the query (GQA ignored)": (
        "ex1_llama_params_tests",
        LLAMA_PARAMS
        + "    block = 4 * d_model * d_model + 3 * d_model * d_ff + 2 * d_model\n"
        "    return n_layers * block + vocab_size * d_model * (1 if tied_embeddings else 2) + d_model\n",
        ["n_kv_heads"],
    ),
    "norms left out (the rounding trap: 0.13B and 8.03B still round right)": (
        "ex1_llama_params_tests",
        LLAMA_PARAMS
        + "    head_dim = d_model // n_heads\n"
        "    block = 2 * d_model * d_model + 2 * d_model * n_kv_heads * head_dim + 3 * d_model * d_ff\n"
        "    return n_layers * block + vocab_size * d_model * (1 if tied_embeddings else 2)\n",
        ["two norms per block", "final norm"],
    ),
    "keys only, values forgotten": (
        "ex2_kv_cache_tests",
        "def kv_cache_bytes(n_layers, n_kv_heads, head_dim, n_ctx, bytes_per_value=2):\n"
        "    return n_layers * n_kv_heads * head_dim * n_ctx * bytes_per_value\n"
        "llama31_8b_gqa = kv_cache_bytes(32, 8, 128, 8192)\nllama31_8b_mha = kv_cache_bytes(32, 32, 128, 8192)\n",
        ["47,185,920", "per token, layer and key/value head"],
    ),
    "the model width used as the head size": (
        "ex2_kv_cache_tests",
        "def kv_cache_bytes(n_layers, n_kv_heads, head_dim, n_ctx, bytes_per_value=2):\n"
        "    return 2 * n_layers * n_kv_heads * head_dim * n_ctx * bytes_per_value\n"
        "llama31_8b_gqa = kv_cache_bytes(32, 8, 4096, 8192)\nllama31_8b_mha = kv_cache_bytes(32, 32, 4096, 8192)\n",
        ["head size", "section 2"],
    ),
    "naming rule ignored": (
        "ex3_licence_tests",
        "def may_release_commercially(version, monthly_active_users, model_name, eu_based=False, multimodal=False):\n"
        "    terms = LICENCES[version]\n"
        "    return terms['commercial_use'] and not (terms['mau_clause'] and monthly_active_users > 700_000_000)\n",
        ["name_prefix"],
    ),
    "user threshold ignored": (
        "ex3_licence_tests",
        "def may_release_commercially(version, monthly_active_users, model_name, eu_based=False, multimodal=False):\n"
        "    terms = LICENCES[version]\n"
        "    if not terms['commercial_use']:\n        return False\n"
        "    return not terms['name_prefix'] or model_name.startswith(terms['name_prefix'])\n",
        ["800 million", "mau_clause"],
    ),
    "Llama 4's EU clause ignored (Llama 3.x rules applied)": (
        "ex3_licence_tests",
        "def may_release_commercially(version, monthly_active_users, model_name, eu_based=False, multimodal=False):\n"
        "    terms = LICENCES[version]\n"
        "    if not terms['commercial_use'] or (terms['mau_clause'] and monthly_active_users > 700_000_000):\n"
        "        return False\n"
        "    return not terms['name_prefix'] or model_name.startswith(terms['name_prefix'])\n",
        ["EU", "eu_multimodal_restriction"],
    ),
}

SOLUTIONS = [("ex1_llama_params", "ex1_llama_params_tests"), ("ex2_kv_cache", "ex2_kv_cache_tests"),
             ("ex3_licence", "ex3_licence_tests")]


def test_hidden_tests_reject_the_threshold_read_as_at_least():
    """'More than 700 million' means more than: the docstring names the boundary the hidden tests check."""
    ns = ex.namespace(LESSON)
    exec("def may_release_commercially(version, monthly_active_users, model_name, eu_based=False, multimodal=False):\n"
         "    if version not in LICENCES:\n        raise ValueError(version)\n"
         "    terms = LICENCES[version]\n"
         "    if not terms['commercial_use'] or (terms['mau_clause'] and monthly_active_users >= 700_000_000):\n"
         "        return False\n"
         "    if terms['eu_multimodal_restriction'] and eu_based and multimodal:\n        return False\n"
         "    return not terms['name_prefix'] or model_name.startswith(terms['name_prefix'])\n", ns)
    ex.visible(LESSON, "ex3_licence_tests", ns)
    with pytest.raises(AssertionError):
        ex.full(LESSON, "ex3_licence_tests", ns)
    assert "boundary" in ex.cell(LESSON, "ex3_licence_tests").source.splitlines()[0]


def test_hidden_tests_reject_the_eu_clause_applied_to_text_models():
    """The EU clause covers multimodal models only: the docstring names the case the hidden tests check."""
    ns = ex.namespace(LESSON)
    exec("def may_release_commercially(version, monthly_active_users, model_name, eu_based=False, multimodal=False):\n"
         "    if version not in LICENCES:\n        raise ValueError(version)\n"
         "    terms = LICENCES[version]\n"
         "    if not terms['commercial_use'] or (terms['mau_clause'] and monthly_active_users > 700_000_000):\n"
         "        return False\n"
         "    if terms['eu_multimodal_restriction'] and eu_based:\n        return False\n"
         "    return not terms['name_prefix'] or model_name.startswith(terms['name_prefix'])\n", ns)
    ex.visible(LESSON, "ex3_licence_tests", ns)
    with pytest.raises(AssertionError):
        ex.full(LESSON, "ex3_licence_tests", ns)
    assert "text models" in ex.cell(LESSON, "ex3_licence_tests").source.splitlines()[0]
