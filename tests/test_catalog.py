"""The model catalog: schema, consistency with the offline pack, and licence facts from the fact-check."""

import copy
import dataclasses
import json
from importlib import resources

import jsonschema
import pytest

import ossllm_helpers as oh
from ossllm_helpers import catalog
from ossllm_helpers.pack import OFFLINE_MODELS


def _doc(name="catalog.json"):
    return json.loads(resources.files("ossllm_helpers").joinpath("data", name).read_text(encoding="utf-8"))


def test_catalog_file_matches_its_schema():
    jsonschema.Draft7Validator.check_schema(_doc("catalog.schema.json"))
    jsonschema.validate(_doc(), _doc("catalog.schema.json"), cls=jsonschema.Draft7Validator)


def test_keys_are_unique_and_every_model_loads():
    keys = [e["key"] for e in _doc()["models"]]
    assert len(keys) == len(set(keys))
    assert [m.key for m in oh.load_catalog()] == keys


def test_models_are_frozen():
    model = oh.get_model("gemma-3-270m")
    with pytest.raises(dataclasses.FrozenInstanceError):
        model.tier = "permissive"


def test_offline_models_are_the_pack():
    offline = {m.key: m for m in oh.load_catalog() if m.offline}
    assert set(offline) == set(OFFLINE_MODELS) == {"smollm2-135m-instruct", "gemma-3-270m"}
    for key, packed in OFFLINE_MODELS.items():
        model = offline[key]
        assert (model.repo_id, [f.filename for f in model.files]) == (packed.repo_id, [packed.filename])


@pytest.mark.model
def test_the_pack_description_matches_the_real_files(model_dir):
    """Size and SHA-256 in the catalog's pack entries are the shipped files', byte for byte."""
    import hashlib

    for key, packed in OFFLINE_MODELS.items():
        path = model_dir[key]
        assert path.stat().st_size == packed.size == oh.get_model(key).file().size
        assert hashlib.sha256(path.read_bytes()).hexdigest() == packed.sha256
        assert path.resolve().name == packed.sha256  # the blob is named by it, as the Hub names it


def test_offline_models_facts():
    smol, gemma = oh.get_model("smollm2-135m-instruct"), oh.get_model("gemma-3-270m")
    assert (smol.quants, smol.architecture, smol.variant, smol.licence, smol.tier) == (
        ("Q4_1",), "llama", "instruct", "apache-2.0", "permissive"
    )
    assert (gemma.quants, gemma.architecture, gemma.variant, gemma.licence, gemma.tier) == (
        ("Q4_K_M",), "gemma3", "base", "gemma", "restricted"
    )


def test_every_file_is_named_by_its_quant():
    for model in oh.load_catalog():
        for f in model.files:
            assert oh.quant_of(f.filename) == f.quant, (model.key, f.filename)
        assert bool(model.files) == bool(model.repo_id), model.key


def test_downloadable_models_cover_every_size_from_several_families():
    runnable = [m for m in oh.load_catalog() if not m.offline and "Q4_K_M" in m.quants and m.is_instruct]
    bands = {"~0.1-0.5B": (0.1, 0.6), "1-2B": (1, 2), "3-4B": (2.5, 4), "7-8B": (7, 8.5)}
    for band, (low, high) in bands.items():
        in_band = [m for m in runnable if low <= m.params_b <= high]
        assert len({m.family for m in in_band}) >= 2, f"{band}: {[m.key for m in in_band]}"
    assert {m.family for m in runnable} >= {"Llama", "Qwen", "Gemma", "Phi", "Mistral", "SmolLM", "Granite"}
    # the 2024 files were read from the Hub; the 2025-26 ones stay empty until `catalog check --fill` reads them
    assert all(m.file("Q4_K_M").size for m in runnable if m.released < "2025")


