"""Model families that reason first: Qwen3's /no_think switch, and reasoning kept out of replies (fake backends).

The reply texts are the formats the makers document: Qwen3 writes its thinking
inside <think>…</think>, and with /no_think an empty "<think>\\n\\n</think>\\n\\n"
(Qwen3 technical report, Figure 3; the chat template's enable_thinking=False
branch writes the same block); gpt-oss writes OpenAI's harmony format, whose
guide (openai/harmony, docs/format.md) gives this exchange for "What is 2 + 2?".
llama.cpp renders harmony's <|channel|>, <|message|> and <|start|> as text but
not the control tokens <|end|> and <|return|>, so both renderings are tested.
"""

import itertools
import json

import pytest

from ossllm_helpers import catalog
from ossllm_helpers.chat import Backend, Chat, ReplyFilter, quirks_for
from ossllm_helpers.chat.quirks import PLAIN, QUIRKS
from ossllm_helpers.lab import LabChat, LessonIndex, Passage

QWEN3_NO_THINK = "<think>\n\n</think>\n\nGGUF is the single-file format llama.cpp loads."
QWEN3_THINKING = ("<think>\nThe user asks what GGUF is. It is llama.cpp's file format.\n</think>\n\n"
                  "GGUF is the single-file format llama.cpp loads.")
HARMONY_DOCS = ('<|channel|>analysis<|message|>User asks: "What is 2 + 2?" Simple arithmetic. Provide answer.<|end|>'
                "<|start|>assistant<|channel|>final<|message|>2 + 2 = 4.<|return|>")
HARMONY_LLAMA_CPP = HARMONY_DOCS.replace("<|end|>", "").replace("<|return|>", "")


def splits(text, n=3):
    """Every way of cutting ``text`` into ``n`` pieces at character boundaries (markers get split too)."""
    for cuts in itertools.combinations(range(1, len(text)), n - 1):
        bounds = (0, *cuts, len(text))
        yield [text[a:b] for a, b in zip(bounds, bounds[1:])]


def run(pieces):
    f = ReplyFilter()
    shown = "".join(f.feed(p) for p in pieces) + f.close()
    return shown, f


# ---------------------------------------------------------------- the mapping


@pytest.mark.parametrize("architecture, family", [("qwen3", "qwen3"), ("qwen3moe", "qwen3"), ("gpt-oss", "gpt-oss"),
                                                  ("llama", "plain"), ("granitehybrid", "plain"), ("qwen35", "plain")])
def test_quirks_by_gguf_architecture(architecture, family):
    assert quirks_for(architecture).family == family


@pytest.mark.parametrize("name, family", [("qwen3:8b", "qwen3"), ("Qwen/Qwen3-8B-GGUF", "qwen3"), ("Qwen3-4B", "qwen3"),
                                          ("gpt-oss-20b", "gpt-oss"), ("openai/gpt-oss-120b", "gpt-oss"),
                                          ("qwen3.5-9b", "plain"), ("Qwen2.5-7B-Instruct", "plain"), (None, "plain")])
def test_quirks_by_a_servers_model_name(name, family):
    assert quirks_for(name=name).family == family


def test_the_architecture_wins_over_the_name():
    assert quirks_for("llama", "qwen3-looking-name.gguf") is PLAIN


def test_every_tutor_rung_gets_its_familys_quirks():
    families = {m.key: quirks_for(m.architecture).family for m in catalog.tutor_ladder()}
    assert families == {"smollm2-135m-instruct": "plain", "qwen3-1.7b": "qwen3", "qwen3-4b": "qwen3",
                        "granite-4.0-h-tiny": "plain", "qwen3-8b": "qwen3", "gpt-oss-20b": "gpt-oss"}
    assert set(QUIRKS) <= {m.architecture for m in catalog.load_catalog() if m.architecture}


