"""Lab chat: transcripts and the completion check, the widget over a fake chat, one real model run."""

import json
from html import unescape as html_unescape
from pathlib import Path

import pytest

from ossllm_helpers.errors import ModelTooLargeError, OfflineNotCachedError, QuizFormatError
from ossllm_helpers.lab import LabChat, count_exchanges, lab_complete, lab_status, load_lab

LAB = {
    "lesson": "lesson01",
    "title": "Lab: ask about open models",
    "assistant_name": "Ada",
    "opening": "Hello! Ask me about open-weight models.",
    "system_prompt": "You are Ada, a patient tutor. GGUF is the file format llama.cpp loads.",
    "starters": ["What is GGUF?", "What does Q4_K_M mean?", "Name an Apache-2.0 model."],
    "minimum_exchanges": 3,
}


class FakeChat:
    """Stands in for Chat where only the widget's logic matters: replies in chunks."""

    def __init__(self, model, **kwargs):
        self.model, self.kwargs, self.sent = model, kwargs, []

    def send(self, text, *, stream=False):
        self.sent.append(text)
        reply = f"Reply {len(self.sent)} about {text}"
        words = reply.split(" ")
        return iter([words[0]] + [" " + w for w in words[1:]]) if stream else reply


class Factory:
    def __init__(self, chat_class=FakeChat, error=None):
        self.calls, self.chat_class, self.error, self.chat = [], chat_class, error, None

    def __call__(self, model, **kwargs):
        self.calls.append((model, kwargs))
        if self.error:
            raise self.error
        self.chat = self.chat_class(model, **kwargs)
        return self.chat


@pytest.fixture
def lab_file(tmp_path):
    path = tmp_path / "lab.json"
    path.write_text(json.dumps(LAB), encoding="utf-8")
    return path


@pytest.fixture
def factory():
    return Factory()


@pytest.fixture
def lab(lab_file, tmp_path, factory):
    return LabChat.from_file(lab_file, transcript=tmp_path / "lab_transcript.json", chat_factory=factory)


def transcript(path, lesson="lesson01", pairs=3, **extra):
    messages = [{"role": "system", "content": "sys"}]
    for i in range(pairs):
        messages += [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}]
    data = {"lesson": lesson, "model": "m", "messages": messages, **extra}
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


# ---------------------------------------------------------------- lab_complete (pure logic)


def test_lab_complete_accepts_enough_exchanges(tmp_path):
    path = transcript(tmp_path / "t.json", pairs=3)
    assert lab_complete(path, lesson="lesson01", minimum=3) is True
    assert lab_complete(path) is True  # any lesson
    assert lab_status(path, lesson="lesson01").startswith("Lab complete: 3 exchanges")


def test_lab_complete_missing_file(tmp_path):
    path = tmp_path / "lab_transcript.json"
    assert lab_complete(path, lesson="lesson01") is False
    assert "no lab_transcript.json" in lab_status(path, lesson="lesson01")


@pytest.mark.parametrize("text", ["{not json", "", "[1, 2]", '{"lesson": "lesson01"}', '{"messages": "hi"}', "\udcff"])
def test_lab_complete_malformed_file_is_false_not_an_error(tmp_path, text):
    path = tmp_path / "lab_transcript.json"
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    assert lab_complete(path, lesson="lesson01") is False
    assert lab_status(path, lesson="lesson01").startswith("Lab not complete")


def test_lab_complete_wrong_lesson(tmp_path):
    path = transcript(tmp_path / "t.json", lesson="lesson02", pairs=5)
    assert lab_complete(path, lesson="lesson01") is False
    assert "'lesson02', not 'lesson01'" in lab_status(path, lesson="lesson01")


def test_lab_complete_too_short(tmp_path):
    path = transcript(tmp_path / "t.json", pairs=2)
    assert lab_complete(path, lesson="lesson01", minimum=3) is False
    assert "2 of 3 exchanges" in lab_status(path, lesson="lesson01", minimum=3)
    assert lab_complete(path, lesson="lesson01", minimum=2) is True


def test_empty_or_unanswered_messages_do_not_count():
    msgs = [
        {"role": "system", "content": "s"},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "   "},
        {"role": "user", "content": ""},
        {"role": "assistant", "content": "x"},
        {"role": "user", "content": "one"},
        {"role": "user", "content": "two"},
        {"role": "assistant", "content": "answer"},
        "junk",
        {"role": "user"},
    ]
    assert count_exchanges(msgs) == 1
    assert count_exchanges("nope") == 0


def test_ignores_the_completed_flag(tmp_path):
    path = transcript(tmp_path / "t.json", pairs=1, completed=True, exchanges=9)
    assert lab_complete(path, lesson="lesson01") is False


# ---------------------------------------------------------------- lab.json