def test_licence_tiers_agree_with_the_fact_check():
    by_key = {m.key: m for m in oh.load_catalog()}
    # Llama 2/3/3.x are custom community licences, not Apache 2.0 (fact-check #1, #23).
    llamas = [m for m in by_key.values() if m.family == "Llama"]
    assert len(llamas) >= 8 and all(m.tier != "permissive" for m in llamas)
    assert {by_key[k].licence for k in ("llama-3.1-8b-instruct", "llama-3.2-1b-instruct", "llama-3.3-70b-instruct")} == {
        "llama3.1", "llama3.2", "llama3.3"
    }
    # Qwen2.5: 72B Qwen licence, 3B research licence, the others Apache 2.0 (#7, #34).
    assert (by_key["qwen2.5-72b-instruct"].licence, by_key["qwen2.5-72b-instruct"].tier) == ("qwen", "restricted")
    assert (by_key["qwen2.5-3b-instruct"].licence, by_key["qwen2.5-3b-instruct"].tier) == ("qwen-research", "research-only")
    for key in ("qwen2.5-0.5b-instruct", "qwen2.5-1.5b-instruct", "qwen2.5-7b-instruct"):
        assert by_key[key].tier == "permissive"
    # Mistral 7B and Mixtral are Apache 2.0; Mistral Large 2 is research-only, Codestral non-production (#5).
    for key in ("mistral-7b-instruct-v0.3", "mistral-7b-v0.1", "mixtral-8x7b-instruct-v0.1"):
        assert (by_key[key].licence, by_key[key].tier) == ("apache-2.0", "permissive")
    assert (by_key["mistral-large-instruct-2407"].licence, by_key["mistral-large-instruct-2407"].tier) == ("mrl", "research-only")
    assert by_key["codestral-22b-v0.1"].tier == "research-only"
    # Gemma terms carry a use policy: not permissive (#9); Gemma 4 moved to Apache 2.0. Phi-3 is MIT (#30).
    assert all(m.tier == "restricted" for m in by_key.values() if m.family == "Gemma" and m.licence == "gemma")
    assert (by_key["phi-3-mini-4k-instruct"].licence, by_key["phi-3-mini-4k-instruct"].tier) == ("mit", "permissive")
    # Falcon-40B Apache 2.0, Falcon-180B its own licence (#33); BLOOM RAIL (#19).
    assert by_key["falcon-40b"].tier == "permissive" and by_key["falcon-180b"].tier == "restricted"
    assert by_key["bloom-176b"].licence == "bigscience-bloom-rail-1.0" and by_key["bloom-176b"].tier == "restricted"


def test_size_facts_from_the_fact_check():
    mixtral = oh.get_model("mixtral-8x7b-instruct-v0.1")
    assert (mixtral.params_b, mixtral.active_params_b, mixtral.experts_total, mixtral.experts_active) == (46.7, 12.9, 8, 2)
    assert mixtral.is_moe and not oh.get_model("mistral-7b-v0.1").is_moe
    gemma2 = sorted(m.params_b for m in oh.load_catalog() if m.name.startswith("Gemma 2 "))
    assert [round(p) for p in gemma2] == [3, 9, 27]  # 2B (2.61B), 9B and 27B (#32)
    assert oh.get_model("bloom-176b").params_b == 176
    assert oh.get_model("llama-3.1-405b-instruct").params_b == 405


def test_every_tier_is_the_licence_tables_and_every_link_is_https():
    table = catalog.licences()
    for model in oh.load_catalog():
        assert model.tier in catalog.TIERS
        if table[model.licence].tier is not None:
            assert model.tier == oh.licence_tier(model.licence)
        assert model.licence_url and model.licence_url.startswith("https://"), model.key


def test_licence_tier():
    assert oh.licence_tier("apache-2.0") == "permissive"
    assert oh.licence_tier("MIT") == "permissive"
    assert oh.licence_tier("Llama3.1") == "restricted"
    assert oh.licence_tier("qwen-research") == "research-only"
    assert oh.licence_tier("mrl") == "research-only"
    with pytest.raises(catalog.UnknownLicenceError, match="Did you mean 'llama3.1'") as err:
        oh.licence_tier("llama-3.1")
    assert isinstance(err.value, oh.OssllmError)
    with pytest.raises(catalog.UnknownLicenceError, match="its own licence"):
        oh.licence_tier("other")


