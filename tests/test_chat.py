"""Chat: history, trimming, transcripts and bad input as logic (fake backends); real, deterministic replies from both offline models."""

import json

import pytest

from ossllm_helpers.chat import Backend, Chat, GpuProbe, LocalBackend, base_transcript, gpu_layers, tidy_cut, trim_history
from ossllm_helpers.errors import (
    ChatError,
    ChatSettingError,
    ContextFullError,
    ModelTooLargeError,
    NotGGUFError,
    PromptTooLongError,
    TranscriptError,
    TranscriptFolderError,
)

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
    assert len(msgs) == 12  # the input list is left alone


def test_trim_refuses_a_message_that_cannot_fit():
    msgs = [{"role": "system", "content": "a " * 10}, {"role": "user", "content": "b " * 30}]
    with pytest.raises(PromptTooLongError, match="n_ctx"):
        trim_history(msgs, words, budget=20)


def test_base_transcript():
    msgs = [{"role": "system", "content": "A chat."}, {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello!"}, {"role": "user", "content": "Name a colour."}]
    assert base_transcript(msgs) == "A chat.\n\nUser: Hi\nAssistant: Hello!\nUser: Name a colour.\nAssistant:"


@pytest.mark.parametrize("text, cut", [
    ("Paris is the capital. It has many muse", "Paris is the capital. …"),
    ("One two three fou", "One two three …"),
    ("Short. And then a much longer sentence that stops in the midd", "Short. And then a much longer sentence that stops in the …"),
])
def test_a_cut_reply_ends_at_a_whole_sentence_or_word(text, cut):
    assert tidy_cut(text) == cut


# --- bad input: each a typed error that says what to do ---


@pytest.mark.parametrize("kw, name", [
    (dict(temperature=-1), "temperature"), (dict(temperature=2.5), "temperature"),
    (dict(temperature="0.7"), "temperature"), (dict(temperature=None), "temperature"),
    (dict(temperature=True), "temperature"), (dict(n_ctx=10), "n_ctx"), (dict(n_ctx=2048.0), "n_ctx"),
    (dict(n_ctx=512, max_tokens=512), "max_tokens"), (dict(max_tokens=0), "max_tokens"),
    (dict(top_p=0), "top_p"), (dict(seed=-3), "seed"), (dict(seed="1"), "seed"), (dict(system=5), "system"),
    (dict(n_threads=0), "n_threads"), (dict(base_url=""), "base_url"),
])
def test_settings_of_the_wrong_type_or_range(kw, name):
    with pytest.raises(ChatSettingError) as err:
        Chat("model.gguf", **kw)
    assert err.value.name == name and isinstance(err.value, ValueError) and isinstance(err.value, ChatError)
    assert "must be" in str(err.value) and repr(kw[name]) in str(err.value)


def test_empty_message_is_a_setting_error():
    with pytest.raises(ChatSettingError, match="non-empty string"):
        Chat(backend=Scripted([])).send("   ")


def test_saving_into_a_missing_folder_names_the_folder(tmp_path):
    target = tmp_path / "no" / "such" / "chat.json"
    with pytest.raises(TranscriptFolderError) as err:
        Chat(backend=Scripted([])).save(target)
    assert err.value.folder == str(target.parent) and str(target.parent) in str(err.value)
    assert ".tmp" not in str(err.value) and isinstance(err.value, FileNotFoundError)


@pytest.mark.parametrize("content, says", [
    ("not json", "not JSON"), ('{"messages": "nope"}', "not a list"),
    ('{"messages": [{"role": "x", "content": "a"}]}', "role 'x'"),
    ('{"messages": [{"role": "user", "content": 5}]}', "content is int"),
    ("[]", "not an object"), ('{"messages": [], "exchanges": "two"}', "'exchanges' is 'two'"),
    ('{"messages": [], "settings": {"temperature": "hot"}}', "temperature is 'hot'"),
    ('{"messages": [], "settings": {"n_ctx": -5}}', "n_ctx is -5"),
    ('{"messages": [], "system": 7}', "'system' is 7"), ('{"messages": [], "settings": []}', "'settings' is list"),
])
def test_load_rejects_a_transcript_with_fields_of_the_wrong_type(tmp_path, content, says):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(TranscriptError) as err:
        Chat.load(path)
    assert says in str(err.value) and err.value.path == str(path) and "chat.save" in str(err.value)


def test_save_and_load_transcript(tmp_path):
    chat = Chat("some/model.gguf", system="Be kind.", temperature=0.2, seed=7, n_ctx=1024, max_tokens=64,
                api_key="secret")
    chat.messages += [{"role": "user", "content": "Héllo"}, {"role": "assistant", "content": "Hi!", "passages": []}]
    chat.exchanges = 1
    path = chat.save(tmp_path / "t.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    assert set(data) == {"model", "system", "messages", "exchanges", "settings", "choice"}
    assert data["choice"]["source"] == "argument" and "secret" not in path.read_text()  # keys stay out
    again = Chat.load(path)
    assert again.messages == chat.messages and again.exchanges == 1
    assert (again.model, again.temperature, again.seed, again.max_tokens) == ("some/model.gguf", 0.2, 7, 64)
    other = Chat.load(path, system="Be terse.", temperature=0.0)
    assert other.messages[0] == {"role": "system", "content": "Be terse."} and other.messages[1:] == chat.messages[1:]


def test_default_reply_length_is_long_enough_to_answer():
    assert Chat("m.gguf").max_tokens >= 256


# --- a conversation over a fake backend: only the logic matters here ---


class Scripted(Backend):
    """Replies from a script, each a list of pieces and how it ended; records what it was sent."""

    kind = "scripted"

    def __init__(self, replies):
        self.replies, self.sent, self.finish_reason = list(replies), [], None

    @property
    def label(self):
        return "scripted"

    def count(self, text):
        return len(text.split())

    def stream(self, messages, sampling):
        self.sent.append((messages, dict(sampling)))
        pieces, reason = self.replies.pop(0)

        def gen():
            yield from pieces
            self.finish_reason = reason
        return gen()


def test_a_reply_cut_by_the_limit_says_so():
    chat = Chat(backend=Scripted([(["Paris is the capital of France. It is known for the Eiff"], "length"),
                                   (["Yes."], "stop")]), max_tokens=12)
    reply = chat.send("Tell me about Paris.")
    assert reply == "Paris is the capital of France. …" and chat.truncated
    assert chat.messages[-1]["content"] == reply
    assert chat.send("Is it big?") == "Yes." and not chat.truncated


def test_context_goes_to_the_model_but_not_into_the_history():
    backend = Scripted([(["It is 4.5."], "stop")])
    chat = Chat(backend=backend, system="Tutor.")
    chat.send("How many bits per weight?", context="[§3 Bits] Q4_0 stores 4.5 bits per weight.\nQuestion:")
    sent = backend.sent[0][0]
    assert sent[-1]["content"].startswith("[§3 Bits]") and sent[-1]["content"].endswith("How many bits per weight?")
    assert chat.messages[1] == {"role": "user", "content": "How many bits per weight?"}


def test_extra_keys_stay_in_history_and_never_reach_the_backend():
    backend = Scripted([(["a"], "stop"), (["b"], "stop")])
    chat = Chat(backend=backend)
    chat.send("one")
    chat.messages[-1]["passages"] = [{"section": "1"}]
    chat.send("two")
    assert all(set(m) == {"role", "content"} for m in backend.sent[1][0])
    assert chat.messages[1]["passages"] == [{"section": "1"}]


def test_switching_model_keeps_the_conversation(monkeypatch):
    chat = Chat(backend=Scripted([(["first"], "stop")]), system="S")
    chat.send("hello")
    before = list(chat.messages)
    chat.switch_model("other.gguf")
    assert chat.messages == before and chat.model == "other.gguf" and chat.choice.source == "picker"
    assert isinstance(chat.backend, LocalBackend) and chat.backend.model == "other.gguf"


# --- the GPU decision, with a faked machine and a faked llama.cpp loader ---


@pytest.mark.parametrize("probe, needs, expected", [
    (GpuProbe(False, None), 2 * 2**30, 0),  # a CPU-only build of llama-cpp-python
    (GpuProbe(True, 24 * 2**30), 5 * 2**30, -1),  # fits: every layer
    (GpuProbe(True, 4 * 2**30), 7 * 2**30, 16),  # 3.5 GiB of room, 7/32 GiB a layer: 16 layers
    (GpuProbe(True, 256 * 2**20), 5 * 2**30, 0),  # less than the reserve
    (GpuProbe(True, None), 1 * 2**30, 0),  # cannot measure: do not guess
    (GpuProbe(True, None, unified=True), 5 * 2**30, -1),  # Apple silicon shares main memory
])
def test_gpu_offload_decision(probe, needs, expected):
    assert gpu_layers(needs, 32, probe) == expected


@pytest.mark.model
def test_gpu_layers_reach_llama_cpp(smollm2_gguf):
    seen = {}

    class FakeLlama:
        def __init__(self, **kwargs):
            seen.update(kwargs)

        def close(self):
            pass

    for probe, want in [(GpuProbe(True, 80 * 2**30), -1), (GpuProbe(False, None), 0)]:
        backend = LocalBackend(str(smollm2_gguf), gpu_probe=lambda probe=probe: probe, loader=FakeLlama)
        backend.load()
        assert seen["n_gpu_layers"] == want and backend.gpu_offload == want


@pytest.mark.model
def test_check_memory_false_with_a_context_that_cannot_fit(smollm2_gguf, monkeypatch):
    monkeypatch.setattr("ossllm_helpers.memory.available_memory", lambda: 50 * 2**20)

    def no_room(**kwargs):
        raise ValueError("Failed to create llama_context")

    backend = LocalBackend(str(smollm2_gguf), check_memory=False, loader=no_room, gpu_probe=lambda: GpuProbe(False, None))
    with pytest.raises(ModelTooLargeError) as err:
        backend.load()
    text = str(err.value)
    assert "does not fit" in text and "n_ctx" in text and "llama-cpp-python" not in text


@pytest.mark.model
def test_refuses_a_model_too_large_before_loading(smollm2_gguf, monkeypatch):
    def must_not_load(**kwargs):
        raise AssertionError("the model was loaded")

    monkeypatch.setattr("ossllm_helpers.memory.available_memory", lambda: 50 * 2**20)
    chat = Chat(str(smollm2_gguf))
    chat.backend._loader = must_not_load
    with pytest.raises(ModelTooLargeError) as err:
        chat.send("hello")
    text = str(err.value)
    assert "does NOT fit" in text and "available now 0.05 GiB" in text and "quant=" in text
    assert not chat.loaded and chat.messages == [] and chat.exchanges == 0


def test_missing_model_file_is_a_clear_error(tmp_path):
    with pytest.raises(NotGGUFError, match="no such file"):
        Chat(str(tmp_path / "absent.gguf")).send("hi")


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
def test_deterministic_and_streaming_equals_whole(fresh):
    fresh.system = "You are a concise tutor."
    question = "What is the capital of France?"
    first = fresh.send(question)
    assert "Paris" in first and not fresh.is_base
    fresh.reset()
    assert fresh.send(question) == first
    fresh.reset()
    pieces = list(fresh.send(question, stream=True))
    assert len(pieces) > 3 and "".join(pieces).strip() == first


@pytest.mark.model
def test_multi_turn_memory(fresh):
    question = "What is my dog called?"
    without_history = fresh.send(question)
    fresh.reset()
    fresh.send("I have a dog called Rex.")
    with_history = fresh.send(question)
    assert "Rex" in with_history and "Rex" not in without_history
    assert [m["role"] for m in fresh.messages] == ["system", "user", "assistant", "user", "assistant"]


@pytest.mark.model
def test_history_grows_only_when_a_reply_completes(fresh):
    before = list(fresh.messages)
    stream = fresh.send("Count from one to five.", stream=True)
    first = next(stream)
    assert first and fresh.messages == before and fresh.exchanges == 0
    rest = "".join(stream)
    assert fresh.exchanges == 1 and fresh.messages[-1]["content"].startswith((first + rest).strip()[:10])
    half = fresh.send("Tell me about cats.", stream=True)
    next(half)
    half.close()
    overtaken = fresh.send("Tell me about dogs.", stream=True)
    next(overtaken)
    fresh.send("Tell me about birds.")
    assert [m["content"] for m in fresh.messages if m["role"] == "user"] == ["Count from one to five.",
                                                                             "Tell me about birds."]
    assert list(overtaken) == []


@pytest.mark.model
def test_a_real_reply_cut_by_max_tokens_ends_cleanly(fresh):
    fresh.max_tokens = 12
    reply = fresh.send("Describe the city of Paris in detail.")
    assert fresh.truncated and reply.endswith(" …")
    assert fresh.backend.finish_reason == "length"


@pytest.mark.model
def test_trimming_keeps_the_system_prompt(smollm2_gguf):
    system = "You are Captain Byte, a pirate who teaches computing. Always stay in character."
    chat = Chat(str(smollm2_gguf), system=system, temperature=0, seed=0, n_ctx=160, max_tokens=16, n_threads=1)
    try:
        for i in range(5):
            assert chat.send(f"Question {i}: in a few words, what is a CPU register for?")
        assert chat.exchanges == 5 and chat.dropped_exchanges > 0
        assert chat.messages[0] == {"role": "system", "content": system}
        with pytest.raises(PromptTooLongError):
            chat.send("word " * 200)
        assert chat.exchanges == 5
    finally:
        chat.close()


@pytest.mark.model
def test_a_context_filled_to_the_last_token_is_a_typed_error(smollm2_gguf, monkeypatch):
    # Make trimming believe everything is one token, so the real prompt overflows llama.cpp's context.
    monkeypatch.setattr(LocalBackend, "count", lambda self, text: 1)
    chat = Chat(str(smollm2_gguf), temperature=0, seed=0, n_ctx=128, max_tokens=16, n_threads=1)
    try:
        with pytest.raises(ContextFullError) as err:
            chat.send("Please repeat these words: " + "alpha beta gamma delta " * 60)
        assert err.value.n_ctx == 128 and "reset()" in str(err.value) and "n_ctx" in str(err.value)
        assert chat.messages == [] and chat.exchanges == 0
    finally:
        chat.close()


@pytest.mark.model
def test_save_load_and_continue(fresh, tmp_path):
    fresh.send("My favourite number is 42.")
    restored = Chat.load(fresh.save(tmp_path / "chat.json"))
    try:
        assert restored.messages == fresh.messages and restored.exchanges == 1
        assert restored.send("What is my favourite number?") == fresh.send("What is my favourite number?")
    finally:
        restored.close()


@pytest.mark.model
def test_catalog_key_resolves_through_the_hub_cache():
    from ossllm_helpers.pack import install_pack

    install_pack(keys=["smollm2-135m-instruct"])  # into this test's own Hub cache
    chat = Chat("smollm2-135m-instruct")
    assert chat.info.architecture == "llama" and chat.info.file_type == "Q4_1" and not chat.loaded


@pytest.mark.model
def test_base_model_continues_a_transcript(gemma_gguf, capfd):
    chat = Chat(str(gemma_gguf), system="A conversation about geography.", **SETTINGS)
    try:
        assert chat.is_base and not chat.info.has_chat_template
        capfd.readouterr()
        streamed = "".join(chat.send("What is the capital of France?", stream=True))
        assert capfd.readouterr() == ("", "")  # loading and generating print nothing
        reply = chat.messages[-1]["content"]
        assert reply and "User:" not in reply and streamed.strip().startswith(reply.rstrip(" …")[:20])
    finally:
        chat.close()