def test_load_lab_errors_name_the_file(tmp_path):
    bad = dict(LAB)
    del bad["starters"]
    path = tmp_path / "lab.json"
    path.write_text(json.dumps(bad))
    with pytest.raises(QuizFormatError, match=r"lab\.json: top level: 'starters' is a required property"):
        load_lab(path)
    path.write_text(json.dumps({**LAB, "minimum_exchange": 2}))
    with pytest.raises(QuizFormatError, match="minimum_exchange"):
        load_lab(path)
    path.write_text(json.dumps({**LAB, "starters": ["ok", ""]}))
    with pytest.raises(QuizFormatError, match=r"starters\[1\]"):
        load_lab(path)
    path.write_text("{")
    with pytest.raises(QuizFormatError, match="not valid JSON"):
        load_lab(path)
    with pytest.raises(QuizFormatError, match="no such lab file"):
        load_lab(tmp_path / "missing.json")


def test_load_lab_accepts_optional_fields(tmp_path):
    path = tmp_path / "lab.json"
    path.write_text(json.dumps({**LAB, "model": "gemma-3-270m", "max_tokens": 64}))
    assert load_lab(path)["max_tokens"] == 64


# ---------------------------------------------------------------- LabChat over a fake chat


def test_model_loads_lazily_with_lab_settings(lab, factory):
    assert factory.calls == []
    reply = lab.ask("What is GGUF?")
    assert reply == "Reply 1 about What is GGUF?"
    lab.ask("And safetensors?")
    assert len(factory.calls) == 1
    model, kwargs = factory.calls[0]
    assert model == "smollm2-135m-instruct"
    assert kwargs == {"system": LAB["system_prompt"], "n_ctx": 2048, "temperature": 0.7, "max_tokens": 200}


def test_model_and_max_tokens_from_lab_json_and_arguments(tmp_path, factory):
    path = tmp_path / "lab.json"
    path.write_text(json.dumps({**LAB, "model": "gemma-3-270m", "max_tokens": 64}))
    LabChat.from_file(path, transcript=tmp_path / "t.json", chat_factory=factory).ask("hi")
    assert factory.calls[-1][0] == "gemma-3-270m" and factory.calls[-1][1]["max_tokens"] == 64
    LabChat.from_file(path, model=tmp_path / "x.gguf", transcript=tmp_path / "t.json", chat_factory=factory, seed=3).ask(
        "hi"
    )
    assert factory.calls[-1][0] == str(tmp_path / "x.gguf") and factory.calls[-1][1]["seed"] == 3


def test_exchanges_transcript_and_completion(lab, tmp_path):
    path = tmp_path / "lab_transcript.json"
    assert not path.exists()
    lab.ask("one")
    data = json.loads(path.read_text())
    assert data["lesson"] == "lesson01" and data["model"] == "smollm2-135m-instruct"
    assert data["exchanges"] == 1 and data["completed"] is False
    assert data["messages"][0] == {"role": "system", "content": LAB["system_prompt"]}
    assert data["messages"][1:] == [
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": "Reply 1 about one"},
    ]
    assert not lab_complete(path, lesson="lesson01")
    lab.ask("two")
    lab.ask("three")
    data = json.loads(path.read_text())
    assert data["exchanges"] == 3 and data["completed"] is True and lab.completed
    assert lab_complete(path, lesson="lesson01")
    assert not list(tmp_path.glob("*.tmp"))


def test_widget_starters_counter_and_badge(lab, factory, tmp_path):
    import ipywidgets as w

    assert isinstance(lab.widget, w.VBox)
    assert [b.description for b in lab.starter_buttons] == LAB["starters"]
    assert lab.counter.value == "Exchanges: 0 / 3"
    assert lab.badge.layout.display == "none" and "Lab complete" in lab.badge.value
    assert "Ada" in lab.widget.children[0].value and LAB["opening"] in lab.conversation.children[0].value
    lab.starter_buttons[1].click()
    assert factory.chat.sent == ["What does Q4_K_M mean?"]
    assert lab.counter.value == "Exchanges: 1 / 3"
    assert "Reply 1 about What does Q4_K_M mean?" in lab.conversation.children[-1].value
    assert "What does Q4_K_M mean?" in lab.conversation.children[-2].value
    lab.text_box.value = "My own question"
    lab.send_button.click()
    assert factory.chat.sent[-1] == "My own question" and lab.text_box.value == ""
    assert lab.counter.value == "Exchanges: 2 / 3" and lab.badge.layout.display == "none"
    lab.text_box.value = "Sent with Enter"
    lab.text_box._handle_string_msg(None, {"event": "submit"}, [])  # what the front end sends on Enter
    assert factory.chat.sent[-1] == "Sent with Enter"
    assert lab.counter.value == "Exchanges: 3 / 3"
    assert lab.badge.layout.display == ""
    assert lab_complete(tmp_path / "lab_transcript.json", lesson="lesson01")


