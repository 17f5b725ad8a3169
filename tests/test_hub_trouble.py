"""The Hub in trouble: no network, a proxy that refuses, a repository changed since a file was cached,
a damaged cached file, a transfer that never finishes. Each gets a typed error or the cached copy, never a stall.

The calls run in fresh processes against tests/hubserver.py (see tests/hubclient.py); the network's
absence is a loopback port that accepts connections and never answers, so nothing here reaches the real Hub.
"""

import socket
import threading
from pathlib import Path

import pytest

from hubclient import gguf_bytes, run_online, since
from hubserver import Blank, FakeHub

TINY = "course-test/tiny-GGUF"
Q8 = "tiny-model-Q8_0.gguf"
CHANGING = "course-test/changing-GGUF"
BROKEN = "course-test/broken-GGUF"


@pytest.fixture(scope="module")
def hub():
    server = FakeHub()
    server.add_repo(TINY, {"tiny-model-Q4_K_M.gguf": gguf_bytes("q4km", 50_000), Q8: gguf_bytes("q80", 90_000)})
    with server:
        yield server


class BlackHole:
    """A loopback port that accepts every connection and never answers: a network that swallows requests."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.connections = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections.append(conn)  # kept open, never answered

    def close(self):
        for conn in self.connections:
            conn.close()
        self.sock.close()


@pytest.fixture
def black_hole():
    hole = BlackHole()
    yield hole
    hole.close()


def test_no_network_is_one_short_probe_then_no_more_network(black_hole, tmp_path):
    """A swallowed request: one probe of about a second, remembered; every Hub helper then answers at once."""
    calls = [
        ("is_offline", []), ("is_offline", []), ("online", []),
        ("hub_search", [], {"search": "gguf", "limit": 5}),
        ("list_gguf_files", [TINY]),
        ("download", [TINY], {"quant": "Q8_0"}),
        ("fetch", ["qwen2.5-0.5b-instruct"]),
    ]
    first, again, online, search, listed, download, fetch = run_online(black_hole.url, tmp_path / "hf", *calls)
    # Bounds far from the measured figures (about 1 s, then milliseconds): a hang or a retry loop, not noise.
    assert first["ok"] is True and 0.9 <= first["seconds"] < 10, first["seconds"]
    assert again["ok"] is True and online["ok"] is False
    for later in (again, online, search, listed, download, fetch):
        assert later["seconds"] < 3, later  # no retries, no second probe (the connection count proves it)
    assert search["ok"] == [] and search["printed"].startswith("Offline: the Hub") and search["printed"].count("\n") == 1
    assert listed["ok"] == []
    for result in (download, fetch):
        assert result["error"] == "OfflineNotCachedError" and "ConnectionError" in result["bases"]
        assert "could not be reached" in result["message"] and "timed out" in result["message"]
    assert len(black_hole.connections) == 1, "exactly one connection: the probe; huggingface_hub never retried"


def test_a_refused_connection_is_offline_at_once(tmp_path):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    probe, search = run_online(dead, tmp_path / "hf", ("is_offline", []), ("hub_search", [], {"quiet": True}))
    assert probe["ok"] is True and probe["seconds"] < 0.9  # refused in milliseconds: under the probe's 1 s timeout
    assert search["ok"] == [] and search["printed"] == ""


@pytest.mark.parametrize("status", [403, 404, 407, 503])
def test_a_refusing_proxy_serves_the_cache_and_says_how_to_stay_offline(hub, tmp_path, status):
    home = tmp_path / "hf"
    first = run_online(hub, home, ("download", [TINY], {"quant": "Q8_0"}))
    hub.refuse_all(status)
    try:
        cached, missing, listed = run_online(
            hub, home,
            ("download", [TINY], {"quant": "Q8_0"}),
            ("download", [TINY], {"quant": "Q4_K_M"}),
            ("list_gguf_files", [TINY]),
        )
    finally:
        hub.refuse_all(None)
    assert cached["ok"] == first["ok"]
    (warning,) = cached["warnings"]
    assert warning.startswith("HubFallbackWarning") and "HF_HUB_OFFLINE=1" in warning and Q8 in warning
    assert f"answered {status}" in warning and "could not be reached" not in warning
    assert missing["error"] == "HubUnavailableError" and missing["data"]["status"] == status
    msg = missing["message"]
    assert f"answered {status}" in msg and "HF_HUB_OFFLINE=1" in msg and "Q4_K_M" in msg
    assert "could not be reached" not in msg, "the Hub answered: the message must not say it could not be reached"
    assert ("proxy" in msg) == (status != 503) and ("try again in a few minutes" in msg) == (status == 503)
    assert listed["ok"] == [Q8]


def test_a_repository_gone_or_gated_since_it_was_cached_still_serves(hub, tmp_path):
    home = tmp_path / "hf"
    hub.add_repo(CHANGING, {"changing-Q4_K_M.gguf": gguf_bytes("changing")})
    first = run_online(hub, home, ("download", [CHANGING]))
    hub.set_gated(CHANGING, True)
    gated = run_online(hub, home, ("download", [CHANGING], {"quant": "Q4_K_M"}))
    hub.remove_repo(CHANGING)
    gone, unknown = run_online(hub, home, ("download", [CHANGING]), ("download", [CHANGING], {"quant": "Q8_0"}))
    assert gated["ok"] == gone["ok"] == first["ok"]
    # gated: the Hub still lists it and huggingface_hub serves the cached copy itself; gone: we say so
    assert "RepoNotFoundError" in gone["warnings"][0] and "HF_HUB_OFFLINE=1" in gone["warnings"][0]
    assert unknown["error"] == "RepoNotFoundError" and "LookupError" in unknown["bases"]


def test_a_damaged_cached_file_is_replaced_when_asked_again(hub, tmp_path):
    home = tmp_path / "hf"
    path = Path(run_online(hub, home, ("download", [TINY], {"quant": "Q8_0"}))["ok"])
    good = gguf_bytes("q80", 90_000)
    blob = path.resolve()
    blob.write_bytes(good[:1000])  # a cut-off copy, as a full disk or a killed kernel leaves it
    mark = len(hub.log)
    again = run_online(hub, home, ("download", [TINY], {"quant": "Q8_0"}))
    assert Path(again["ok"]).read_bytes() == good
    assert len(since(hub, mark, server="cdn", method="GET")) == 1
    # Same size, other bytes: only the user can know; force_download=True (the NotGGUFError advice) replaces it.
    blob = Path(again["ok"]).resolve()
    blob.write_bytes(b"\xff" * len(good))
    same, forced = run_online(hub, home, ("download", [TINY], {"quant": "Q8_0"}),
                              ("download", [TINY], {"quant": "Q8_0", "force_download": True}))
    assert same["ok"] == forced["ok"] and Path(forced["ok"]).read_bytes() == good


def test_force_download_offline_is_a_typed_error(tmp_path):
    result = run_online("http://127.0.0.1:9", tmp_path / "hf", ("download", [TINY, Q8], {"force_download": True}),
                        env={"HF_HUB_OFFLINE": "1"})
    assert result["error"] == "OfflineNotCachedError" and "force_download=True needs the Hub" in result["message"]


def test_a_transfer_that_keeps_breaking_is_a_typed_error_and_resumes_later(hub, tmp_path):
    home = tmp_path / "hf"
    name = "broken-Q4_K_M.gguf"
    hub.add_repo(BROKEN, {name: Blank(24_000_000)})
    hub.drop_every_transfer(BROKEN, name, after_bytes=1_000_000)
    failed = run_online(hub, home, ("download", [BROKEN]))
    assert failed["error"] == "DownloadInterruptedError" and "ConnectionError" in failed["bases"]
    assert failed["data"] == {"repo_id": BROKEN, "filename": name} and "run the same call again" in failed["message"]
    hub.drop_every_transfer(BROKEN, name, after_bytes=None)
    done = run_online(hub, home, ("download", [BROKEN]))
    assert Path(done["ok"]).stat().st_size == 24_000_000


@pytest.mark.model
def test_fetch_behind_a_refusing_proxy_uses_the_cached_model(hub, tmp_path):
    """The issue's case: a proxy answers 407 and fetch still returns the model already in the cache."""
    hub.refuse_all(407)
    try:
        result = run_online(hub, tmp_path / "hf", ("fetch", ["smollm2-135m-instruct"]))
    finally:
        hub.refuse_all(None)
    assert Path(result["ok"]).name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    (warning,) = result["warnings"]
    assert "407" in warning and "HF_HUB_OFFLINE=1" in warning
