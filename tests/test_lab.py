"""Lab: transcripts and the completion check, the widget over a fake backend, one real model run."""

import json
from pathlib import Path

import pytest

from ossllm_helpers.chat import Backend
from ossllm_helpers.errors import ModelTooLargeError, OfflineNotCachedError, QuizFormatError
from ossllm_helpers.lab import LabChat, LessonIndex, Passage, count_exchanges, lab_complete, lab_status, load_lab

LAB = {
    "lesson": "lesson01",
    "title": "Lab 1: ask about open models",
    "assistant_name": "Ada",
    "opening": "Hello! Ask me about open-weight models.",
    "system_prompt": "You are Ada, a patient tutor. GGUF is the file format llama.cpp loads.",
    "starters": ["What is GGUF?", "What does Q4_K_M mean?", "Name an Apache-2.0 model."],
    "minimum_exchanges": 3,
}
INDEX = LessonIndex([
    Passage("1", "Files", "GGUF is the single-file format of llama.cpp: weights, tokenizer and metadata."),
    Passage("2", "Quantisation", "Q4_K_M stores about 4.8 bits per weight in blocks of 256 with scales."),
    Passage("3", "Licences", "Apache 2.0 allows commercial use; keep the licence and the NOTICE file."),
])


class Fake(Backend):
    """Stands in for a model where only the widget's logic matters: replies in pieces, records prompts."""

    kind = "fake"

    def __init__(self, choice, *, error=None, replies=None):
        self.choice, self.error, self.replies, self.prompts = choice, error, replies, []
        self.finish_reason = None

    @property
    def label(self):
        return f"fake:{self.choice.model}"

    @property
    def loaded(self):
        return True

    @property
    def sent(self):
        return [p[-1]["content"].rsplit("Question:", 1)[-1].strip() for p in self.prompts]

    def stream(self, messages, sampling):
        if self.error:
            raise self.error
        self.prompts.append(messages)
        n = len(self.prompts)
        text = self.replies.pop(0) if self.replies else f"Reply {n} about {self.sent[-1]}"
        self.finish_reason = "stop"
        return iter([text[:5], text[5:]])


class Factory:
    def __init__(self, **kwargs):
        self.kwargs, self.made = kwargs, []

    def __call__(self, choice):
        self.made.append(Fake(choice, **self.kwargs))
        return self.made[-1]

    @property
    def chat(self):
        return self.made[-1]


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
    return LabChat.from_file(lab_file, model="m", transcript=tmp_path / "lab_transcript.json",
                             backend_factory=factory, index=INDEX)


def transcript(path, lesson="lesson01", pairs=3, **extra):
    messages = [{"role": "system", "content": "sys"}]
    for i in range(pairs):
        messages += [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}]
    path.write_text(json.dumps({"lesson": lesson, "model": "m", "messages": messages, **extra}), encoding="utf-8")
    return path


def send_from_browser(lab, text):
    """What the front end sends on Enter or Send: the text exactly as typed, with the event."""
    lab.panel._message(lab.panel, {"event": "send", "text": text}, [])


# ---------------------------------------------------------------- lab_complete (pure logic)


def test_lab_complete_accepts_enough_exchanges(tmp_path):
    path = transcript(tmp_path / "t.json", pairs=3)
    assert lab_complete(path, lesson="lesson01", minimum=3) is True
    assert lab_status(path, lesson="lesson01").startswith("Lab complete: 3 exchanges")


@pytest.mark.parametrize("text", ["{not json", "", "[1, 2]", '{"lesson": "lesson01"}', '{"messages": "hi"}', "\udcff"])
def test_lab_complete_malformed_file_is_false_not_an_error(tmp_path, text):
    path = tmp_path / "lab_transcript.json"
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    assert lab_complete(path, lesson="lesson01") is False
    assert lab_status(path, lesson="lesson01").startswith("Lab not complete")


def test_lab_complete_wrong_lesson_and_too_short(tmp_path):
    assert "'lesson02', not 'lesson01'" in lab_status(transcript(tmp_path / "a.json", lesson="lesson02"), lesson="lesson01")
    path = transcript(tmp_path / "t.json", pairs=2)
    assert not lab_complete(path, lesson="lesson01", minimum=3) and "2 of 3 exchanges" in lab_status(path, minimum=3)
    assert "no lab_transcript.json" in lab_status(tmp_path / "lab_transcript.json")