def test_get_model_lookups_and_suggestions():
    assert oh.get_model("Qwen2.5-0.5B-Instruct").key == "qwen2.5-0.5b-instruct"
    assert oh.get_model("bartowski/Llama-3.2-1B-Instruct-GGUF").key == "llama-3.2-1b-instruct"
    with pytest.raises(oh.UnknownModelError) as err:
        oh.get_model("smolm2")
    assert "smollm2-135m-instruct" in str(err.value) and "oh.download" in str(err.value)
    with pytest.raises(oh.UnknownModelError):
        oh.get_model("")


def test_model_files_and_quants():
    llama = oh.get_model("llama-3.2-1b-instruct")
    assert llama.default_quant == "Q4_K_M"
    assert llama.file().filename == "Llama-3.2-1B-Instruct-Q4_K_M.gguf"
    assert llama.file("q8_0").size is None  # not known: null rather than a guess
    with pytest.raises(oh.FileNotInRepoError, match="lists Q4_K_M, Q8_0"):
        llama.file("Q2_K")
    with pytest.raises(oh.FileNotInRepoError, match="discusses it but does not run it"):
        oh.get_model("llama-3.1-405b-instruct").file()


def _model(doc, key):
    return next(m for m in doc["models"] if m["key"] == key)


@pytest.mark.parametrize(
    "break_it, message",
    [
        (lambda d: d["models"].append(copy.deepcopy(d["models"][0])), "twice"),
        (lambda d: d["models"][0].update(tier="permissive", licence="llama3.2"), "Make them agree"),
        (lambda d: d["models"][0].update(licence="wtfpl"), "does not define"),
        (lambda d: d["models"][0].update(variant="chat"), r"does not match its schema at models\[0\]\.variant"),
        (lambda d: d["models"][0]["files"]["Q4_1"].update(size=-3), "does not match its schema"),
        (lambda d: _model(d, "gemma-3-270m").update(tutor_rank=99), "must be an instruct model"),
        (lambda d: _model(d, "smollm2-360m-instruct").update(tutor_rank=1), "both have tutor_rank 1"),
        (lambda d: _model(d, "llama-3.2-1b-instruct").update(tutor_rank=0), "does not match its schema"),
        (lambda d: _model(d, "llama-3.2-1b-instruct").update(gated="yes"), "does not match its schema"),
        (lambda d: _model(d, "smollm2-135m-instruct")["pack"].update(version="latest"), "does not match its schema"),
        (lambda d: _model(d, "smollm2-135m-instruct")["files"].update(
            Q8_0={"filename": "SmolLM2-135M-Instruct.Q8_0.gguf", "size": 1}), "ships one file"),
    ],
)
def test_a_broken_catalog_fails_loudly(break_it, message):
    catalog._validate(_doc())  # the real file passes
    doc = _doc()
    break_it(doc)
    with pytest.raises(catalog.CatalogError, match=message):
        catalog._validate(doc)


def test_a_catalog_that_cannot_load_names_the_field(monkeypatch):
    """At run time only the cheap checks run; an entry that will not load is explained by the schema."""
    doc = _doc()
    del doc["models"][3]["params_b"]
    monkeypatch.setattr(catalog, "catalog_json", lambda: doc)
    catalog._load.cache_clear()
    try:
        with pytest.raises(catalog.CatalogError, match="'params_b' is a required property"):
            oh.load_catalog()
    finally:
        catalog._load.cache_clear()


def test_tutor_ladder_is_sorted_weakest_first():
    ladder = catalog.tutor_ladder()
    ranks = [m.tutor_rank for m in ladder]
    assert ranks == sorted(ranks) and len(set(ranks)) == len(ranks) and ranks[0] == 1
    assert all(m.is_instruct and m.files for m in ladder)
    assert ladder[0].key == "smollm2-135m-instruct"  # the offline tiny model is the bottom rung
    assert [m.params_b for m in ladder] == sorted(m.params_b for m in ladder)  # rungs rise with total size
    assert {m.key for m in oh.load_catalog() if m.tutor_rank} == {m.key for m in ladder}