def test_no_think_goes_on_the_newest_user_message_only():
    q = quirks_for("qwen3")
    history = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
               {"role": "assistant", "content": "Hello."}, {"role": "user", "content": "What is GGUF? "}]
    before = json.dumps(history)
    sent = q.prepare(history)
    assert [m["content"] for m in sent] == ["Be brief.", "Hi", "Hello.", "What is GGUF? /no_think"]
    assert json.dumps(history) == before  # the history keeps what the student typed
    assert PLAIN.prepare(history) is history and quirks_for("gpt-oss").prepare(history) is history


@pytest.mark.parametrize("text", ["/think Explain MoE step by step.", "Explain MoE. /think", "Short please /no_think"])
def test_a_students_own_switch_wins(text):
    msgs = [{"role": "user", "content": text}]
    assert quirks_for("qwen3").prepare(msgs) == msgs


# ---------------------------------------------------------------- the filter


@pytest.mark.parametrize("reply, answer, reasoning", [
    (QWEN3_NO_THINK, "GGUF is the single-file format llama.cpp loads.", ""),
    (QWEN3_THINKING, "GGUF is the single-file format llama.cpp loads.", "The user asks what GGUF is."),
    (HARMONY_DOCS, "2 + 2 = 4.", 'User asks: "What is 2 + 2?" Simple arithmetic. Provide answer.'),
    (HARMONY_LLAMA_CPP, "2 + 2 = 4.", 'User asks: "What is 2 + 2?" Simple arithmetic. Provide answer.'),
])
def test_reasoning_is_held_back_however_the_reply_is_split(reply, answer, reasoning):
    for pieces in itertools.chain([[reply], list(reply)], splits(reply)):
        shown, f = run(pieces)
        assert shown == answer, pieces
        assert f.reasoning.startswith(reasoning) and not f.still_reasoning
        assert "<" not in shown


@pytest.mark.parametrize("reply", ["Q4_K_M keeps about 4.8 bits per weight.", "<3 is how some people write love.",
                                   "<b>GGUF</b> is a file format.", "  Leading spaces go.", "<", "<think"])
def test_a_plain_reply_passes_unchanged(reply):
    for pieces in itertools.chain([[reply], list(reply)], splits(reply)):
        shown, f = run(pieces)
        assert shown == reply.lstrip() and f.reasoning == "" and not f.still_reasoning


def test_the_answer_streams_as_it_comes_not_at_the_end():
    f = ReplyFilter()
    assert f.feed("<|channel|>analysis<|message|>Think.<|start|>assistant<|channel|>final<|message|>The ") == "The "
    assert f.feed("answer ") == "answer "
    assert f.feed("is 4.<|return|>") == "is 4." and f.close() == ""


@pytest.mark.parametrize("cut", ["<think>\nThe user asks about licences. Apache 2.0 allows",
                                 "<|channel|>analysis<|message|>User asks about licences. Apache"])
def test_a_reply_cut_while_reasoning_shows_nothing_and_says_so(cut):
    for pieces in ([cut], list(cut)):
        shown, f = run(pieces)
        assert shown == "" and f.still_reasoning and "licences" in f.reasoning


def test_after_the_final_message_nothing_more_is_shown():
    shown, _ = run(["<|channel|>final<|message|>Yes.<|end|><|start|>assistant<|channel|>analysis<|message|>hmm"])
    assert shown == "Yes."


# ---------------------------------------------------------------- in a Chat and a lab


class Family(Backend):
    """A fake model of a given GGUF architecture: replies from a script, records what it was sent."""

    kind = "fake"

    def __init__(self, architecture, replies):
        self.architecture, self.replies, self.sent, self.finish_reason = architecture, list(replies), [], None

    @property
    def label(self):
        return f"fake-{self.architecture}"

    @property
    def loaded(self):
        return True

    def count(self, text):
        return len(text.split())

    def stream(self, messages, sampling):
        self.sent.append((messages, dict(sampling)))
        text, reason = self.replies.pop(0)
        size = 4  # pieces of four characters: every marker arrives split

        def gen():
            for i in range(0, len(text), size):
                yield text[i:i + size]
            self.finish_reason = reason
        return gen()


