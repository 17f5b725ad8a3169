"""The lab chat widget and the check a graded cell uses.

``LabChat`` talks to a small local model with the lesson's system prompt and
writes ``lab_transcript.json`` beside the notebook after every exchange, so a
graded cell can call ``lab_complete(lesson=...)`` once nbgrader has collected
the notebook folder. While nbgrader grades it loads no model and sends nothing.
"""

from __future__ import annotations

import html
import json
import os
import warnings
from importlib import resources
from pathlib import Path

from .errors import OssllmError, QuizFormatError

__all__ = [
    "DEFAULT_MODEL",
    "LabChat",
    "lab_complete",
    "lab_status",
    "load_lab",
    "count_exchanges",
]

DEFAULT_MODEL = "smollm2-135m-instruct"
TRANSCRIPT_NAME = "lab_transcript.json"
AUTOPLAY_ENV = "OSSLLM_LAB_AUTOPLAY"


def _grading() -> bool:
    from . import grading

    return grading()


# ---------------------------------------------------------------- lab.json


def load_lab(path="lab.json") -> dict:
    """Read and validate lab.json; QuizFormatError names the file and the problem."""
    import jsonschema

    from .quiz import read_lesson_json

    path = Path(path)
    data = read_lesson_json(path, "lab")
    schema = json.loads(resources.files(__package__).joinpath("data", "lab.schema.json").read_text(encoding="utf-8"))
    err = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(data))
    if err is not None:
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err.absolute_path).lstrip(".")
        raise QuizFormatError(
            f"{path}: {where or 'top level'}: {err.message}. "
            "Fix the file to match ossllm_helpers/data/lab.schema.json (see CONTRIBUTING.md, 'Lesson data files')."
        )
    return data


# ---------------------------------------------------------------- transcripts


def _content(msg) -> str:
    if not isinstance(msg, dict) or not isinstance(msg.get("content"), str):
        return ""
    return msg["content"].strip()


def count_exchanges(messages) -> int:
    """User messages directly answered by the assistant, both non-empty."""
    if not isinstance(messages, list):
        return 0
    n = 0
    for a, b in zip(messages, messages[1:]):
        if (
            isinstance(a, dict)
            and isinstance(b, dict)
            and a.get("role") == "user"
            and b.get("role") == "assistant"
            and _content(a)
            and _content(b)
        ):
            n += 1
    return n


def _assess(path, lesson, minimum) -> tuple[bool, str]:
    path = Path(path)
    todo = f"Run the lab cell and talk to the assistant (at least {minimum} exchanges), then save the notebook."
    if not path.is_file():
        return False, f"Lab not complete: no {path.name} in {path.resolve().parent}. {todo}"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return False, f"Lab not complete: {path.name} cannot be read ({exc}). {todo} It rewrites the file."
    if not isinstance(data, dict) or not isinstance(data.get("messages"), list):
        return False, f"Lab not complete: {path.name} is not a lab transcript (no list of messages). {todo}"
    if lesson is not None and data.get("lesson") != lesson:
        return False, (
            f"Lab not complete: {path.name} is for lesson {data.get('lesson')!r}, not {lesson!r}. "
            f"Run the lab in the {lesson} notebook."
        )
    n = count_exchanges(data["messages"])
    if n < minimum:
        more = minimum - n
        return False, f"Lab not complete: {n} of {minimum} exchanges so far. Talk to the assistant {more} more time(s)."
    return True, f"Lab complete: {n} exchanges with the assistant ({minimum} needed)."


def lab_complete(path=TRANSCRIPT_NAME, *, lesson=None, minimum=3) -> bool:
    """True if the transcript exists, is for ``lesson`` and has ``minimum`` real exchanges.

    Never raises: a missing or malformed file is simply not complete
    (``lab_status`` says why).
    """
    try:
        return _assess(path, lesson, minimum)[0]
    except Exception:  # a graded cell must fail by assertion, not by traceback
        return False


def lab_status(path=TRANSCRIPT_NAME, *, lesson=None, minimum=3) -> str:
    """One sentence: complete, or why not and what to do."""
    try:
        return _assess(path, lesson, minimum)[1]
    except Exception as exc:
        return f"Lab not complete: {path} could not be checked ({exc})."