def test_empty_or_unanswered_messages_do_not_count():
    msgs = [{"role": "system", "content": "s"}, {"role": "user", "content": "hi"}, {"role": "assistant", "content": " "},
            {"role": "user", "content": ""}, {"role": "assistant", "content": "x"}, {"role": "user", "content": "one"},
            {"role": "user", "content": "two"}, {"role": "assistant", "content": "answer"}, "junk", {"role": "user"}]
    assert count_exchanges(msgs) == 1 and count_exchanges("nope") == 0


def test_ignores_the_completed_flag(tmp_path):
    assert lab_complete(transcript(tmp_path / "t.json", pairs=1, completed=True, exchanges=9), lesson="lesson01") is False


# ---------------------------------------------------------------- lab.json


def test_load_lab_errors_name_the_file(tmp_path):
    path = tmp_path / "lab.json"
    path.write_text(json.dumps({k: v for k, v in LAB.items() if k != "starters"}))
    with pytest.raises(QuizFormatError, match=r"lab\.json: top level: 'starters' is a required property"):
        load_lab(path)
    path.write_text(json.dumps({**LAB, "starters": ["ok", ""]}))
    with pytest.raises(QuizFormatError, match=r"starters\[1\]"):
        load_lab(path)
    path.write_text(json.dumps({**LAB, "max_tokens": 16}))
    with pytest.raises(QuizFormatError, match="max_tokens"):
        load_lab(path)  # too short to answer: the schema asks for 128 or more


# ---------------------------------------------------------------- LabChat over a fake backend


def test_settings_reach_the_chat_and_the_reply_length_is_enough(lab, factory):
    assert factory.made and lab.chat.max_tokens >= 256 and lab.chat.n_ctx >= 4096
    assert lab.ask("What is GGUF?") == "Reply 1 about What is GGUF?"
    assert lab.choice.model == "m" and lab.choice.source == "argument"


def test_passages_go_into_the_prompt_and_the_transcript(lab, factory, tmp_path):
    lab.widget
    lab.ask("How many bits per weight does Q4_K_M store?")
    prompt = factory.chat.prompts[-1][-1]["content"]
    assert "[§2 Quantisation] Q4_K_M stores about 4.8 bits" in prompt
    assert prompt.endswith("How many bits per weight does Q4_K_M store?")
    data = json.loads((tmp_path / "lab_transcript.json").read_text())
    user, reply = data["messages"][-2:]
    assert user == {"role": "user", "content": "How many bits per weight does Q4_K_M store?"}  # the student's words only
    assert reply["passages"][0]["section"] == "2" and reply["model"] == "fake:m"
    assert data["model_choice"]["source"] == "argument"
    assert "§2 Quantisation" in lab.panel.log_html and "ossllm-lab-passages" in lab.panel.log_html


def test_history_lives_in_the_chat_and_reaches_the_model_after_a_restart(lab_file, tmp_path, factory):
    path = transcript(tmp_path / "lab_transcript.json", pairs=2)
    lab = LabChat.from_file(lab_file, model="m", transcript=path, backend_factory=factory, index=INDEX)
    assert lab.messages is lab.chat.messages and lab.exchanges == 2
    lab.ask("third")
    sent = factory.chat.prompts[-1]
    assert [m["content"] for m in sent[1:5]] == ["q0", "a0", "q1", "a1"]  # the model sees what the widget shows
    assert sent[0] == {"role": "system", "content": LAB["system_prompt"]}
    assert lab_complete(path, lesson="lesson01")


def test_enter_sends_exactly_what_was_typed(lab, factory):
    lab.widget
    typed = "What does Q4_K_M mean, exactly?!"
    send_from_browser(lab, typed)
    assert factory.chat.sent == [typed] and lab.messages[-2]["content"] == typed
    send_from_browser(lab, "   ")  # nothing typed: nothing sent
    assert len(factory.chat.sent) == 1 and "Type a question first" in lab.panel.status_html