def test_a_qwen3_chat_asks_without_thinking_and_keeps_the_history_plain():
    fake = Family("qwen3", [(QWEN3_NO_THINK, "stop"), (QWEN3_NO_THINK, "stop")])
    chat = Chat(backend=fake, system="You are a tutor.", max_tokens=100)
    pieces = list(chat.send("What is GGUF?", stream=True))
    assert "".join(pieces) == "GGUF is the single-file format llama.cpp loads." and not any("<" in p for p in pieces)
    messages, sampling = fake.sent[0]
    assert messages[-1]["content"] == "What is GGUF? /no_think" and sampling["max_tokens"] == 100 + 16
    assert [m["content"] for m in chat.messages] == ["You are a tutor.", "What is GGUF?",
                                                     "GGUF is the single-file format llama.cpp loads."]
    chat.send("And GGML?")
    assert [m["content"] for m in fake.sent[1][0]][1:3] == ["What is GGUF?",
                                                           "GGUF is the single-file format llama.cpp loads."]


def test_a_gpt_oss_chat_shows_the_final_channel_and_keeps_the_analysis_aside():
    fake = Family("gpt-oss", [(HARMONY_LLAMA_CPP, "stop")])
    chat = Chat(backend=fake, max_tokens=256)
    assert chat.send("What is 2 + 2?") == "2 + 2 = 4."
    assert fake.sent[0][0][-1]["content"] == "What is 2 + 2?"  # no switch: harmony has channels instead
    assert fake.sent[0][1]["max_tokens"] == 256 + 1024  # room for the hidden reasoning
    assert "Simple arithmetic" in chat.last_reasoning and "Simple" not in json.dumps(chat.messages)
    assert not chat.truncated and not chat.still_reasoning


def test_a_gpt_oss_reply_cut_in_its_analysis_is_empty_and_marked():
    fake = Family("gpt-oss", [("<|channel|>analysis<|message|>User asks about MoE. Experts are", "length")])
    chat = Chat(backend=fake, max_tokens=64)
    assert chat.send("What is MoE?") == "" and chat.still_reasoning and not chat.truncated


def test_a_cut_answer_after_reasoning_still_ends_tidily():
    fake = Family("qwen3", [("<think>\n\n</think>\n\nGGUF is a file format. It holds the weights and the tok", "length")])
    chat = Chat(backend=fake, max_tokens=20)
    assert chat.send("What is GGUF?") == "GGUF is a file format. It holds the weights and the …"
    assert chat.truncated and not chat.still_reasoning


def test_the_lab_does_not_count_a_reply_that_never_got_past_its_reasoning(tmp_path):
    lab_config = {"lesson": "lesson01", "title": "Lab", "assistant_name": "Ada", "opening": "Hi.",
                  "system_prompt": "You are Ada.", "starters": ["What is GGUF?"], "minimum_exchanges": 1}
    made = []

    def factory(choice):
        made.append(Family("gpt-oss", [("<|channel|>analysis<|message|>Long thoughts", "length"),
                                       (HARMONY_LLAMA_CPP, "stop")]))
        return made[-1]

    index = LessonIndex([Passage("1", "Files", "GGUF is the single-file format of llama.cpp.")])
    lab = LabChat(lab_config, model="m", transcript=tmp_path / "t.json", backend_factory=factory, index=index,
                  folder=tmp_path)
    statuses = []
    lab._set_status = statuses.append
    assert lab.ask("What is 2 + 2?") == "" and lab.exchanges == 0
    assert "still reasoning" in statuses[-1]
    assert lab.ask("What is 2 + 2?") == "2 + 2 = 4." and lab.exchanges == 1
    assert "analysis" not in (tmp_path / "t.json").read_text()
