"""Which model a lab or an unnamed Chat uses: the strongest tutor that fits, by machine size, online and offline.

The ladder here is made for the test (four rungs of known sizes), so the logic is
checked without depending on which models the catalog names this year; the online
test serves it from tests/hubserver.py and downloads the chosen rung.
"""

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hubserver import Blank, FakeHub
from ossllm_helpers import catalog
from ossllm_helpers.chat import Chat, choose_model, tutor_candidates
from ossllm_helpers.chat.choice import HEADROOM

ROOT = Path(__file__).resolve().parents[1]
GB = 10**9
RUNGS = [("tutor-tiny", 0.3), ("tutor-small", 1.1), ("tutor-medium", 2.6), ("tutor-large", 5.2), ("tutor-huge", 9.5)]


def ladder(gated=()):
    """Five instruct models of known file sizes, weakest first, shaped like catalog entries."""
    base = next(m for m in catalog.load_catalog() if m.is_instruct and m.files)
    out = []
    for rank, (key, gb) in enumerate(RUNGS, start=1):
        name = f"course-test/{key}-GGUF"
        fields = dict(key=key, name=key.replace("-", " ").title(), repo_id=name, source_repo=name, params_b=gb * 2,
                      files=(catalog.GGUFFile("Q4_K_M", f"{key}-Q4_K_M.gguf", int(gb * GB)),), offline=False)
        if "tutor_rank" in base.__dataclass_fields__:
            fields["tutor_rank"] = rank
        if "gated" in base.__dataclass_fields__:
            fields["gated"] = key in gated
        out.append(dataclasses.replace(base, **fields))
    return out


def machine(total_gb: float) -> int:
    """Memory available on a machine of that size with a desktop, a browser and JupyterLab open."""
    return int(total_gb * GB * 0.7)


@pytest.mark.parametrize("total, expected", [(4, "tutor-small"), (8, "tutor-medium"), (16, "tutor-large"),
                                             (32, "tutor-huge")])
def test_online_the_strongest_rung_that_fits(total, expected):
    choice = choose_model(n_ctx=4096, available=machine(total), offline=False, models=ladder(), env={})
    assert choice.model == expected and choice.source == "ladder" and not choice.demo
    assert "fits this machine" in choice.reason and "downloaded once" in choice.reason
    c = choice.candidate
    assert c.needs <= machine(total) * (1 - HEADROOM)  # the estimate fits, with headroom
    stronger = [m for m in tutor_candidates(4096, available=machine(total), offline=False, models=ladder())
                if m.rank > c.rank]
    assert not any(m.fits for m in stronger) and (stronger or expected == "tutor-huge")  # nothing stronger would


def test_bigger_machines_never_get_a_weaker_tutor():
    ranks = [choose_model(available=machine(gb), offline=False, models=ladder(), env={}).candidate.rank
             for gb in (4, 8, 12, 16, 24, 32, 64)]
    assert ranks == sorted(ranks)


