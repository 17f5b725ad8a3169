"""Hub downloads: quant parsing (logic), the offline pack (real files, no network) and
real huggingface_hub downloads against a Hub-compatible server on 127.0.0.1.

Every online test runs its calls in a fresh Python process (tests/hubclient.py) whose
huggingface_hub talks to tests/hubserver.py; the server runs in this process, so the
tests can count what the client asked for.
"""

import filecmp
import socket
from pathlib import Path

import pytest

import ossllm_helpers as oh
from hubclient import gguf_bytes as _gguf_bytes, run_online, since
from hubserver import FakeHub
from ossllm_helpers.pack import OFFLINE_MODELS

TINY = "course-test/tiny-GGUF"
SMOL = "course-test/SmolLM2-135M-Instruct-GGUF"
SMOL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
GATED = "course-test/gated-GGUF"
NO_GGUF = "course-test/original-weights"
SPLIT = "course-test/split-GGUF"
TOKEN = "hf_course_test_token"


# ---------------------------------------------------------------- pure logic


@pytest.mark.parametrize(
    "name, quant",
    [
        ("gemma-3-270m-q4_k_m.gguf", "Q4_K_M"),
        ("SmolLM2-135M-Instruct.Q4_1.gguf", "Q4_1"),
        ("Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf", "Q4_K_M"),
        ("smollm2-360m-instruct-q8_0.gguf", "Q8_0"),
        ("Llama-3.2-1B-Instruct-f16.gguf", "F16"),
        ("qwen2.5-1.5b-instruct-fp16.gguf", "F16"),
        ("model-BF16.gguf", "BF16"),
        ("Phi-3.5-mini-instruct-IQ4_XS.gguf", "IQ4_XS"),
        ("Llama-3.2-1B-Instruct-IQ2_XXS.gguf", "IQ2_XXS"),
        ("Llama-3.2-1B-Instruct-Q4_0_4_8.gguf", "Q4_0_4_8"),
        ("Qwen3-30B-A3B-UD-Q4_K_XL.gguf", "Q4_K_XL"),
        ("qwen2.5-7b-instruct-q4_k_m-00001-of-00002.gguf", "Q4_K_M"),
        ("gpt-oss-20b-MXFP4.gguf", "MXFP4"),
        ("sub/dir/Mistral-7B-Instruct-v0.3-Q5_K_S.gguf", "Q5_K_S"),
        ("Qwen2.5-7B-Instruct.gguf", None),
        ("README.md", None),
    ],
)
def test_quant_of_reads_the_quant_from_a_file_name(name, quant):
    assert oh.quant_of(name) == quant


def test_offline_mode_needs_no_probe(monkeypatch):
    """With HF_HUB_OFFLINE, is_offline() answers without opening any connection."""
    from huggingface_hub import constants

    from ossllm_helpers.hub import probe

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(probe, "_probe", lambda url: pytest.fail("the network was probed in offline mode"))
    assert oh.is_offline() is True and oh.online() is False
    assert "HF_HUB_OFFLINE" in probe.offline_reason()


@pytest.mark.parametrize("args, kwargs, says", [
    ((TINY, "tiny-model-Q4_K_M.gguf"), {"quant": "Q8_0"}, "not a Q8_0 file"),
    ((TINY, "Q4_K_M"), {"quant": "Q8_0"}, "disagree"),
    ((TINY,), {"quant": 4}, "quant must be a non-empty string"),
    ((TINY, ""), {}, "filename must be a non-empty string"),
    ((None,), {}, "repo_id must be a Hub id"),
])
def test_download_refuses_bad_arguments_before_any_network(args, kwargs, says):
    with pytest.raises(oh.InvalidArgumentError, match=says) as err:
        oh.download(*args, **kwargs)
    assert isinstance(err.value, ValueError)


# ---------------------------------------------------------------- offline, real files, no network