def test_reply_is_streamed_into_the_conversation(lab_file, tmp_path):
    seen = []

    class Streaming(FakeChat):
        def send(self, text, *, stream=False):
            assert stream is True
            for part in ["Stream", "ed ", "reply"]:
                yield part
                seen.append(lab.conversation.children[-1].value)

    lab = LabChat.from_file(lab_file, transcript=tmp_path / "t.json", chat_factory=Factory(Streaming))
    lab.widget
    assert lab.ask("go") == "Streamed reply"
    assert "Stream" in seen[0] and "Streamed" not in seen[0]
    assert "Streamed " in seen[1] and "Streamed reply" in seen[2]


def test_empty_send_does_nothing(lab, factory):
    lab.widget
    lab.text_box.value = "   "
    lab.send_button.click()
    assert factory.calls == [] and "Type a question first" in lab.status.value


@pytest.mark.parametrize(
    "error",
    [
        ModelTooLargeError("needs about 9.1 GB but 3.2 GB are free; pick a smaller quant such as Q4_K_M."),
        OfflineNotCachedError("model not in the cache and no network; run oh.install_pack() first."),
        FileNotFoundError("no such file: x.gguf"),
    ],
)
def test_model_errors_are_shown_not_raised(lab_file, tmp_path, error):
    factory = Factory(error=error)
    lab = LabChat.from_file(lab_file, transcript=tmp_path / "t.json", chat_factory=factory)
    lab.widget
    lab.text_box.value = "What is GGUF?"
    lab.send_button.click()  # must not raise
    assert str(error) in lab.status.value and "Traceback" not in lab.status.value
    assert lab.last_error and str(error) in lab.last_error
    assert lab.text_box.value == "What is GGUF?"  # what the student typed is kept
    assert lab.exchanges == 0 and not (tmp_path / "t.json").exists()
    assert len(lab.conversation.children) == 1  # only the opening line
    assert not lab.send_button.disabled
    assert lab.ask("again") == ""
    assert len(factory.calls) == 2  # a later send tries again


@pytest.mark.parametrize(
    "model, expected",
    [("missing.gguf", "NotGGUFError"), ("no-such-model", "UnknownModelError")],
)
def test_real_chat_errors_are_readable(lab_file, tmp_path, model, expected):
    import ossllm_helpers.errors as errors

    if model.endswith(".gguf"):
        model = tmp_path / model
    lab = LabChat.from_file(lab_file, model=model, transcript=tmp_path / "t.json")  # the real Chat
    lab.widget
    assert lab.ask("What is GGUF?") == ""
    kind = getattr(errors, expected)
    assert lab.last_error and "Traceback" not in lab.status.value
    # the message shown is the typed error's own, which says what to do next
    with pytest.raises(kind) as raised:
        from ossllm_helpers.chat import Chat

        Chat(model).send("x")
    assert str(raised.value) == lab.last_error
    assert html_unescape(lab.status.value).count(str(raised.value)) == 1


def test_error_mid_stream_is_shown(lab_file, tmp_path):
    class Broken(FakeChat):
        def send(self, text, *, stream=False):
            yield "half a"
            raise RuntimeError("llama_decode returned -1")

    lab = LabChat.from_file(lab_file, transcript=tmp_path / "t.json", chat_factory=Factory(Broken))
    lab.widget
    assert lab.ask("hi") == ""
    assert "RuntimeError: llama_decode returned -1" in lab.status.value
    assert lab.exchanges == 0


def test_empty_reply_is_not_an_exchange(lab_file, tmp_path):
    class Silent(FakeChat):
        def send(self, text, *, stream=False):
            return iter(["", "  "])

    lab = LabChat.from_file(lab_file, transcript=tmp_path / "t.json", chat_factory=Factory(Silent))
    lab.widget
    assert lab.ask("hi") == ""
    assert lab.exchanges == 0 and "empty reply" in lab.status.value


def test_earlier_transcript_is_kept_and_counted(lab_file, tmp_path, factory):
    path = transcript(tmp_path / "lab_transcript.json", pairs=2)
    lab = LabChat.from_file(lab_file, transcript=path, chat_factory=factory)
    assert lab.exchanges == 2
    lab.widget
    assert lab.counter.value == "Exchanges: 2 / 3" and "a1" in lab.conversation.children[-1].value
    lab.ask("third")
    assert lab_complete(path, lesson="lesson01")
    assert count_exchanges(json.loads(path.read_text())["messages"]) == 3