def test_a_gated_rung_is_passed_over_without_a_token(monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    choice = choose_model(available=machine(16), offline=False, models=ladder(gated={"tutor-large"}), env={})
    assert choice.model == "tutor-medium"


def place_in_cache(repo_id: str, filename: str, src: Path) -> Path:
    """Put a file where huggingface_hub's cache keeps a downloaded one (as a download would)."""
    from huggingface_hub import constants

    repo = Path(constants.HF_HUB_CACHE) / ("models--" + repo_id.replace("/", "--"))
    commit = "0" * 40
    snap = repo / "snapshots" / commit
    snap.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    shutil.copy(src, snap / filename)
    return snap / filename


@pytest.mark.model
def test_offline_the_strongest_cached_rung_by_its_real_header(smollm2_gguf):
    rungs = ladder()
    place_in_cache(rungs[1].repo_id, rungs[1].files[0].filename, smollm2_gguf)  # tutor-small is cached
    choice = choose_model(available=machine(32), offline=True, models=rungs, env={})
    assert choice.model == "tutor-small" and choice.source == "offline" and "Offline" in choice.reason
    assert choice.candidate.cached and choice.candidate.exact  # estimated from the file's own header
    shown = tutor_candidates(available=machine(32), offline=True, models=rungs)
    assert [c.key for c in shown if c.fits] == ["tutor-small"]
    assert "on this machine" in next(c for c in shown if c.key == "tutor-small").label


def test_offline_with_nothing_cached_the_tiny_model_labelled_honestly():
    choice = choose_model(available=machine(32), offline=True, models=ladder(), env={})
    assert choice.model == "smollm2-135m-instruct" and choice.demo and choice.source == "demo"
    assert "gets facts wrong" in choice.reason and "offline" in choice.reason


def test_a_machine_too_small_for_any_rung_gets_the_tiny_model():
    choice = choose_model(available=int(0.5 * GB), offline=False, models=ladder(), env={})
    assert choice.demo and "no stronger tutor fits" in choice.reason


def test_overrides_come_first_notebook_then_machine_then_lab():
    env = {"OSSLLM_MODEL": "qwen2.5-1.5b-instruct"}
    assert choose_model("my.gguf", lab_model="gemma-3-270m", env=env).source == "argument"
    by_machine = choose_model(lab_model="gemma-3-270m", env=env)
    assert by_machine.model == "qwen2.5-1.5b-instruct" and by_machine.source == "OSSLLM_MODEL"
    assert "OSSLLM_MODEL" in by_machine.reason
    by_lab = choose_model(lab_model="gemma-3-270m", env={})
    assert by_lab.model == "gemma-3-270m" and by_lab.source == "lab.json"


def test_class_mode_sends_unnamed_models_to_the_server_and_keeps_its_key_out_of_records():
    env = {"OSSLLM_BASE_URL": "http://10.1.2.3:8000/v1", "OSSLLM_API_KEY": "class-secret", "OSSLLM_MODEL": "qwen3"}
    choice = choose_model(lab_model="gemma-3-270m", env=env)
    assert (choice.base_url, choice.model, choice.api_key, choice.source) == (env["OSSLLM_BASE_URL"], "qwen3",
                                                                              "class-secret", "server")
    assert "class-secret" not in json.dumps(choice.record())


def test_the_choice_is_recorded_in_a_saved_chat(tmp_path):
    chat = Chat("some.gguf")
    data = json.loads(chat.save(tmp_path / "c.json").read_text())
    assert data["choice"]["source"] == "argument" and data["choice"]["model"] == "some.gguf"


_DRIVER = r"""
import dataclasses, json, sys
sys.path.insert(0, sys.argv[2])
import ossllm_helpers.memory as memory
from ossllm_helpers import catalog
from ossllm_helpers.chat import choice as choice_mod, Chat
import test_chat_choice as t
rungs = t.ladder()
models, licences = catalog._load()
catalog._load = lambda: (tuple(models) + tuple(rungs), licences)  # fetch() finds the test rungs by key
choice_mod.ladder = lambda: rungs
memory.available_memory = lambda: t.machine(float(sys.argv[1]))
chat = Chat(n_threads=1, n_ctx=1024)
before = chat.choice
chat.load_model()
print(json.dumps({"chose": before.model, "reason": before.reason, "loaded": chat.loaded,
                  "path": str(chat.backend.path), "now": chat.model}))
"""


@pytest.mark.model
def test_online_the_chosen_tutor_downloads_once_from_the_hub(smollm2_gguf, tmp_path):
    with FakeHub() as hub:
        for key, _ in RUNGS:  # every rung is served; the file is a real (small) GGUF
            hub.add_repo(f"course-test/{key}-GGUF", {f"{key}-Q4_K_M.gguf": smollm2_gguf})
        env = {k: v for k, v in os.environ.items() if k not in ("HF_TOKEN", "HF_HUB_CACHE")}
        env.update(HF_ENDPOINT=hub.url, HF_HOME=str(tmp_path / "hf"), HF_HUB_OFFLINE="0",
                   PYTHONPATH=str(ROOT) + os.pathsep + str(ROOT / "tests"))
        runs = []
        for _ in range(2):
            proc = subprocess.run([sys.executable, "-c", _DRIVER, "8", str(ROOT / "tests")], env=env,
                                  capture_output=True, text=True, timeout=300)
            assert proc.returncode == 0, proc.stderr[-3000:]
            runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        first, second = runs
        assert first["chose"] == "tutor-medium" and first["loaded"] and "downloaded once" in first["reason"]
        assert second["chose"] == "tutor-medium" and "already on this machine" in second["reason"]
        gets = hub.requests(server="cdn", method="GET")
        assert len(gets) == 1  # downloaded once, then taken from the cache


# ---------------------------------------------------------------- the course's own ladder

# What the course picks on each machine (70% of it free, as in machine()), strongest rung that fits first.
COURSE_PICKS = {4: "qwen3-1.7b", 8: "qwen3-4b", 16: "qwen3-8b", 32: "gpt-oss-20b"}
# File sizes of the order the rungs' Hub pages show; the test Hub serves them and `catalog check --fill` reads them.
HUB_SIZES = {"qwen3-1.7b": 1_280_000_000, "qwen3-4b": 2_500_000_000, "granite-4.0-h-tiny": 4_300_000_000,
             "qwen3-8b": 5_030_000_000, "gpt-oss-20b": 12_100_000_000}


def course_ladder(doc=None):
    """The catalog's tutor ladder, from the shipped file or from a catalog document (a filled copy)."""
    if doc is None:
        return catalog.tutor_ladder()
    models, _ = catalog._build(doc)
    return sorted((m for m in models if m.tutor_rank), key=lambda m: m.tutor_rank)


@pytest.mark.parametrize("total, expected", sorted(COURSE_PICKS.items()))
def test_the_course_ladder_picks_by_machine_size_and_says_why(total, expected, monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    choice = choose_model(n_ctx=4096, available=machine(total), offline=False, models=course_ladder(), env={})
    model = catalog.get_model(expected)
    assert (choice.model, choice.source, choice.quant) == (expected, "ladder", model.default_quant)
    # what it chose (name, quant, size) and why (fits, the memory figures, downloaded once)
    assert choice.reason.startswith(f"{model.name} {model.default_quant}, about ")  # sizes are estimated until filled
    assert "the strongest tutor that fits this machine" in choice.reason and "downloaded once" in choice.reason
    assert f"of the {machine(total) / 1e9:.1f} GB free now" in choice.reason
    stronger = [c for c in tutor_candidates(4096, available=machine(total), offline=False, models=course_ladder())
                if c.rank > choice.candidate.rank]
    assert not any(c.fits for c in stronger)


def test_the_course_ladder_offline_with_nothing_cached_is_the_demonstration_model():
    choice = choose_model(available=machine(32), offline=True, models=course_ladder(), env={})
    assert choice.demo and choice.model == "smollm2-135m-instruct" and "offline" in choice.reason


def test_the_course_ladder_against_the_hub_after_the_catalog_check_fills_it(tmp_path, monkeypatch):
    """The local Hub serves the real rungs; `catalog check --fill` writes their sizes and gating; the picks hold.

    One rung is gated on the test Hub: the check records it, and without a token the choice passes over it.
    """
    monkeypatch.delenv("HF_TOKEN", raising=False)
    rungs = {m.key: m for m in course_ladder()[1:]}
    copy = tmp_path / "src"
    shutil.copytree(ROOT / "ossllm_helpers", copy / "ossllm_helpers", ignore=shutil.ignore_patterns("__pycache__"))
    with FakeHub() as hub:
        for m in catalog.load_catalog():  # the check asks about every downloadable entry, the rungs with these sizes
            if m.repo_id and m.files:
                files = {f.filename: Blank(HUB_SIZES.get(m.key) or f.size or 1) for f in m.files}
                hub.add_repo(m.repo_id, {**files, "README.md": f"# {m.name}\n"}, licence=m.licence, gated=bool(m.gated))
        env = {**os.environ, "HF_ENDPOINT": hub.url, "HF_HUB_OFFLINE": "0", "PYTHONPATH": str(copy)}
        fill = [sys.executable, "-m", "ossllm_helpers", "catalog", "check", "--fill"]
        proc = subprocess.run(fill, capture_output=True, text=True, env=env, cwd=copy, timeout=120)
        assert proc.returncode == 0 and "DRIFT" not in proc.stdout, proc.stdout + proc.stderr
        doc = json.loads((copy / "ossllm_helpers" / "data" / "catalog.json").read_text())
        filled = course_ladder(doc)
        assert {m.key: m.file().size for m in filled[1:]} == HUB_SIZES
        assert all(m.gated is False for m in filled[1:])
        for total, expected in COURSE_PICKS.items():
            choice = choose_model(n_ctx=4096, available=machine(total), offline=False, models=filled, env={})
            size = HUB_SIZES[expected] / 1e9
            assert choice.model == expected and choice.reason.startswith(f"{catalog.get_model(expected).name} "
                                                                          f"{choice.quant}, {size:.1f} GB:")
        hub.set_gated(rungs["qwen3-8b"].repo_id, True)  # the maker adds an access form
        proc = subprocess.run([sys.executable, "-m", "ossllm_helpers", "catalog", "check"], capture_output=True,
                              text=True, env=env, cwd=copy, timeout=120)
        assert proc.returncode == 1 and "DRIFT  qwen3-8b: gated: catalog false, Hub true" in proc.stdout
    doc["models"] = [dict(e, gated=True) if e["key"] == "qwen3-8b" else e for e in doc["models"]]
    choice = choose_model(n_ctx=4096, available=machine(16), offline=False, models=course_ladder(doc), env={})
    assert choice.model == "granite-4.0-h-tiny"  # the next rung down that needs no token


_REAL_DRIVER = r"""
import json, sys
import ossllm_helpers.memory as memory
from ossllm_helpers.chat import Chat
memory.available_memory = lambda: int(float(sys.argv[1]) * 1e9 * 0.7)
chat = Chat(n_threads=1, n_ctx=1024)
before = chat.choice
chat.load_model()
print(json.dumps({"chose": before.model, "reason": before.reason, "loaded": chat.loaded,
                  "path": str(chat.backend.path), "quirks": chat.backend.quirks.family}))
"""


@pytest.mark.model
def test_the_course_ladders_rung_downloads_by_its_catalog_repo_and_file_name(smollm2_gguf, tmp_path):
    """On an 8 GB machine the course picks Qwen3-4B and fetches it by the catalog's repo id and file name.

    The test Hub serves the offline SmolLM2 file under that name (no Qwen3 file is at hand offline), so the
    loaded model's own header says llama, and the chat treats it as a plain model.
    """
    qwen = catalog.get_model("qwen3-4b")
    with FakeHub() as hub:
        hub.add_repo(qwen.repo_id, {qwen.file().filename: smollm2_gguf}, licence="apache-2.0")
        env = {k: v for k, v in os.environ.items() if k not in ("HF_TOKEN", "HF_HUB_CACHE")}
        env.update(HF_ENDPOINT=hub.url, HF_HOME=str(tmp_path / "hf"), HF_HUB_OFFLINE="0", PYTHONPATH=str(ROOT))
        proc = subprocess.run([sys.executable, "-c", _REAL_DRIVER, "8"], env=env, capture_output=True, text=True,
                              timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
        run = json.loads(proc.stdout.strip().splitlines()[-1])
    assert run["chose"] == "qwen3-4b" and run["loaded"] and run["quirks"] == "plain"
    assert run["reason"].startswith("Qwen3 4B Q4_K_M, about ") and "downloaded once" in run["reason"]
    assert run["path"].endswith(f"{qwen.file().filename}") and "models--Qwen--Qwen3-4B-GGUF" in run["path"]
