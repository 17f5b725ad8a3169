"""The lab widget: a lesson's assistant, grounded in the lesson's passages, with a model picker and a transcript.

``LabChat`` keeps its conversation in a ``Chat`` (so after a kernel restart the
model sees what the widget shows), puts the lesson passages that bear on each
question into the prompt and under the reply, and writes ``lab_transcript.json``
beside the notebook after every exchange. While nbgrader grades it loads no
model and sends nothing.
"""

from __future__ import annotations

import html
import os
from pathlib import Path

from .. import grading as _grading
from ..chat import Backend, Chat
from ..chat.choice import ModelChoice, choose_model, tutor_candidates
from ..constants import DEFAULT_MAX_TOKENS, ENV_LAB_AUTOPLAY, LAB_N_CTX, TRANSCRIPT_NAME
from ..errors import OssllmError
from .picker import choice_for, picker_options
from .retrieval import LessonIndex, Passage, format_context
from .transcript import count_exchanges, lab_status, load_lab, read_history, write_transcript

__all__ = ["LabChat"]


class _Idle(Backend):
    """Stands in while grading: nothing is loaded, nothing is sent."""

    kind = "grading"
    label = "none (grading)"

    def stream(self, messages, sampling):
        raise OssllmError("Grading run: the lab sends nothing.")


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, OssllmError):
        return str(exc)  # already says what to do next
    return f"{type(exc).__name__}: {exc}. The assistant could not answer; try again, or choose another model."


def _passages_html(passages: list[dict]) -> str:
    if not passages:
        return ""
    items = "".join(
        f"<p><b>§{html.escape(p['section'])} {html.escape(p['title'])}</b>: "
        f"{html.escape(Passage(p['section'], p['title'], p['text']).excerpt())}</p>" for p in passages)
    return f"<div class='ossllm-lab-passages'><b>From the lesson</b> (check the answer against it){items}</div>"