def test_counter_stops_at_the_minimum(lab):
    lab.widget
    assert lab.counter.value == "Exchanges: 0 of 3" and lab.badge.layout.display == "none"
    for i in range(2):
        lab.ask(f"q{i}")
    assert lab.counter.value == "Exchanges: 2 of 3"
    for i in range(4):
        lab.ask(f"more {i}")
    assert lab.counter.value == "Exchanges: 3 of 3 done" and lab.badge.layout.display == ""


def test_widget_parts_have_stable_css_classes(lab):
    w = lab.widget
    assert "ossllm-lab-widget" in w._dom_classes
    assert "ossllm-lab-counter" in lab.counter._dom_classes and "ossllm-lab-picker" in lab.picker._dom_classes
    assert all("ossllm-lab-starter" in b._dom_classes for b in lab.starter_buttons)
    for cls in ("ossllm-lab-log", "ossllm-lab-input", "ossllm-lab-send", "ossllm-lab-status"):
        assert f'"{cls}"' in lab.panel._esm
    assert "scrollTop = log.scrollHeight" in lab.panel._esm  # the log follows the newest message


def test_starters_and_streaming(lab, factory):
    seen = []
    lab.widget
    lab.panel.observe(lambda change: seen.append(change["new"]), names="pending_html")
    lab.starter_buttons[1].click()
    assert factory.chat.sent == ["What does Q4_K_M mean?"]
    assert any("Reply" in s and "about" not in s for s in seen)  # the first piece showed before the whole reply
    assert "Reply 1 about What does Q4_K_M mean?" in lab.panel.log_html and lab.panel.pending_html == ""


def test_a_cut_reply_says_so(lab_file, tmp_path):
    class Cut(Fake):
        def stream(self, messages, sampling):
            self.prompts.append(messages)
            self.finish_reason = "length"
            return iter(["GGUF is a file format. It holds the weights and the tok"])

    lab = LabChat.from_file(lab_file, model="m", transcript=tmp_path / "t.json", backend_factory=Cut, index=INDEX)
    lab.widget
    assert lab.ask("What is GGUF?") == "GGUF is a file format. It holds the weights and the …"
    assert "token reply limit" in lab.panel.log_html
    assert json.loads((tmp_path / "t.json").read_text())["messages"][-1]["cut"] is True


@pytest.mark.parametrize("error", [
    ModelTooLargeError("needs about 9.1 GB but 3.2 GB are free; pick a smaller quant such as Q4_K_M."),
    OfflineNotCachedError("model not in the cache and no network; run oh.install_pack() first."),
    FileNotFoundError("no such file: x.gguf"),
])
def test_model_errors_are_shown_not_raised_and_the_text_comes_back(lab_file, tmp_path, error):
    lab = LabChat.from_file(lab_file, model="m", transcript=tmp_path / "t.json", backend_factory=Factory(error=error),
                            index=INDEX)
    lab.widget
    restored = []
    lab.panel.restore = restored.append
    send_from_browser(lab, "What is GGUF?")  # must not raise
    assert str(error) in lab.panel.status_html and "Traceback" not in lab.panel.status_html
    assert restored == ["What is GGUF?"]  # what the student typed is not lost
    assert lab.exchanges == 0 and not (tmp_path / "t.json").exists()
    assert lab.panel.log_html.count("ossllm-lab-msg") == 1 and not lab.panel.disabled


def test_empty_reply_is_not_an_exchange(lab_file, tmp_path):
    lab = LabChat.from_file(lab_file, model="m", transcript=tmp_path / "t.json",
                            backend_factory=Factory(replies=["  "]), index=INDEX)
    assert lab.ask("hi") == "" and lab.exchanges == 0 and lab.chat.exchanges == 0


def test_a_second_corrupt_transcript_does_not_overwrite_the_first_one_kept(lab_file, tmp_path, factory):
    path = tmp_path / "lab_transcript.json"
    for i, junk in enumerate(["{first broken", "{second broken"]):
        path.write_text(junk)
        lab = LabChat.from_file(lab_file, model="m", transcript=path, backend_factory=factory, index=INDEX)
        assert lab.exchanges == 0
        lab.ask("hi")
    assert (tmp_path / "lab_transcript.old.json").read_text() == "{first broken"
    assert (tmp_path / "lab_transcript.old-2.json").read_text() == "{second broken"
    assert json.loads(path.read_text())["exchanges"] == 1