def test_tutor_ladder_is_current_small_instruct_models_ungated_and_permissive():
    """Above the offline demonstration: a ~1-2B, a ~4B and a ~8B model, and a mixture of experts that fits 16 GB."""
    online = catalog.tutor_ladder()[1:]
    assert [m.key for m in online] == ["qwen3-1.7b", "qwen3-4b", "granite-4.0-h-tiny", "qwen3-8b", "gpt-oss-20b"]
    assert all(m.released >= "2025" and not m.offline for m in online)
    assert all(m.tier == "permissive" and m.licence == "apache-2.0" for m in online)
    assert all(m.gated is not True for m in online), "a gated rung needs a token: not for every student"
    sizes = [m.params_b for m in online]
    assert any(1 <= p <= 2 for p in sizes) and any(3.5 <= p <= 4.5 for p in sizes) and any(7.5 <= p <= 8.5 for p in sizes)
    moe = [m for m in online if m.is_moe]
    assert {m.key for m in moe} == {"granite-4.0-h-tiny", "gpt-oss-20b"}
    gpt = oh.get_model("gpt-oss-20b")
    assert (gpt.params_b, gpt.active_params_b, gpt.default_quant, gpt.architecture) == (21, 3.6, "MXFP4", "gpt-oss")
    # each rung names its GGUF repository and one file; what no primary page showed is empty, not guessed
    for m in online:
        assert m.repo_id.endswith("-GGUF") and m.source_repo and len(m.files) == 1, m.key
        assert m.file().size is None, f"{m.key}: a size is filled in by `catalog check --fill`, not typed in"
    assert {m.key: m.gated for m in online}["qwen3-1.7b"] is False  # its Hub page shows no access form


def test_models_the_lessons_name_are_in_the_catalog():
    """Keys the lessons and tests look up (oh.get_model, oh.fetch, oh.Chat) stay, 2024 models included."""
    keys = {m.key for m in oh.load_catalog()}
    assert keys >= {"smollm2-135m-instruct", "gemma-3-270m", "qwen2.5-0.5b-instruct", "qwen2.5-1.5b-instruct",
                    "llama-3.2-1b-instruct", "llama-3.2-3b-instruct", "llama-3.1-8b-instruct", "llama-3.1-70b-instruct",
                    "mistral-7b-instruct-v0.3", "qwen2.5-7b-instruct", "gemma-2-9b-it", "gemma-2-27b-it",
                    "mistral-7b-v0.1", "mixtral-8x7b-instruct-v0.1", "qwen3-8b", "gpt-oss-20b", "gpt-oss-120b",
                    "llama-4-scout-17b-16e-instruct", "deepseek-r1", "deepseek-r1-distill-llama-8b",
                    "kimi-k2-instruct"}
    assert all(oh.get_model(k).files for k in ("qwen2.5-0.5b-instruct", "llama-3.2-1b-instruct",
                                                 "llama-3.1-8b-instruct", "qwen2.5-1.5b-instruct"))


def test_the_2025_26_licences():
    by_key = {m.key: m for m in oh.load_catalog()}
    assert (by_key["llama-4-scout-17b-16e-instruct"].licence, by_key["llama-4-scout-17b-16e-instruct"].tier) == (
        "llama4", "restricted")
    assert (by_key["deepseek-v3"].licence, by_key["deepseek-r1"].licence) == ("deepseek", "mit")
    assert by_key["deepseek-r1-distill-llama-8b"].licence == "llama3.1"  # a distilled model keeps its base's licence
    assert by_key["kimi-k2-instruct"].licence == "modified-mit" and by_key["kimi-k2-instruct"].tier == "restricted"
    assert all(m.licence == "apache-2.0" for m in by_key.values() if m.family == "Qwen" and m.released >= "2025")
    assert by_key["gemma-4-e4b-it-qat"].tier == "permissive" and by_key["gemma-3-4b-it-qat"].tier == "restricted"


def test_gated_is_unknown_until_the_catalog_check_fills_it():
    assert all(m.gated in (None, True, False) for m in oh.load_catalog())
    assert oh.get_model("llama-3.2-1b-instruct").gated is None
