"""Chat: history trimming and transcripts as logic; real, deterministic replies from both offline models."""

import io
import json

import pytest

from ossllm_helpers import gguf
from ossllm_helpers.chat import Chat, ChatServerError, PromptTooLongError, _sse_pieces, base_transcript, trim_history
from ossllm_helpers.errors import ModelTooLargeError, NotGGUFError, OssllmError

# --- pure logic ---


def words(message):
    """A stand-in tokenizer where only the trimming logic matters: one token per word."""
    return len(message["content"].split())


def conversation(n_exchanges, *, system=True):
    msgs = [{"role": "system", "content": "be brief"}] if system else []
    for i in range(n_exchanges):
        msgs += [{"role": "user", "content": f"question {i} " + "w " * 8},
                 {"role": "assistant", "content": f"answer {i} " + "w " * 8}]
    return msgs + [{"role": "user", "content": "new question"}]


def test_trim_keeps_everything_that_fits():
    msgs = conversation(3)
    kept, dropped = trim_history(msgs, words, budget=1000)
    assert kept == msgs and dropped == 0


def test_trim_drops_oldest_exchanges_and_keeps_system():
    msgs = conversation(5)  # 2 + 5 x 20 + 2 = 104 "tokens"
    kept, dropped = trim_history(msgs, words, budget=50)
    assert kept[0] == {"role": "system", "content": "be brief"}
    assert kept[-1]["content"] == "new question"
    assert dropped == 3  # 104 -> 84 -> 64 -> 44
    assert [m["content"].split()[1] for m in kept[1:-1]] == ["3", "3", "4", "4"]
    assert sum(map(words, kept)) <= 50
    assert len(msgs) == 12  # the input list is left alone


def test_trim_without_system_prompt():
    kept, dropped = trim_history(conversation(4, system=False), words, budget=25)
    assert dropped == 3 and kept[0]["content"].startswith("question 3")


def test_trim_drops_a_lone_message_too():
    msgs = [{"role": "system", "content": "s"}, {"role": "assistant", "content": "hello " * 30},
            {"role": "user", "content": "hi"}]
    kept, dropped = trim_history(msgs, words, budget=5)
    assert kept == [msgs[0], msgs[2]] and dropped == 1


def test_trim_refuses_a_message_that_cannot_fit():
    msgs = [{"role": "system", "content": "a " * 10}, {"role": "user", "content": "b " * 30}]
    with pytest.raises(PromptTooLongError, match="n_ctx"):
        trim_history(msgs, words, budget=20)


