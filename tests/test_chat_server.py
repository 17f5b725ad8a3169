"""Chat against a real OpenAI-compatible server: llama-cpp-python's own, on 127.0.0.1."""

import json
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from ossllm_helpers.chat import Chat, ChatServerError

pytestmark = pytest.mark.model

SETTINGS = dict(temperature=0, seed=0, n_ctx=512, max_tokens=16)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(model_dir, tmp_path_factory):
    """llama-cpp-python's server on a free port, serving SmolLM2; its /v1 URL."""
    pytest.importorskip("uvicorn", reason="needs llama-cpp-python[server] (pyproject's test extra)")
    port = free_port()
    log_path = tmp_path_factory.mktemp("server") / "server.log"
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(model_dir["smollm2-135m-instruct"]),
           "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "512",
           "--n_threads", "1", "--n_threads_batch", "1"]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 180  # a busy machine loads slowly
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the server exited ({proc.returncode}):\n{log_path.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{url}/models", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the server did not answer within 180 s:\n{log_path.read_text()[-2000:]}")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_server_lists_its_model(server):
    with urllib.request.urlopen(f"{server}/models") as r:
        assert json.load(r)["data"]


def test_streaming_and_whole_replies_agree(server):
    chat = Chat(base_url=server, system="You are a concise tutor.", **SETTINGS)
    assert not chat.is_base
    whole = chat.send("What is the capital of France?")
    assert "Paris" in whole
    chat.reset()
    pieces = list(chat.send("What is the capital of France?", stream=True))
    assert len(pieces) > 3 and "".join(pieces).strip() == whole
    assert chat.exchanges == 1 and not chat.loaded  # nothing was loaded on this side


def test_settings_reach_the_server(server):
    chat = Chat(base_url=server, temperature=0, seed=0, n_ctx=512, max_tokens=3)
    pieces = [p for p in chat.send("Write a long story about a dragon.", stream=True) if p]
    assert 1 <= len(pieces) <= 3  # one piece a token, and no more than max_tokens


def test_server_conversation_has_memory(server):
    chat = Chat(base_url=server, system="You are a helpful assistant.", **SETTINGS)
    question = "What is my dog called?"
    without_history = chat.send(question)
    chat.reset()
    chat.send("I have a dog called Rex.")
    assert "Rex" in chat.send(question) and "Rex" not in without_history
    assert [m["role"] for m in chat.messages] == ["system", "user", "assistant", "user", "assistant"]


def test_unreachable_server_is_a_clear_error():
    chat = Chat(base_url=f"http://127.0.0.1:{free_port()}/v1")
    with pytest.raises(ChatServerError, match="Cannot reach") as err:
        chat.send("hello")
    assert "/v1" in str(err.value)
    assert chat.messages == [] and chat.exchanges == 0


def test_wrong_path_says_where_the_api_is(server):
    chat = Chat(base_url=server.removesuffix("/v1") + "/nothing-here", **SETTINGS)
    with pytest.raises(ChatServerError, match="404") as err:
        chat.send("hello")
    assert "/v1" in str(err.value)