def test_the_picker_switches_model_and_keeps_the_conversation(lab, factory):
    lab.widget
    lab.ask("first question")
    others = [value for _, value in lab.picker.options if value != "m"]
    target = others[0] if others else "other-model"
    if not others:
        lab.picker.options = list(lab.picker.options) + [("other", target)]
    lab.picker.value = target
    assert lab.choice.model == target and lab.choice.source == "picker" and lab.model_label == f"fake:{target}"
    lab.ask("second question")
    assert [m["content"] for m in factory.chat.prompts[-1] if m["role"] == "user"][0] == "first question"
    assert "Now talking to" in lab.panel.log_html


def test_grading_loads_nothing_and_reads_the_transcript(lab_file, tmp_path, factory, monkeypatch):
    path = transcript(tmp_path / "lab_transcript.json", pairs=3)
    before = path.read_text()
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    monkeypatch.setenv("OSSLLM_LAB_AUTOPLAY", "1")
    lab = LabChat.from_file(lab_file, transcript=path, backend_factory=factory, index=INDEX)
    lab._ipython_display_()
    assert "Grading run" in lab.panel.status_html and "Lab complete: 3 exchanges" in lab.panel.status_html
    assert lab.panel.disabled and all(b.disabled for b in lab.starter_buttons)
    assert lab.ask("hello") == "" and lab.autoplay(force=True) == []
    assert factory.made == [] and path.read_text() == before and lab.counter.value == "Exchanges: 3 of 3 done"


def test_autoplay_on_display_when_asked(lab_file, tmp_path, factory, monkeypatch):
    monkeypatch.setenv("OSSLLM_LAB_AUTOPLAY", "1")
    lab = LabChat.from_file(lab_file, model="m", transcript=tmp_path / "lab_transcript.json", backend_factory=factory,
                            index=INDEX)
    lab._ipython_display_()
    assert factory.chat.sent == LAB["starters"] and lab.badge.layout.display == ""
    lab._ipython_display_()  # showing it again does not replay
    assert len(factory.chat.sent) == 3


def test_import_is_light():
    import subprocess
    import sys

    code = ("import sys, ossllm_helpers as oh; oh.lab_complete; oh.LabChat; oh.Chat; "
            "print(*[m in sys.modules for m in ('ipywidgets', 'llama_cpp', 'anywidget', 'openai', 'bm25s')])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False"] * 5


# ---------------------------------------------------------------- the real model


@pytest.mark.model
def test_real_model_autoplay_writes_a_complete_transcript(lab_file, tmp_path, smollm2_gguf, monkeypatch):
    monkeypatch.setenv("OSSLLM_LAB_AUTOPLAY", "1")
    path = tmp_path / "lab_transcript.json"
    lab = LabChat.from_file(lab_file, model=smollm2_gguf, transcript=path, temperature=0.0, seed=42, index=INDEX)
    lab.chat.n_threads = lab.chat.backend.n_threads = 1
    lab.widget
    replies = lab.autoplay()
    assert lab.last_error is None and len(replies) == 3 and all(r.strip() for r in replies)
    assert lab.counter.value == "Exchanges: 3 of 3 done"
    data = json.loads(path.read_text())
    assert data["model"] == smollm2_gguf.name and data["completed"] is True
    assert [m["content"] for m in data["messages"] if m["role"] == "user"] == LAB["starters"]
    assert all(m.get("passages") for m in data["messages"] if m["role"] == "assistant")


# ---------------------------------------------------------------- the course's own labs

LESSON_LABS = sorted((Path(__file__).resolve().parents[1] / "source").glob("*/lab.json"))


@pytest.mark.parametrize("path", LESSON_LABS, ids=lambda p: p.parent.name)
def test_lesson_lab_is_valid_and_chooses_its_model(path):
    data = load_lab(path)
    assert data["lesson"] == path.parent.name and data["starters"]
    # No lab pins the tiny model: each uses the strongest tutor the machine can run.
    assert "model" not in data