def test_unreadable_transcript_is_moved_aside_not_lost(lab_file, tmp_path, factory):
    path = tmp_path / "lab_transcript.json"
    path.write_text("{half written")
    lab = LabChat.from_file(lab_file, transcript=path, chat_factory=factory)
    assert lab.exchanges == 0
    lab.ask("hi")
    assert (tmp_path / "lab_transcript.old.json").read_text() == "{half written"
    assert json.loads(path.read_text())["exchanges"] == 1


# ---------------------------------------------------------------- grading and autoplay


def test_grading_loads_nothing_and_reads_the_transcript(lab_file, tmp_path, factory, monkeypatch):
    path = transcript(tmp_path / "lab_transcript.json", pairs=3)
    before = path.read_text()
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    monkeypatch.setenv("OSSLLM_LAB_AUTOPLAY", "1")
    lab = LabChat.from_file(lab_file, transcript=path, chat_factory=factory)
    lab._ipython_display_()
    assert "Grading run" in lab.status.value and "Lab complete: 3 exchanges" in lab.status.value
    assert lab.send_button.disabled and all(b.disabled for b in lab.starter_buttons)
    lab.starter_buttons[0].click()
    assert lab.ask("hello") == ""
    assert lab.autoplay(force=True) == []
    assert factory.calls == []
    assert path.read_text() == before
    assert lab.counter.value == "Exchanges: 3 / 3"


def test_grading_without_transcript_says_so(lab_file, tmp_path, factory, monkeypatch):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    lab = LabChat.from_file(lab_file, transcript=tmp_path / "lab_transcript.json", chat_factory=factory)
    lab.widget
    assert "no lab_transcript.json" in lab.status.value
    assert factory.calls == [] and not (tmp_path / "lab_transcript.json").exists()


def test_autoplay_on_display_when_asked(lab_file, tmp_path, factory, monkeypatch):
    monkeypatch.setenv("OSSLLM_LAB_AUTOPLAY", "1")
    lab = LabChat.from_file(lab_file, transcript=tmp_path / "lab_transcript.json", chat_factory=factory)
    lab._ipython_display_()
    assert factory.chat.sent == LAB["starters"]
    assert lab.badge.layout.display == ""
    lab._ipython_display_()  # showing it again does not replay
    assert len(factory.chat.sent) == 3
    assert lab_complete(tmp_path / "lab_transcript.json", lesson="lesson01")


def test_no_autoplay_without_the_variable(lab, factory, monkeypatch):
    monkeypatch.delenv("OSSLLM_LAB_AUTOPLAY", raising=False)
    lab._ipython_display_()
    assert lab.autoplay() == [] and factory.calls == []


def test_autoplay_cycles_starters_up_to_the_minimum(tmp_path, factory, monkeypatch):
    path = tmp_path / "lab.json"
    path.write_text(json.dumps({**LAB, "starters": ["A?", "B?"], "minimum_exchanges": 3}))
    lab = LabChat.from_file(path, transcript=tmp_path / "t.json", chat_factory=factory)
    assert len(lab.autoplay(force=True)) == 3
    assert factory.chat.sent == ["A?", "B?", "A?"] and lab.completed


def test_import_is_light():
    import subprocess
    import sys

    code = (
        "import sys, ossllm_helpers as oh; oh.lab_complete; oh.LabChat; "
        "print('ipywidgets' in sys.modules, 'llama_cpp' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


# ---------------------------------------------------------------- the real model


@pytest.mark.model
def test_real_model_autoplay_writes_a_complete_transcript(lab_file, tmp_path, smollm2_gguf, monkeypatch):
    monkeypatch.setenv("OSSLLM_LAB_AUTOPLAY", "1")
    path = tmp_path / "lab_transcript.json"
    lab = LabChat.from_file(lab_file, model=smollm2_gguf, transcript=path, temperature=0.0, seed=42, max_tokens=24)
    lab.widget
    replies = lab.autoplay()
    assert lab.last_error is None
    assert len(replies) == 3 and all(r.strip() for r in replies)
    assert lab.counter.value == "Exchanges: 3 / 3" and lab.badge.layout.display == ""
    data = json.loads(path.read_text())
    assert data["model"] == smollm2_gguf.name and data["completed"] is True
    assert [m["content"] for m in data["messages"] if m["role"] == "user"] == LAB["starters"]
    assert lab_complete(path, lesson="lesson01", minimum=3)
    assert len(lab.conversation.children) == 1 + 2 * 3  # opening line, then each question and reply


# ---------------------------------------------------------------- the course's own labs

LESSON_LABS = sorted((Path(__file__).resolve().parents[1] / "source").glob("*/lab.json"))


@pytest.mark.parametrize("path", LESSON_LABS, ids=lambda p: p.parent.name)
def test_lesson_lab_is_valid(path):
    data = load_lab(path)
    assert data["lesson"] == path.parent.name
    assert len(data["starters"]) >= 1 and data["minimum_exchanges"] >= 1