@pytest.fixture
def offline(monkeypatch):
    """huggingface_hub in offline mode, and any attempt to open a connection fails the test."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)

    def no_network(*args, **kwargs):
        raise AssertionError("a network connection was attempted")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket.socket, "connect_ex", no_network)


@pytest.mark.model
def test_offline_fetch_returns_the_pack_file_without_network(offline, pack_cache, smollm2_gguf, gemma_gguf):
    path = oh.fetch("smollm2-135m-instruct", cache_dir=pack_cache)
    assert Path(path) == smollm2_gguf
    assert Path(path).read_bytes()[:4] == b"GGUF"
    # the same by repository and quant name, as a lab cell might write it
    gemma = OFFLINE_MODELS["gemma-3-270m"]
    assert Path(oh.download(gemma.repo_id, "Q4_K_M", cache_dir=pack_cache)) == gemma_gguf


@pytest.mark.model
def test_offline_fetch_installs_the_pack_into_an_empty_cache(offline, tmp_path, smollm2_gguf):
    cache = tmp_path / "cache"
    path = Path(oh.fetch("smollm2-135m-instruct", cache_dir=cache))
    assert cache in path.parents
    assert path.stat().st_size == oh.get_model("smollm2-135m-instruct").file().size
    assert filecmp.cmp(path, smollm2_gguf, shallow=False)


@pytest.mark.model
def test_offline_list_gguf_files_reads_the_cache(offline, pack_cache):
    smol = OFFLINE_MODELS["smollm2-135m-instruct"]
    assert oh.list_gguf_files(smol.repo_id, cache_dir=pack_cache) == [smol.filename]


def test_offline_without_cache_says_how_to_get_the_file(offline, tmp_path):
    with pytest.raises(oh.OfflineNotCachedError) as err:
        oh.fetch("llama-3.2-1b-instruct", cache_dir=tmp_path / "empty")
    msg = str(err.value)
    assert "bartowski/Llama-3.2-1B-Instruct-GGUF" in msg
    assert "HF_HUB_OFFLINE" in msg and "connect" in msg
    with pytest.raises(oh.OfflineNotCachedError, match="A Q4_K_M GGUF file"):
        oh.download("bartowski/Llama-3.2-1B-Instruct-GGUF", quant="Q4_K_M", cache_dir=tmp_path / "empty")


def test_offline_model_without_its_package_names_the_install_line(offline, tmp_path, monkeypatch):
    from ossllm_helpers import pack

    # Logic only: pretend the carrier package is not installed.
    monkeypatch.setattr(pack, "_package_dir", lambda module: None)
    with pytest.raises(oh.OfflineNotCachedError) as err:
        oh.fetch("gemma-3-270m", cache_dir=tmp_path / "empty")
    msg = str(err.value)
    assert OFFLINE_MODELS["gemma-3-270m"].pip_install in msg
    assert "./course up" in msg


@pytest.mark.model
def test_offline_missing_quant_lists_what_is_cached(offline, pack_cache):
    gemma = OFFLINE_MODELS["gemma-3-270m"]
    with pytest.raises(oh.OfflineNotCachedError) as err:
        oh.download(gemma.repo_id, quant="Q8_0", cache_dir=pack_cache)
    assert gemma.filename in str(err.value)


# ---------------------------------------------------------------- online: a Hub on 127.0.0.1


# A synthetic GGUF-sized file for transfer tests: big enough for the CDN to send it in several chunks.
BIG = 24_000_000  # past two of huggingface_hub's 10 MiB download chunks, so a broken transfer has something to resume


@pytest.fixture(scope="module")
def hub():
    server = FakeHub(token=TOKEN)
    server.add_repo(SMOL, {SMOL_FILE: _gguf_bytes("smol", BIG), "README.md": "# a small model, Q4_1\n"})
    server.add_repo(
        TINY,
        {
            "tiny-model-Q4_K_M.gguf": _gguf_bytes("q4km", 50_000),
            "tiny-model-Q8_0.gguf": _gguf_bytes("q80", 90_000),
            "tiny-model-IQ4_XS.gguf": _gguf_bytes("iq4xs", 40_000),
            "README.md": "# tiny\n",
            "config.json": '{"model_type": "llama"}\n',
        },
    )
    server.add_repo(GATED, {"gated-model-Q4_K_M.gguf": _gguf_bytes("gated"), "README.md": "# gated\n"}, gated=True)
    server.add_repo(NO_GGUF, {"config.json": "{}\n", "model.safetensors": b"\0" * 64, "README.md": "# weights\n"})
    server.add_repo(
        SPLIT,
        {
            "big-Q4_K_M-00001-of-00002.gguf": _gguf_bytes("part1"),
            "big-Q4_K_M-00002-of-00002.gguf": _gguf_bytes("part2"),
        },
    )
    with server:
        yield server


@pytest.fixture(scope="module")
def hub_with_pack_repo(hub, smollm2_gguf):
    """The test Hub, also serving the offline SmolLM2 under its real repository id."""
    smol = OFFLINE_MODELS["smollm2-135m-instruct"]
    hub.add_repo(smol.repo_id, {smol.filename: smollm2_gguf, "README.md": "# the real repository id\n"})
    return hub


def test_download_whole_file_then_reuse_the_cache(hub, tmp_path):
    mark = len(hub.log)
    first = run_online(hub, tmp_path / "hf", ("download", [SMOL], {"quant": "Q4_1"}))
    path = Path(first["ok"])
    assert path.name == SMOL_FILE and (tmp_path / "hf" / "hub") in path.parents
    assert path.read_bytes() == _gguf_bytes("smol", BIG)
    gets = since(hub, mark, server="cdn", method="GET")
    assert len(gets) == 1 and gets[0].range is None

    # A new process (a restarted kernel) finds it in the cache: it may ask for metadata, never for the bytes.
    mark = len(hub.log)
    again = run_online(hub, tmp_path / "hf", ("download", [SMOL, SMOL_FILE]))
    assert again["ok"] == first["ok"]
    assert since(hub, mark, server="cdn") == []
    assert since(hub, mark, server="hub"), "the second call still checks the Hub for a newer revision"


def test_interrupted_transfer_is_resumed_with_a_range_request(hub, tmp_path):
    cut = 10 * 1024 * 1024
    hub.drop_next_transfer(SMOL, SMOL_FILE, after_bytes=cut)
    mark = len(hub.log)
    result = run_online(hub, tmp_path / "hf", ("download", [SMOL, SMOL_FILE]))
    assert Path(result["ok"]).read_bytes() == _gguf_bytes("smol", BIG)
    gets = since(hub, mark, server="cdn", method="GET")
    assert [g.range for g in gets] == [None, f"bytes={cut}-"]


def test_quant_names_resolve_against_the_repository(hub, tmp_path):
    by_kw, by_position, default = run_online(
        hub,
        tmp_path / "hf",
        ("download", [TINY], {"quant": "q8_0"}),
        ("download", [TINY, "IQ4_XS"]),
        ("download", [TINY]),
    )
    assert Path(by_kw["ok"]).name == "tiny-model-Q8_0.gguf"
    assert Path(by_position["ok"]).name == "tiny-model-IQ4_XS.gguf"
    assert Path(default["ok"]).name == "tiny-model-Q4_K_M.gguf"
    assert Path(by_kw["ok"]).read_bytes() == _gguf_bytes("q80", 90_000)


def test_split_gguf_downloads_every_shard(hub, tmp_path):
    result = run_online(hub, tmp_path / "hf", ("download", [SPLIT], {"quant": "Q4_K_M"}))
    first = Path(result["ok"])
    assert first.name == "big-Q4_K_M-00001-of-00002.gguf"
    assert (first.parent / "big-Q4_K_M-00002-of-00002.gguf").read_bytes() == _gguf_bytes("part2")


def test_unknown_repository(hub, tmp_path):
    plain, near_miss, key = run_online(
        hub,
        tmp_path / "hf",
        ("download", ["course-test/no-such-GGUF"], {"quant": "Q4_K_M"}),
        ("download", ["bartowski/Llama-3.2-1B-Instruct-GUF"], {"quant": "Q4_K_M"}),
        ("download", ["qwen2.5-0.5b-instruct"]),
    )
    assert plain["error"] == "RepoNotFoundError"
    assert "course-test/no-such-GGUF" in plain["message"] and "spelling" in plain["message"]
    assert near_miss["error"] == "RepoNotFoundError"
    assert "bartowski/Llama-3.2-1B-Instruct-GGUF" in near_miss["message"]
    assert "oh.fetch('llama-3.2-1b-instruct')" in near_miss["message"]
    assert key["error"] == "RepoNotFoundError" and "oh.fetch('qwen2.5-0.5b-instruct')" in key["message"]


def test_missing_file_or_quant_lists_the_gguf_files_and_quants(hub, tmp_path):
    mark = len(hub.log)
    quant, name = run_online(
        hub,
        tmp_path / "hf",
        ("download", [TINY], {"quant": "Q5_K_M"}),
        ("download", [TINY, "tiny-model-Q6_K.gguf"]),
    )
    for result in (quant, name):
        assert result["error"] == "FileNotInRepoError"
        for f in ("tiny-model-Q4_K_M.gguf", "tiny-model-Q8_0.gguf", "tiny-model-IQ4_XS.gguf"):
            assert f in result["message"]
        assert "Quants: IQ4_XS, Q4_K_M, Q8_0" in result["message"]
    assert "no Q5_K_M GGUF file" in quant["message"]
    assert since(hub, mark, server="cdn") == []


def test_repository_without_gguf_points_to_a_gguf_repository(hub, tmp_path):
    result = run_online(hub, tmp_path / "hf", ("download", [NO_GGUF], {"quant": "Q4_K_M"}))
    assert result["error"] == "FileNotInRepoError"
    assert "no GGUF files" in result["message"] and "-GGUF" in result["message"]


def test_unknown_revision(hub, tmp_path):
    result = run_online(hub, tmp_path / "hf", ("download", [TINY], {"quant": "Q4_K_M", "revision": "v9"}))
    assert result["error"] == "FileNotInRepoError" and "revision 'v9'" in result["message"]


def test_gated_repository_needs_the_licence_and_a_token(hub, tmp_path):
    call = ("download", [GATED], {"quant": "Q4_K_M"})
    anonymous = run_online(hub, tmp_path / "a", call)
    assert anonymous["error"] == "GatedRepoError"
    for words in ("accept", "HF_TOKEN", "hf auth login", "huggingface-cli login", "No Hugging Face token"):
        assert words in anonymous["message"]
    assert f"{hub.url}/{GATED}" in anonymous["message"]

    wrong = run_online(hub, tmp_path / "b", call, token="hf_not_granted")
    assert wrong["error"] == "GatedRepoError" and "not been granted" in wrong["message"]

    mark = len(hub.log)
    granted = run_online(hub, tmp_path / "c", call, token=TOKEN)
    assert Path(granted["ok"]).read_bytes() == _gguf_bytes("gated")
    heads = [r for r in since(hub, mark, server="hub", method="HEAD") if "/resolve/" in r.path]
    assert heads and all(r.headers.get("authorization") == f"Bearer {TOKEN}" for r in heads)
    probes = [r for r in since(hub, mark, server="hub") if r.path == "/"]
    assert len(probes) == 1 and "authorization" not in probes[0].headers, "one probe, and no token sent with it"
    cdn = since(hub, mark, server="cdn")
    assert cdn and all("authorization" not in r.headers for r in cdn), "the token must not leave the Hub"


def test_not_enough_disk_refuses_before_downloading(hub, tmp_path):
    mark = len(hub.log)
    result = run_online(hub, tmp_path / "hf", ("download", [SMOL, SMOL_FILE]), free_bytes=1_000_000)
    assert result["error"] == "NotEnoughDiskError"
    msg = result["message"]
    assert "24.00 MB" in msg and "1.00 MB free" in msg and "cache_dir=" in msg
    assert since(hub, mark, server="cdn") == []
    assert not list((tmp_path / "hf").rglob("*.gguf"))

    # Once the file is cached, a full disk is no reason to refuse it.
    fetched = run_online(hub, tmp_path / "hf", ("download", [SMOL, SMOL_FILE]))
    again = run_online(hub, tmp_path / "hf", ("download", [SMOL, SMOL_FILE]), free_bytes=1_000)
    assert again["ok"] == fetched["ok"]


@pytest.mark.model
def test_online_fetch_of_an_offline_model_uses_the_package_not_the_network(hub_with_pack_repo, tmp_path):
    hub = hub_with_pack_repo
    smol = OFFLINE_MODELS["smollm2-135m-instruct"]
    mark = len(hub.log)
    result = run_online(hub, tmp_path / "hf", ("fetch", ["smollm2-135m-instruct"]))
    assert Path(result["ok"]).name == smol.filename
    # The packaged blob is named by its sha256, which the Hub reports as the file's etag: nothing to transfer.
    assert since(hub, mark, server="cdn") == []


def test_unreachable_hub_falls_back_to_the_cache(hub, tmp_path):
    first = run_online(hub, tmp_path / "hf", ("download", [TINY], {"quant": "Q8_0"}))
    with socket.socket() as s:  # a port that nothing listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    cached, missing = run_online(
        dead,
        tmp_path / "hf",
        ("download", [TINY], {"quant": "Q8_0"}),
        ("download", [TINY], {"quant": "Q4_K_M"}),
    )
    assert cached["ok"] == first["ok"]
    assert missing["error"] == "OfflineNotCachedError" and "could not be reached" in missing["message"]


def test_list_gguf_files_online(hub, tmp_path):
    result = run_online(hub, tmp_path / "hf", ("list_gguf_files", [TINY]))
    assert result["ok"] == ["tiny-model-IQ4_XS.gguf", "tiny-model-Q4_K_M.gguf", "tiny-model-Q8_0.gguf"]


@pytest.mark.notebooks
def test_progress_bar_is_a_widget_in_a_notebook(hub, tmp_path):
    nbformat = pytest.importorskip("nbformat")
    from nbclient import NotebookClient

    setup = (
        "import os\n"
        f"os.environ.update(HF_ENDPOINT={hub.url!r}, HF_HOME={str(tmp_path / 'hf')!r}, HF_HUB_OFFLINE='0')\n"
        "import ossllm_helpers as oh\n"
        f"path = oh.download({TINY!r}, quant='Q8_0')\n"
        "print(os.path.basename(path))"
    )
    quiet = f"print(os.path.basename(oh.download({TINY!r}, quant='IQ4_XS', progress=False)))"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(setup), nbformat.v4.new_code_cell(quiet)])
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()

    def widgets(cell):
        return [o for o in cell.outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]

    def printed(cell):
        return "".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream")

    loud, silent = nb.cells
    assert "tiny-model-Q8_0.gguf" in printed(loud)
    assert widgets(loud), f"no progress widget among {[o.get('output_type') for o in loud.outputs]}"
    assert "tiny-model-IQ4_XS.gguf" in printed(silent) and not widgets(silent)