def test_base_transcript():
    msgs = [{"role": "system", "content": "A chat."}, {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello!"}, {"role": "user", "content": "Name a colour."}]
    assert base_transcript(msgs) == "A chat.\n\nUser: Hi\nAssistant: Hello!\nUser: Name a colour.\nAssistant:"


@pytest.mark.parametrize("kw", [dict(n_ctx=10), dict(n_ctx=512, max_tokens=512), dict(max_tokens=0),
                                dict(temperature=-1), dict(top_p=0), dict(seed=-3), dict(system=5),
                                dict(n_threads=0)])
def test_settings_out_of_range(kw):
    with pytest.raises(ValueError):
        Chat("model.gguf", **kw)


def test_system_prompt_is_the_first_message():
    chat = Chat("model.gguf", system="Persona A")
    assert chat.messages == [{"role": "system", "content": "Persona A"}]
    chat.messages.append({"role": "user", "content": "hi"})
    chat.system = "Persona B"
    assert chat.messages[0] == {"role": "system", "content": "Persona B"} and len(chat.messages) == 2
    chat.system = None
    assert chat.messages == [{"role": "user", "content": "hi"}]


def test_save_and_load_transcript(tmp_path):
    chat = Chat("some/model.gguf", system="Be kind.", temperature=0.2, seed=7, n_ctx=1024,
                max_tokens=64, api_key="secret")
    chat.messages += [{"role": "user", "content": "Héllo"}, {"role": "assistant", "content": "Hi!"}]
    chat.exchanges = 1
    path = chat.save(tmp_path / "t.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    assert set(data) == {"model", "system", "messages", "exchanges", "settings"}
    assert data["model"] == "some/model.gguf" and data["system"] == "Be kind." and data["exchanges"] == 1
    assert data["settings"]["seed"] == 7 and data["settings"]["n_ctx"] == 1024
    assert "secret" not in path.read_text()  # keys stay out of transcripts
    again = Chat.load(path)
    assert again.messages == chat.messages and again.exchanges == 1
    assert (again.model, again.temperature, again.seed, again.max_tokens) == ("some/model.gguf", 0.2, 7, 64)
    other = Chat.load(path, system="Be terse.", temperature=0.0)
    assert other.messages[0] == {"role": "system", "content": "Be terse."} and other.temperature == 0.0
    assert other.messages[1:] == chat.messages[1:]


@pytest.mark.parametrize("content", ["not json", '{"messages": "nope"}', '{"messages": [{"role": "x"}]}', "[]"])
def test_load_rejects_what_is_not_a_transcript(tmp_path, content):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(OssllmError, match="not a chat transcript"):
        Chat.load(path)


def test_server_mode_trims_before_any_request():
    # port 9 (discard) is never contacted: the message alone overflows n_ctx
    chat = Chat(base_url="http://127.0.0.1:9/v1", n_ctx=128, max_tokens=16)
    with pytest.raises(PromptTooLongError):
        chat.send("word " * 500)
    assert not chat.is_base


def sse(*lines):
    return io.BytesIO("".join(line + "\n" for line in lines).encode())


def test_server_sent_events_are_parsed():
    chunk = lambda text: "data: " + json.dumps({"choices": [{"delta": {"content": text}}]})
    stream = sse(": keep-alive", "", 'data: {"choices": [{"delta": {"role": "assistant"}}]}', "",
                 chunk("Hel"), "", chunk("lo"), "", "data: [DONE]", "", chunk("never"))
    assert [p for p in _sse_pieces(stream, "u") if p] == ["Hel", "lo"]


@pytest.mark.parametrize("line, says", [('data: {"error": {"message": "model not found"}}', "model not found"),
                                        ("data: <html>", "not JSON")])
def test_server_errors_in_the_stream(line, says):
    with pytest.raises(ChatServerError, match=says):
        list(_sse_pieces(sse(line), "http://x/v1/chat/completions"))


def test_missing_model_file_is_a_clear_error(tmp_path):
    with pytest.raises(NotGGUFError, match="no such file"):
        Chat(str(tmp_path / "absent.gguf")).send("hi")


def test_refuses_a_model_too_large_before_loading(smollm2_gguf, monkeypatch):
    import llama_cpp

    def must_not_load(*args, **kwargs):
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(llama_cpp, "Llama", must_not_load)
    monkeypatch.setattr(gguf, "available_memory", lambda: 50 * 2**20)
    chat = Chat(str(smollm2_gguf))
    with pytest.raises(ModelTooLargeError) as err:
        chat.send("hello")
    text = str(err.value)
    assert "does NOT fit" in text and "available now 0.05 GiB" in text
    assert "quant=" in text and "n_ctx" in text and "smaller model" in text
    assert not chat.loaded and chat.messages == [] and chat.exchanges == 0


# --- the real models: SmolLM2 (instruct) and gemma-3-270m (base) ---

# One thread: on a machine shared with other jobs, two threads waiting on each other
# make prompt evaluation several times slower (see benchmarks/README.md).
SETTINGS = dict(temperature=0, seed=0, n_ctx=512, max_tokens=16, n_threads=1)


@pytest.fixture(scope="module")
def smol(model_dir):
    chat = Chat(str(model_dir["smollm2-135m-instruct"]), **SETTINGS)
    yield chat
    chat.close()


@pytest.fixture
def fresh(smol):
    smol.system = "You are a helpful assistant."
    smol.max_tokens = SETTINGS["max_tokens"]
    smol.reset()
    return smol


@pytest.mark.model
def test_instruct_model_is_not_base(fresh):
    assert not fresh.is_base and fresh.info.has_chat_template


@pytest.mark.model
def test_deterministic_and_streaming_equals_whole(fresh):
    fresh.system = "You are a concise tutor."
    question = "What is the capital of France?"
    first = fresh.send(question)
    assert "Paris" in first
    fresh.reset()
    assert fresh.send(question) == first
    fresh.reset()
    pieces = list(fresh.send(question, stream=True))
    assert len(pieces) > 3 and "".join(pieces).strip() == first


@pytest.mark.model
def test_same_reply_from_a_second_chat(fresh, smollm2_gguf):
    other = Chat(str(smollm2_gguf), **SETTINGS, system=fresh.system)
    try:
        assert other.send("Name a primary colour.") == fresh.send("Name a primary colour.")
    finally:
        other.close()


@pytest.mark.model
def test_multi_turn_memory(fresh):
    question = "What is my dog called?"
    without_history = fresh.send(question)
    fresh.reset()
    fresh.send("I have a dog called Rex.")
    with_history = fresh.send(question)
    assert "Rex" in with_history and "Rex" not in without_history
    assert fresh.exchanges == 2
    assert [m["role"] for m in fresh.messages] == ["system", "user", "assistant", "user", "assistant"]


@pytest.mark.model
def test_history_grows_only_when_a_reply_completes(fresh):
    before = list(fresh.messages)
    stream = fresh.send("Count from one to five.", stream=True)
    first = next(stream)
    assert first and fresh.messages == before and fresh.exchanges == 0
    rest = "".join(stream)
    assert fresh.exchanges == 1
    assert fresh.messages[-1] == {"role": "assistant", "content": (first + rest).strip()}
    # a stream abandoned half-way leaves no trace, and neither does one a new message overtakes
    half = fresh.send("Tell me about cats.", stream=True)
    next(half)
    half.close()
    overtaken = fresh.send("Tell me about dogs.", stream=True)
    next(overtaken)
    fresh.send("Tell me about birds.")
    assert fresh.exchanges == 2
    assert [m["content"] for m in fresh.messages if m["role"] == "user"] == ["Count from one to five.",
                                                                             "Tell me about birds."]
    assert list(overtaken) == []


@pytest.mark.model
def test_trimming_keeps_the_system_prompt(smollm2_gguf):
    system = "You are Captain Byte, a pirate who teaches computing. Always stay in character."
    chat = Chat(str(smollm2_gguf), system=system, temperature=0, seed=0, n_ctx=160, max_tokens=16,
                n_threads=1)
    try:
        for i in range(5):
            assert chat.send(f"Question {i}: in a few words, what is a CPU register for?")
        assert chat.exchanges == 5
        assert chat.dropped_exchanges > 0
        assert chat.messages[0] == {"role": "system", "content": system}
        assert len(chat.messages) < 1 + 2 * 5
        # the prompt llama-cpp-python renders for the next message still leaves room for a reply
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        render = Jinja2ChatFormatter(chat.info.chat_template, eos_token="<|im_end|>", bos_token="")
        prompt = render(messages=chat.messages + [{"role": "user", "content": "One more question?"}]).prompt
        assert len(chat._llm.tokenize(prompt.encode(), add_bos=False, special=True)) + 16 <= chat.n_ctx
        with pytest.raises(PromptTooLongError):
            chat.send("word " * 200)
        assert chat.exchanges == 5
    finally:
        chat.close()


@pytest.mark.model
def test_save_load_and_continue(fresh, tmp_path):
    fresh.send("My favourite number is 42.")
    path = fresh.save(tmp_path / "chat.json")
    restored = Chat.load(path)
    try:
        assert restored.messages == fresh.messages and restored.exchanges == 1
        assert restored.send("What is my favourite number?") == fresh.send("What is my favourite number?")
        assert restored.exchanges == 2
    finally:
        restored.close()


@pytest.mark.model
def test_catalog_key_resolves_through_the_hub_cache():
    from ossllm_helpers.pack import install_pack

    install_pack(keys=["smollm2-135m-instruct"])  # into this test's own Hub cache
    chat = Chat("smollm2-135m-instruct")
    assert chat.info.architecture == "llama" and chat.info.file_type == "Q4_1"
    assert not chat.loaded


@pytest.mark.model
def test_base_model_continues_a_transcript(gemma_gguf, capfd):
    chat = Chat(str(gemma_gguf), system="A conversation about geography.", **SETTINGS)
    try:
        assert chat.is_base and not chat.info.has_chat_template
        capfd.readouterr()
        streamed = "".join(chat.send("What is the capital of France?", stream=True))
        assert capfd.readouterr() == ("", "")  # loading and generating print nothing
        reply = chat.messages[-1]["content"]
        assert reply and reply == streamed.strip()
        assert "User:" not in reply  # generation stops at the next turn
        chat.reset()
        assert chat.send("What is the capital of France?") == reply
        assert chat.exchanges == 1
    finally:
        chat.close()
