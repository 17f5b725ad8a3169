"""Class mode against a real OpenAI-compatible server: llama-cpp-python's own, on 127.0.0.1, serving SmolLM2.

The load test runs 16 lab sessions of 3 exchanges at once (short replies: it
checks completeness, not speed): every transcript complete, every question its
own session's, in order, each answered.
"""

import json
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import pytest

from ossllm_helpers.chat import Chat, ChatServerError
from ossllm_helpers.lab import LabChat, lab_complete

pytestmark = [pytest.mark.model, pytest.mark.server]

SETTINGS = dict(temperature=0, seed=0, n_ctx=512, max_tokens=16)
LAB = {
    "lesson": "lesson07", "title": "Lab 7", "assistant_name": "Advisor", "opening": "Hello.",
    "system_prompt": "You are a concise tutor. Answer in one short sentence.",
    "starters": ["What is a KV cache?"], "minimum_exchanges": 3,
}


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
    # --interrupt_requests False: by default a new request cuts off the reply being streamed,
    # which loses replies as soon as two students ask at once.
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(model_dir["smollm2-135m-instruct"]),
           "--model_alias", "smollm2", "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048",
           "--n_threads", "1", "--n_threads_batch", "1", "--interrupt_requests", "False"]
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


def test_streaming_and_whole_replies_agree(server):
    chat = Chat(base_url=server, system="You are a concise tutor.", **SETTINGS)
    assert not chat.is_base
    whole = chat.send("What is the capital of France?")
    assert "Paris" in whole
    chat.reset()
    pieces = list(chat.send("What is the capital of France?", stream=True))
    assert len(pieces) > 3 and "".join(pieces).strip() == whole
    assert chat.exchanges == 1 and not chat.loaded and chat.model == "smollm2"  # asked the server its model


def test_a_reply_cut_by_the_server_says_so(server):
    chat = Chat(base_url=server, temperature=0, seed=0, n_ctx=512, max_tokens=3)
    reply = chat.send("Write a long story about a dragon.")
    assert chat.truncated and chat.backend.finish_reason == "length" and reply.endswith("…")


def test_server_conversation_has_memory(server):
    chat = Chat(base_url=server, system="You are a helpful assistant.", **SETTINGS)
    without_history = chat.send("What is my dog called?")
    chat.reset()
    chat.send("I have a dog called Rex.")
    assert "Rex" in chat.send("What is my dog called?") and "Rex" not in without_history


def test_class_mode_from_the_environment(server, monkeypatch):
    monkeypatch.setenv("OSSLLM_BASE_URL", server)
    monkeypatch.setenv("OSSLLM_MODEL", "smollm2")
    chat = Chat(system="You are a concise tutor.", **SETTINGS)
    assert chat.base_url == server and chat.choice.source == "server" and chat.model == "smollm2"
    assert "Paris" in chat.send("What is the capital of France?")
    local = Chat("some.gguf", base_url=False)  # a named model, or base_url=False, stays on this machine
    assert local.base_url is None


def test_unreachable_server_is_a_clear_error():
    chat = Chat(base_url=f"http://127.0.0.1:{free_port()}/v1", model="m")
    with pytest.raises(ChatServerError, match="Cannot reach") as err:
        chat.send("hello")
    assert "/v1" in str(err.value) and chat.messages == [] and chat.exchanges == 0


def test_wrong_path_says_where_the_api_is(server):
    chat = Chat(base_url=server.removesuffix("/v1") + "/nothing-here", model="smollm2", **SETTINGS)
    with pytest.raises(ChatServerError, match="404") as err:
        chat.send("hello")
    assert "/v1" in str(err.value)


def test_sixteen_lab_sessions_at_once_lose_nothing(server, tmp_path, monkeypatch):
    monkeypatch.setenv("OSSLLM_BASE_URL", server)
    monkeypatch.delenv("OSSLLM_MODEL", raising=False)
    sessions, exchanges = 16, 3
    labs, errors = [], []
    for s in range(sessions):
        folder = tmp_path / f"student{s:02d}"
        folder.mkdir()
        labs.append(LabChat(LAB, transcript=folder / "lab_transcript.json", folder=folder, temperature=0, seed=s,
                            max_tokens=8, n_ctx=1024))
    start = threading.Barrier(sessions)

    def student(s, lab):
        try:
            start.wait()
            for q in range(exchanges):
                if not lab.ask(f"Student {s}, question {q}: name one thing a KV cache stores."):
                    errors.append((s, q, lab.last_error))
        except Exception as exc:  # the test reports it; the thread must not die silently
            errors.append((s, "crashed", repr(exc)))

    threads = [threading.Thread(target=student, args=(s, lab)) for s, lab in enumerate(labs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not any(t.is_alive() for t in threads) and errors == []
    for s, lab in enumerate(labs):
        path = lab.transcript_path
        data = json.loads(path.read_text(encoding="utf-8"))
        asked = [m["content"] for m in data["messages"] if m["role"] == "user"]
        assert asked == [f"Student {s}, question {q}: name one thing a KV cache stores." for q in range(exchanges)]
        replies = [m["content"] for m in data["messages"] if m["role"] == "assistant"]
        assert len(replies) == exchanges and all(r.strip() for r in replies)
        assert data["model_choice"]["source"] == "server" and lab_complete(path, lesson="lesson07", minimum=3)