class LabChat:
    """A lesson's lab assistant: header, model picker, conversation, starters, exchange counter.

    ``ask(text)`` does from code what the Send button does. The model is chosen
    when the lab starts (``choice`` says which and why: see
    ``ossllm_helpers.chat.choice`` for overriding it per notebook with ``model=``,
    per machine with ``OSSLLM_MODEL``, per lab in lab.json) and loaded, or
    downloaded once with a progress bar, on the first message. Earlier exchanges
    in this lesson's transcript are kept, shown, sent to the model, and counted.
    """

    def __init__(self, config: dict, *, model=None, transcript=TRANSCRIPT_NAME, temperature: float = 0.7,
                 seed: int | None = None, max_tokens: int | None = None, n_ctx: int = LAB_N_CTX, folder=".",
                 backend_factory=None, index: LessonIndex | None = None):
        self.config = config
        self.lesson = config["lesson"]
        self.title = config["title"]
        self.assistant_name = config["assistant_name"]
        self.opening = config["opening"]
        self.starters = list(config["starters"])
        self.minimum_exchanges = int(config["minimum_exchanges"])
        self.max_tokens = int(max_tokens or config.get("max_tokens") or DEFAULT_MAX_TOKENS)
        self.n_ctx = n_ctx
        self.folder = Path(folder)
        self.transcript_path = Path(transcript).absolute()  # beside the notebook, fixed now
        self.last_error: str | None = None
        self._factory = backend_factory  # tests: a fake backend for a choice
        self._index = index
        self._busy = False
        self._autoplayed = False
        self._widget = None
        self._log: list[str] = []
        self._candidates = None
        earlier = read_history(self.transcript_path, self.lesson)
        # a transcript we cannot use is moved aside on the first write, never overwritten
        self._move_aside = earlier is None and self.transcript_path.exists()
        if self.grading:
            choice, backend = ModelChoice(None, "grading", "Grading run: no model is loaded."), _Idle()
        else:
            choice = choose_model(model, lab_model=config.get("model"), n_ctx=n_ctx)
            backend = backend_factory(choice) if backend_factory else None
        self.chat = Chat(system=config["system_prompt"], n_ctx=n_ctx, temperature=temperature, seed=seed,
                         max_tokens=self.max_tokens, choice=choice, backend=backend)
        self.chat.messages += earlier or []
        self.chat.exchanges = count_exchanges(self.chat.messages)

    @classmethod
    def from_file(cls, path="lab.json", *, model=None, transcript=TRANSCRIPT_NAME, **kwargs) -> LabChat:
        """Load lab.json (validated) and make its assistant; its lesson text is the notebook beside it."""
        path = Path(path)
        kwargs.setdefault("folder", path.parent)
        return cls(load_lab(path), model=model, transcript=transcript, **kwargs)

    # -- state

    @property
    def messages(self) -> list[dict]:
        """The conversation, system prompt first: the Chat's own history."""
        return self.chat.messages

    @property
    def system_prompt(self) -> str:
        return self.chat.system

    @property
    def choice(self) -> ModelChoice:
        return self.chat.choice

    @property
    def exchanges(self) -> int:
        return count_exchanges(self.messages)

    @property
    def completed(self) -> bool:
        return self.exchanges >= self.minimum_exchanges

    @property
    def grading(self) -> bool:
        return _grading()

    @property
    def index(self) -> LessonIndex:
        """The lesson's passages (built on first use)."""
        if self._index is None:
            self._index = LessonIndex.from_folder(self.folder)
        return self._index

    @property
    def model_label(self) -> str:
        return self.chat.backend.label

    def save(self) -> Path:
        """Write the transcript (atomically; an unusable older file is kept aside) and return its path."""
        data = {"lesson": self.lesson, "model": self.model_label, "model_choice": self.choice.record(),
                "messages": self.messages, "exchanges": self.exchanges, "completed": self.completed}
        path = write_transcript(self.transcript_path, data, move_aside=self._move_aside)
        self._move_aside = False
        return path

    # -- talking

    def ask(self, text: str) -> str:
        """Send one message and return the reply ("" if nothing was sent; see ``last_error``)."""
        text = text.strip() if isinstance(text, str) else ""
        if not text:
            self._set_status("Type a question first.")
            return ""
        if self.grading:
            self._set_status(self._grading_note())
            return ""
        if self._busy:
            return ""
        self._busy = True
        self._set_enabled(False)
        try:
            return self._exchange(text)
        finally:
            self._busy = False
            self._set_enabled(True)

    def _exchange(self, text: str) -> str:
        self.last_error = None
        passages = self.index.search(text)
        self._push("user", "You", text)
        try:
            if not self.chat.loaded:
                self._set_status(f"Loading {html.escape(self.model_label)}… (only before the first reply)")
                self._with_progress(self.chat.load_model)
                self._show_header()
            reply = ""
            for piece in self.chat.send(text, stream=True, context=format_context(passages)):
                reply += piece
                self._set_pending(self._bubble("assistant", self.assistant_name, reply))
                self._set_status("")
        except Exception as exc:
            self._pop()
            return self._fail(exc)
        final = self.messages[-1]
        if not final["content"].strip():
            self.chat.forget_last()
            self._pop()
            why = ("The model was still reasoning when it reached the reply limit, so it gave no answer; it does not"
                   " count. Ask a narrower question, or raise max_tokens." if self.chat.still_reasoning else
                   "The assistant gave an empty reply; it does not count. Ask again, perhaps differently.")
            self._set_status(why)
            return ""
        final["model"] = self.model_label
        final["passages"] = [p.record() for p in passages]
        if self.chat.truncated:
            final["cut"] = True
        self._set_pending("")
        self._push_reply(final)
        self._set_status("")
        self.save()
        self._refresh_progress()
        return final["content"]

    def switch_model(self, model: str) -> None:
        """Talk to ``model`` (a catalog key or GGUF path) from the next message on; the conversation stays."""
        choice = choice_for(model, self._candidates)
        self.chat.switch_model(choice=choice)
        if self._factory is not None:
            self.chat.backend = self._factory(choice)
        self._log.append(f"<div class='ossllm-lab-note'>Now talking to {html.escape(self.model_label)}.</div>")
        self._render_log()
        self._show_header()

    def _fail(self, exc: BaseException) -> str:
        self.last_error = _error_text(exc)
        if self._widget is None:
            print(self.last_error)
        self._set_status(f"<span style='color:#b91c1c'>⚠ {html.escape(self.last_error)}</span>")
        return ""

    def autoplay(self, *, force: bool = False) -> list[str]:
        """Send the starters (cycling if needed) until ``minimum_exchanges`` were sent.

        Runs only when OSSLLM_LAB_AUTOPLAY=1 or ``force``, and never while grading.
        """
        if self.grading or not (force or os.environ.get(ENV_LAB_AUTOPLAY) == "1"):
            return []
        self._autoplayed = True
        replies = []
        for i in range(self.minimum_exchanges):
            replies.append(self.ask(self.starters[i % len(self.starters)]))
            if self.last_error:
                break
        return replies

    def _grading_note(self) -> str:
        status = lab_status(self.transcript_path, lesson=self.lesson, minimum=self.minimum_exchanges)
        return f"Grading run: the assistant is not loaded and nothing is sent. {html.escape(status)}"

    # -- widget

    @property
    def widget(self):
        """The ipywidgets view (built on first use)."""
        if self._widget is None:
            self._widget = self._build()
        return self._widget

    def _build(self):
        import ipywidgets as w

        from .panel import ChatPanel  # deferred: anywidget and ipywidgets load only with the widget

        self.header = w.HTML()
        self.header.add_class("ossllm-lab-header")
        self.picker = w.Dropdown(description="Model", layout=w.Layout(width="auto", max_width="100%"),
                                 style={"description_width": "initial"})
        self.picker.add_class("ossllm-lab-picker")
        self.progress = w.Output()
        self.progress.add_class("ossllm-lab-progress")
        self.panel = ChatPanel(self._send_from_box, placeholder=f"Ask {self.assistant_name}…")
        self.starter_buttons = []
        for s in self.starters:
            b = w.Button(description=s, tooltip=s, layout=w.Layout(width="auto", max_width="100%"))
            b.add_class("ossllm-lab-starter")
            b.on_click(lambda btn: self.ask(btn.tooltip))
            self.starter_buttons.append(b)
        self.counter = w.Label()
        self.counter.add_class("ossllm-lab-counter")
        self.badge = w.HTML("<span style='background:#16a34a;color:white;padding:0.15em 0.6em;border-radius:0.8em'>"
                            "✅ Lab complete</span>")
        self.badge.add_class("ossllm-lab-badge")
        self._widget = w.VBox([self.header, self.picker, self.progress, self.panel,
                               w.HTML("<span style='color:#666'>Try one of these:</span>"),
                               w.Box(self.starter_buttons, layout=w.Layout(flex_flow="row wrap")),
                               w.HBox([self.counter, self.badge])])
        self._widget.add_class("ossllm-lab-widget")
        self._log = [self._bubble("assistant", self.assistant_name, self.opening)]
        for m in self.messages[1:]:
            if m["role"] == "user":
                self._log.append(self._bubble("user", "You", m["content"]))
            else:
                self._log.append(self._reply_html(m))
        self._render_log()
        self._fill_picker()
        self._show_header()
        self._refresh_progress()
        if self.grading:
            self._set_enabled(False)
            self.panel.status_html = self._grading_note()
        return self._widget

    def _fill_picker(self) -> None:
        if self.grading or self.choice.base_url:
            self.picker.layout.display = "none"  # the class server decides
            return
        self._candidates = tutor_candidates(self.n_ctx)
        self.picker.options = picker_options(self.choice, self.n_ctx, candidates=self._candidates)
        self.picker.value = str(self.choice.model)
        self.picker.observe(lambda change: change["new"] != self.choice.model and self.switch_model(change["new"]),
                            names="value")

    def _show_header(self) -> None:
        if self._widget is None:
            return
        choice = self.choice
        tone = "#b45309" if choice.demo else "#666"
        self.header.value = (
            f"<h3 style='margin:0.2em 0'>{html.escape(self.title)}</h3>"
            f"<div style='color:#666'>Assistant: <b>{html.escape(self.assistant_name)}</b> · model"
            f" <code>{html.escape(self.model_label)}</code></div>"
            f"<div style='color:{tone};font-size:0.9em'>{html.escape(choice.reason)}</div>")

    def _bubble(self, role: str, name: str, text: str) -> str:
        from ..quiz import markdown_html  # deferred: the quiz module loads its widget code

        body = markdown_html(text) if text else "<span style='color:#888'>…</span>"
        return f"<div class='ossllm-lab-msg ossllm-lab-{role}'><b>{html.escape(name)}</b>{body}</div>"

    def _reply_html(self, message: dict) -> str:
        note = ""
        if message.get("cut"):
            note = (f"<div class='ossllm-lab-note'>Cut at the {self.max_tokens}-token reply limit: ask it to go on,"
                    " or raise max_tokens.</div>")
        return self._bubble("assistant", self.assistant_name, message["content"]) + note + \
            _passages_html(message.get("passages") or [])

    def _push(self, role: str, name: str, text: str) -> None:
        if self._widget is not None:
            self._log.append(self._bubble(role, name, text))
            self._render_log()
            self.panel.pending_html = self._bubble("assistant", self.assistant_name, "")

    def _push_reply(self, message: dict) -> None:
        if self._widget is not None:
            self._log.append(self._reply_html(message))
            self._render_log()

    def _pop(self) -> None:
        if self._widget is not None:
            self._log.pop()
            self.panel.pending_html = ""
            self._render_log()

    def _render_log(self) -> None:
        if self._widget is not None:
            self.panel.log_html = "".join(self._log)

    def _set_pending(self, value: str) -> None:
        if self._widget is not None:
            self.panel.pending_html = value

    def _with_progress(self, action):
        if self._widget is None:
            return action()
        with self.progress:  # a download's progress bar appears here, not in a log
            result = action()
        self.progress.clear_output()
        return result

    def _send_from_box(self, text: str) -> None:
        if not self.ask(text) and self.last_error:
            self.panel.restore(text)  # keep what the student typed

    def _set_status(self, value: str) -> None:
        if self._widget is not None:
            self.panel.status_html = value

    def _set_enabled(self, enabled: bool) -> None:
        if self._widget is None:
            return
        enabled = enabled and not self.grading
        for b in self.starter_buttons:
            b.disabled = not enabled
        self.panel.disabled = not enabled
        self.picker.disabled = not enabled

    def _refresh_progress(self) -> None:
        if self._widget is None:
            return
        n, m = self.exchanges, self.minimum_exchanges
        self.counter.value = f"Exchanges: {m} of {m} done" if n >= m else f"Exchanges: {n} of {m}"
        self.badge.layout.display = "" if self.completed else "none"

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)
        if not self._autoplayed:
            self.autoplay()

    def __repr__(self) -> str:
        return f"<LabChat {self.lesson}: {self.exchanges} / {self.minimum_exchanges} exchanges, model {self.model_label}>"
