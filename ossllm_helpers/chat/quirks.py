"""What some model families need around a chat: a switch that turns thinking off, and reasoning kept out of the reply.

Two families of the course's tutor ladder reason before they answer:

* **Qwen3** (GGUF architectures ``qwen3`` and ``qwen3moe``) thinks by default,
  inside ``<think>…</think>``. Qwen's soft switch, ``/no_think`` in a user
  message, makes it answer at once, after an empty ``<think>\\n\\n</think>\\n\\n``
  (Qwen3 technical report, arXiv 2505.09388, Figure 3; Qwen's llama.cpp guide:
  the soft switch is always available, the chat template's hard switch is not
  exposed there). The chat adds the switch to each question unless the student
  wrote ``/think`` or ``/no_think`` themselves.
* **gpt-oss** (architecture ``gpt-oss``) answers in OpenAI's harmony format: its
  chain of thought in the ``analysis`` channel, then the answer in the ``final``
  channel (``<|channel|>analysis<|message|>…<|end|><|start|>assistant<|channel|>final<|message|>…<|return|>``).
  Harmony's own guide (openai/harmony, docs/format.md) says of analysis messages:
  "Avoid showing these to end-users." Its reasoning effort stays at the model's
  default (medium): llama-cpp-python's chat completion passes no template variables,
  so the reply gets extra tokens for the reasoning it will not show.

``ReplyFilter`` hides both kinds of reasoning as a reply streams, whatever the
model (a reply that opens with ``<think>`` or a harmony channel), so a server or
an unlisted model that reasons is handled too; ``Chat.last_reasoning`` keeps
what was hidden. Checked 2026-11-30.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Quirks", "PLAIN", "QUIRKS", "quirks_for", "ReplyFilter"]


@dataclass(frozen=True)
class Quirks:
    """A family's needs: the switch added to the user's message, and extra reply tokens for hidden reasoning."""

    family: str
    no_think: str | None = None  # appended to the newest user message
    reasoning_tokens: int = 0  # added to max_tokens: reasoning the reply spends before its answer

    def prepare(self, messages: list[dict]) -> list[dict]:
        """The messages to send: the newest user message carries the switch (the history keeps the plain text)."""
        if not self.no_think or not messages or messages[-1].get("role") != "user":
            return messages
        text = messages[-1]["content"]
        if re.search(r"(^|\s)/(no_)?think\b", text):  # the student chose; their switch wins
            return messages
        return messages[:-1] + [{**messages[-1], "content": f"{text.rstrip()} {self.no_think}"}]


PLAIN = Quirks("plain")
_QWEN3 = Quirks("qwen3", no_think="/no_think", reasoning_tokens=16)  # the empty think block costs about 6 tokens
_GPT_OSS = Quirks("gpt-oss", reasoning_tokens=1024)  # medium effort: a few hundred tokens for a tutor's question

# By GGUF general.architecture (what llama.cpp calls the model).
QUIRKS: dict[str, Quirks] = {"qwen3": _QWEN3, "qwen3moe": _QWEN3, "gpt-oss": _GPT_OSS}
# By name, for a server's model ("qwen3:8b", "Qwen/Qwen3-8B", "gpt-oss-20b") or a file without a known architecture.
# Qwen3.5 and later are not matched: whether they think by default is not confirmed.
_BY_NAME = [(re.compile(r"qwen-?3(?![.\d])", re.I), _QWEN3), (re.compile(r"gpt-?oss", re.I), _GPT_OSS)]


def quirks_for(architecture: str | None = None, name: str | None = None) -> Quirks:
    """The quirks of a model, by its GGUF architecture, else by its name; ``PLAIN`` when neither is known."""
    if architecture:
        return QUIRKS.get(architecture.lower(), PLAIN)
    for pattern, quirks in _BY_NAME:
        if name and pattern.search(name):
            return quirks
    return PLAIN


_THINK_OPEN, _THINK_CLOSE = "<think>", "</think>"
_CHANNEL, _START = "<|channel|>", "<|start|>"
_FINAL = re.compile(r"<\|channel\|>\s*final\s*<\|message\|>")
_FINAL_LEN = len("<|channel|>final<|message|>")
_HEADER = re.compile(r"<\|(?:start|channel)\|>[a-z_ ]*(?=<\|)")  # "<|start|>assistant", "<|channel|>analysis"
_TOKEN = re.compile(r"<\|[a-z_]+\|>")


class ReplyFilter:
    """Streams a reply's answer and holds back its reasoning: a leading ``<think>`` block, or harmony's analysis.

    ``feed(piece)`` returns the text to show now (markers split across pieces are
    held until they are whole); ``close()`` returns what is left. ``reasoning`` is
    the hidden text; ``still_reasoning`` is true when the reply ended before its answer began.
    """

    def __init__(self):
        self._mode = "start"  # start, think, harmony (before final), answer, final (harmony answer), done
        self._buf = ""
        self._lead = True  # strip the whitespace an answer starts with
        self._hidden: list[str] = []

    @property
    def reasoning(self) -> str:
        return _TOKEN.sub("\n", _HEADER.sub("", "".join(self._hidden))).strip()

    @property
    def still_reasoning(self) -> bool:
        return self._mode in ("think", "harmony")

    def feed(self, piece: str) -> str:
        self._buf += piece
        out: list[str] = []
        while self._step(out):
            pass
        return self._shown(out)

    def close(self) -> str:
        out = []
        if self._mode in ("think", "harmony"):
            self._hidden.append(self._buf)
        elif self._mode != "done":
            out.append(self._buf)  # a start that only looked like a marker was the answer after all
        self._buf = ""
        return self._shown(out)

    def _shown(self, out: list[str]) -> str:
        text = "".join(out)
        if self._lead:
            text = text.lstrip()
            self._lead = not text
        return text

    def _step(self, out: list[str]) -> bool:
        """One move of the state machine; True while there is more to do with what is buffered."""
        buf, mode = self._buf, self._mode
        if mode == "start":
            head = buf.lstrip()
            if head.startswith(_THINK_OPEN):
                self._mode, self._buf = "think", head[len(_THINK_OPEN):]
                return True
            if head.startswith((_CHANNEL, _START)):
                self._mode, self._buf = "harmony", head
                return True
            if not head or any(m.startswith(head) for m in (_THINK_OPEN, _CHANNEL, _START)):
                return False  # too early to tell
            self._mode = "answer"
            return True
        if mode == "think":
            end = buf.find(_THINK_CLOSE)
            if end < 0:
                return self._hold(len(_THINK_CLOSE) - 1)
            self._hidden.append(buf[:end])
            self._mode, self._buf, self._lead = "answer", buf[end + len(_THINK_CLOSE):], True
            return True
        if mode == "harmony":
            found = _FINAL.search(buf)
            if found is None:
                return self._hold(_FINAL_LEN + 2)
            self._hidden.append(buf[:found.start()])
            self._mode, self._buf, self._lead = "final", buf[found.end():], True
            return True
        if mode == "final":
            stop = buf.find("<|")
            if stop >= 0:  # <|return|>, or <|end|> before another message: the answer is over
                out.append(buf[:stop])
                self._mode, self._buf = "done", ""
                return False
            keep = 1 if buf.endswith("<") else 0  # perhaps the start of "<|"
            out.append(buf[:len(buf) - keep])
            self._buf = buf[len(buf) - keep:]
            return False
        if mode == "answer":
            out.append(buf)
        self._buf = ""
        return False

    def _hold(self, keep: int) -> bool:
        """Hide what cannot be part of the marker being waited for; keep the tail that might be."""
        if len(self._buf) > keep:
            self._hidden.append(self._buf[:-keep])
            self._buf = self._buf[-keep:]
        return False