def _read_transcript(path: Path, lesson: str):
    """Earlier user/assistant messages of this lesson, or None if the file is absent or unusable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(data, dict) or data.get("lesson") != lesson or not isinstance(data.get("messages"), list):
        return None
    return [
        {"role": m["role"], "content": m["content"]}
        for m in data["messages"]
        if isinstance(m, dict) and m.get("role") in ("user", "assistant") and isinstance(m.get("content"), str)
    ]


# ---------------------------------------------------------------- the widget


def _default_chat_factory(model, **kwargs):
    from .chat import Chat  # imported late: it pulls in llama-cpp-python

    return Chat(model, **kwargs)


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, OssllmError):
        return str(exc)  # already says what to do next
    return f"{type(exc).__name__}: {exc}. The assistant could not answer; try again, or choose another model."


def _bubble_html(role: str, name: str, text: str) -> str:
    from .quiz import markdown_html

    user = role == "user"
    colour = "#2563eb" if user else "#16a34a"
    body = markdown_html(text) if text else "<span style='color:#888'>…</span>"
    return (
        f"<div style='border-left:3px solid {colour};padding:0.15em 0.6em;margin:0.25em 0'>"
        f"<b style='color:{colour}'>{html.escape(name)}</b><br>{body}</div>"
    )


class LabChat:
    """A lesson's lab assistant: header, starters, text box, streamed replies, exchange counter.

    ``ask(text)`` does from code what the Send button does. The model loads on
    the first message. Earlier exchanges in this lesson's transcript are kept
    and shown, and count towards the minimum.
    """

    def __init__(
        self,
        config: dict,
        *,
        model=None,
        transcript=TRANSCRIPT_NAME,
        temperature: float = 0.7,
        seed: int | None = None,
        max_tokens: int | None = None,
        n_ctx: int = 2048,
        chat_factory=None,
    ):
        self.config = config
        self.lesson = config["lesson"]
        self.title = config["title"]
        self.assistant_name = config["assistant_name"]
        self.opening = config["opening"]
        self.system_prompt = config["system_prompt"]
        self.starters = list(config["starters"])
        self.minimum_exchanges = int(config["minimum_exchanges"])
        self.model = str(model or config.get("model") or DEFAULT_MODEL)
        self.temperature = temperature
        self.seed = seed
        self.max_tokens = int(max_tokens or config.get("max_tokens") or 200)
        self.n_ctx = n_ctx
        self.transcript_path = Path(transcript).absolute()  # beside the notebook, fixed now
        self.last_error: str | None = None
        self._factory = chat_factory or _default_chat_factory
        self._chat = None
        self._busy = False
        self._autoplayed = False
        self._widget = None
        self._bubbles: list = []
        earlier = _read_transcript(self.transcript_path, self.lesson)
        # a transcript we cannot use is moved aside on the first write, never overwritten
        self._move_aside = earlier is None and self.transcript_path.exists()
        self.messages: list[dict] = [{"role": "system", "content": self.system_prompt}] + (earlier or [])

    @classmethod
    def from_file(cls, path="lab.json", *, model=None, transcript=TRANSCRIPT_NAME, **kwargs) -> "LabChat":
        """Load lab.json (validated) and make its assistant; the model loads on first send."""
        return cls(load_lab(path), model=model, transcript=transcript, **kwargs)

    # -- state

    @property
    def exchanges(self) -> int:
        return count_exchanges(self.messages)

    @property
    def completed(self) -> bool:
        return self.exchanges >= self.minimum_exchanges

    @property
    def grading(self) -> bool:
        return _grading()

    def _model_label(self) -> str:
        p = Path(self.model)
        return p.name if p.suffix.lower() == ".gguf" else self.model

    def save(self) -> Path:
        """Write the transcript (atomically) and return its path."""
        path = self.transcript_path
        if self._move_aside and path.exists():
            os.replace(path, path.with_name(path.stem + ".old" + path.suffix))
        self._move_aside = False
        data = {
            "lesson": self.lesson,
            "model": self._model_label(),
            "messages": self.messages,
            "exchanges": self.exchanges,
            "completed": self.completed,
        }
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(tmp, path)
        return path

    # -- talking

    def _load_chat(self):
        if self._chat is None:
            kwargs = dict(
                system=self.system_prompt,
                n_ctx=self.n_ctx,
                temperature=self.temperature,
                max_tokens=self.max_tokens,
            )
            if self.seed is not None:
                kwargs["seed"] = self.seed
            self._chat = self._factory(self.model, **kwargs)
        return self._chat

    def ask(self, text: str) -> str:
        """Send one message and return the reply ("" if nothing was sent; see ``last_error``)."""
        text = (text or "").strip()
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
        first = self._chat is None
        if first:
            # the model loads on the first message; say so, as it takes a few seconds
            self._set_status(f"Loading {html.escape(self._model_label())}… (only before the first reply)")
        self._add_bubble("user", text)
        reply_bubble = self._add_bubble("assistant", "")
        reply = ""
        try:
            for chunk in self._load_chat().send(text, stream=True):
                if first:
                    self._set_status("")
                    first = False
                reply += chunk if isinstance(chunk, str) else str(chunk)
                if reply_bubble is not None:
                    reply_bubble.value = _bubble_html("assistant", self.assistant_name, reply)
        except Exception as exc:
            self._drop_bubbles(2)
            return self._fail(exc)
        self._set_status("")
        if not reply.strip():
            self._drop_bubbles(2)
            self._set_status("The assistant gave an empty reply; it does not count. Ask again, perhaps differently.")
            return ""
        self.messages += [{"role": "user", "content": text}, {"role": "assistant", "content": reply}]
        self.save()
        self._refresh_progress()
        return reply

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
        if self.grading or not (force or os.environ.get(AUTOPLAY_ENV) == "1"):
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

        header = w.HTML(
            f"<h3 style='margin:0.2em 0'>{html.escape(self.title)}</h3>"
            f"<div style='color:#666'>Assistant: <b>{html.escape(self.assistant_name)}</b> "
            f"· model <code>{html.escape(self._model_label())}</code></div>"
        )
        self.conversation = w.VBox(
            [w.HTML(_bubble_html("assistant", self.assistant_name, self.opening))],
            layout=w.Layout(max_height="420px", overflow="auto", border="1px solid #ddd", padding="0.3em"),
        )
        self.starter_buttons = [
            w.Button(description=s, tooltip=s, layout=w.Layout(width="auto", max_width="100%")) for s in self.starters
        ]
        for b in self.starter_buttons:
            b.on_click(lambda btn: self.ask(btn.tooltip))
        self.text_box = w.Text(placeholder=f"Ask {self.assistant_name}…", layout=w.Layout(flex="1 1 auto"))
        self.send_button = w.Button(description="Send", button_style="primary", icon="paper-plane")
        self.send_button.on_click(lambda _b: self._send_from_box())
        with warnings.catch_warnings():
            # Enter to send; the suggested replacement (observe value) would also send on blur
            warnings.simplefilter("ignore", DeprecationWarning)
            self.text_box.on_submit(lambda _t: self._send_from_box())
        self.counter = w.Label()
        self.badge = w.HTML(
            "<span style='background:#16a34a;color:white;padding:0.15em 0.6em;border-radius:0.8em'>"
            "✅ Lab complete</span>"
        )
        self.status = w.HTML("")
        for m in self.messages[1:]:
            self._bubbles_box_add(w, m["role"], m["content"])
        box = w.VBox(
            [
                header,
                self.conversation,
                w.HTML("<span style='color:#666'>Try one of these:</span>"),
                w.Box(self.starter_buttons, layout=w.Layout(flex_flow="row wrap")),
                w.HBox([self.text_box, self.send_button]),
                w.HBox([self.counter, self.badge]),
                self.status,
            ]
        )
        self._widget = box
        self._refresh_progress()
        if self.grading:
            self._set_enabled(False)
            self.status.value = self._grading_note()
        return box

    def _bubbles_box_add(self, w, role, text):
        name = "You" if role == "user" else self.assistant_name
        bubble = w.HTML(_bubble_html(role, name, text))
        self.conversation.children = self.conversation.children + (bubble,)
        return bubble

    def _add_bubble(self, role: str, text: str):
        if self._widget is None:
            return None
        import ipywidgets as w

        return self._bubbles_box_add(w, role, text)

    def _drop_bubbles(self, n: int) -> None:
        if self._widget is not None:
            self.conversation.children = self.conversation.children[:-n]

    def _send_from_box(self) -> None:
        text = self.text_box.value
        self.text_box.value = ""
        if not self.ask(text) and self.last_error:
            self.text_box.value = text  # keep what the student typed

    def _set_status(self, value: str) -> None:
        if self._widget is not None:
            self.status.value = value

    def _set_enabled(self, enabled: bool) -> None:
        if self._widget is None:
            return
        enabled = enabled and not self.grading
        for b in [self.send_button, *self.starter_buttons]:
            b.disabled = not enabled
        self.text_box.disabled = not enabled

    def _refresh_progress(self) -> None:
        if self._widget is None:
            return
        self.counter.value = f"Exchanges: {self.exchanges} / {self.minimum_exchanges}"
        self.badge.layout.display = "" if self.completed else "none"

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)
        if not self._autoplayed:
            self.autoplay()

    def __repr__(self) -> str:
        progress = f"{self.exchanges} / {self.minimum_exchanges} exchanges"
        return f"<LabChat {self.lesson}: {progress}, model {self._model_label()}>"
