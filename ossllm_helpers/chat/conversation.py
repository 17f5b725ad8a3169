"""A conversation with a model: history, trimming, save and load, over one streaming backend."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..constants import DEFAULT_MAX_TOKENS
from ..errors import (
    ChatSettingError,
    ModelTooLargeError,
    TranscriptError,
    TranscriptFolderError,
)
from .backends import Backend, Sampling
from .backends.local import LocalBackend
from .backends.server import ServerBackend
from .choice import ModelChoice, choose_model, class_server
from .quirks import ReplyFilter
from .transcript import read_chat_transcript
from .trimming import tidy_cut, trim_history

__all__ = ["Chat", "trim_history", "tidy_cut"]  # the last two re-exported from trimming

_SETTINGS = ("quant", "n_ctx", "temperature", "top_p", "seed", "max_tokens", "base_url", "n_threads")
# Token budget, counted per message as its content's tokens plus the role markers a
# chat template wraps it in (ChatML, Llama 3 and Gemma use 4-6 tokens), plus one
# allowance for what the template adds once (SmolLM2's default system prompt is ~20).
_PER_MESSAGE = 8
_PER_PROMPT = 32


def _number(name, value, lo, hi, *, whole=False, hint=""):
    ok_type = isinstance(value, int if whole else (int, float)) and not isinstance(value, bool)
    if not ok_type or not lo <= value <= hi:
        kind = "a whole number" if whole else "a number"
        raise ChatSettingError(name, value, f"{kind} from {lo} to {hi}", hint)


def _close(iterator) -> None:
    close = getattr(iterator, "close", None)  # a generator frees its model stream; a plain iterator has nothing
    if close is not None:
        close()


def _plain(m: dict) -> dict:
    return {"role": m["role"], "content": m["content"]}


class Chat:
    """A conversation with a language model, with memory, on this machine or on a server.

    The conversation is ``messages``, a list of OpenAI-style ``{"role", "content"}``
    dicts, system prompt first (other keys a lab adds, such as ``passages``, are kept
    and never sent). Before each reply the oldest exchanges are dropped if the
    prompt would not leave room for ``max_tokens`` in ``n_ctx``; the system prompt
    is always kept. ``exchanges`` counts completed replies.

    Replies come from a backend: a GGUF model run by llama-cpp-python (found,
    downloaded if needed and loaded quietly on the first message, after a check
    that it fits in memory; a base model continues a plain "User:/Assistant:"
    transcript), or an OpenAI-compatible server (llama.cpp's server, vLLM,
    Ollama) with ``base_url``.

    Args:
        model: a course catalog key (``"qwen2.5-1.5b-instruct"``; ``ossllm models`` lists them),
            the path of a GGUF file, or with ``base_url`` the server's model name. None:
            the class server when ``OSSLLM_BASE_URL`` is set, else ``OSSLLM_MODEL``, else
            the strongest tutor model this machine can run (``choice`` says which and why).
        system: the system prompt (the assistant's persona and facts), or None.
        quant: for a catalog key, which quantisation to fetch (e.g. ``"Q4_K_M"``).
        n_ctx: the context window in tokens: prompt plus reply must fit in it.
        temperature: sampling temperature, 0 to 2; 0 always picks the likeliest token.
        top_p: nucleus sampling: sample from the smallest set of tokens whose
            probabilities add up to this (0 excluded, up to 1).
        seed: makes replies reproducible: the same seed, settings and history give
            the same reply, in this Chat or a new one.
        max_tokens: the longest reply in tokens (default 256); None lets a reply run
            until the context is full. A reply cut by it ends at its last whole
            sentence, marked with "…", and ``truncated`` is true. A model that reasons first
            (Qwen3, gpt-oss: ``ossllm_helpers.chat.quirks``) gets extra tokens for that, and only
            its answer is shown; ``still_reasoning`` is true if it ran out before answering.
        base_url: an OpenAI-compatible API root, such as ``"http://10.0.0.5:8000/v1"``;
            False keeps a Chat local even in class mode.
        api_key: sent as a bearer token to a server that wants one (default ``OSSLLM_API_KEY``).
        check_memory: refuse to load a model the estimate says will not fit.
        n_threads: CPU threads for prompt and generation; None: half the logical CPUs.
        n_gpu_layers: layers to put on a GPU; None decides from the estimate (all
            when they fit, none without a GPU build of llama-cpp-python).
        backend: a ready backend (tests use a fake one); overrides model and base_url.

    Raises:
        ChatSettingError: for settings of the wrong type or out of range.
        ModelTooLargeError, NotGGUFError, UnknownModelError, OfflineNotCachedError:
            on the first message, if the model cannot be found or will not fit.

    Example:
        >>> chat = Chat(system="You are a concise tutor.", temperature=0, seed=0)
        >>> chat.send("What is a GGUF file?")
        >>> for piece in chat.send("Say more.", stream=True):
        ...     print(piece, end="")
    """

    def __init__(self, model=None, *, system: str | None = None, quant: str | None = None, n_ctx: int = 2048,
                 temperature: float = 0.7, top_p: float = 0.95, seed: int | None = None,
                 max_tokens: int | None = DEFAULT_MAX_TOKENS, base_url=None, api_key: str | None = None,
                 check_memory: bool = True, n_threads: int | None = None, n_gpu_layers: int | None = None,
                 backend: Backend | None = None, choice: ModelChoice | None = None):
        _number("n_ctx", n_ctx, 64, 1 << 20, whole=True, hint="2048 is a good start.")
        if max_tokens is not None:
            _number("max_tokens", max_tokens, 1, n_ctx - 1, whole=True, hint="It must leave room in n_ctx for the prompt.")
        _number("temperature", temperature, 0, 2, hint="0 is deterministic, 0.7 is usual.")
        _number("top_p", top_p, 1e-9, 1, hint="0.95 is usual.")
        if seed is not None:
            _number("seed", seed, 0, 2**32 - 1, whole=True)
        if n_threads is not None:
            _number("n_threads", n_threads, 1, 1024, whole=True)
        if n_gpu_layers is not None:
            _number("n_gpu_layers", n_gpu_layers, -1, 100_000, whole=True, hint="-1 puts every layer on the GPU.")
        if system is not None and not isinstance(system, str):
            raise ChatSettingError("system", system, "a string (the system prompt) or None")
        if base_url not in (None, False) and not (isinstance(base_url, str) and base_url.strip()):
            raise ChatSettingError("base_url", base_url, "an API root such as 'http://127.0.0.1:8000/v1', or None")
        self.quant = quant
        self.n_ctx = n_ctx
        self.temperature = float(temperature)
        self.top_p = float(top_p)
        self.seed = seed
        self.max_tokens = max_tokens
        self.check_memory = check_memory
        self.n_threads = n_threads
        self.n_gpu_layers = n_gpu_layers
        self.messages: list[dict] = []
        self.exchanges = 0
        self.dropped_exchanges = 0  # how many old exchanges trimming has removed
        self.truncated = False  # the last reply was cut by max_tokens
        self.still_reasoning = False  # the last reply reached the limit before its answer began: it is empty
        self.last_reasoning = ""  # what the last reply reasoned before answering, kept out of it (chat.quirks)
        self._system = None
        self.system = system
        self._active = None  # the reply being streamed, if any
        if backend is not None:
            self.choice = choice or ModelChoice(getattr(backend, "model", None) or backend.label, "argument",
                                                f"{backend.label}: given.")
            self.base_url = getattr(backend, "base_url", None)
            self.api_key = api_key
            self.backend = backend
            self.model = self.choice.model
            return
        if isinstance(base_url, str):
            choice = ModelChoice(None if model is None else str(model), "argument",
                                 f"{model or 'The model'} on the server at {base_url}.", base_url=base_url.rstrip("/"))
        elif choice is None:
            env = {k: v for k, v in os.environ.items() if not (base_url is False and k.endswith("BASE_URL"))}
            choice = choose_model(model, n_ctx=n_ctx, env=env)
        self._use(choice, api_key)

    def _use(self, choice: ModelChoice, api_key=None) -> None:
        self.choice = choice
        self.model = choice.model
        self.base_url = choice.base_url
        self.api_key = api_key or choice.api_key or (class_server()[1] if choice.base_url else None)
        self.backend = self._make_backend()

    def _make_backend(self) -> Backend:
        if self.base_url:
            return ServerBackend(self.base_url, model=self.model, api_key=self.api_key, n_ctx=self.n_ctx)
        return LocalBackend(self.model, quant=self.quant or self.choice.quant, n_ctx=self.n_ctx,
                            n_threads=self.n_threads, seed=self.seed, check_memory=self.check_memory,
                            n_gpu_layers=self.n_gpu_layers)

    def switch_model(self, model=None, *, choice: ModelChoice | None = None) -> None:
        """Talk to another model from the next message on; the conversation stays."""
        self.close()
        self.quant = None
        self._use(choice or ModelChoice(str(model), "picker", f"{model}: chosen in the picker."))

    # --- the conversation ---------------------------------------------------

    @property
    def system(self) -> str | None:
        """The system prompt; setting it replaces the first message."""
        return self._system

    @system.setter
    def system(self, text: str | None) -> None:
        if self.messages and self.messages[0]["role"] == "system":
            del self.messages[0]
        self._system = text or None
        if self._system:
            self.messages.insert(0, {"role": "system", "content": self._system})

    def send(self, text: str, *, stream: bool = False, context: str | None = None):
        """Send a user message and get the model's reply, whole or piece by piece.

        The user message and the reply join ``messages`` (and ``exchanges`` grows)
        only once the reply is complete: a stream abandoned half-way, or a new
        ``send`` before it ends, leaves the history as it was.

        Args:
            text: the user's message.
            stream: False returns the reply as one string; True an iterator of pieces.
            context: text put before this message for this reply only (a lab's lesson
                passages); ``messages`` keeps just ``text``.

        Returns:
            str, the reply as ``messages`` keeps it, or with ``stream=True`` an iterator of str
            ("" if the model was still reasoning at the limit: ``still_reasoning``).

        Raises:
            ModelTooLargeError: the first time, if the model will not fit in memory.
            PromptTooLongError: if the system prompt and this message alone overflow ``n_ctx``.
            ContextFullError: if the context filled up before the reply ended.
            ChatServerError: with ``base_url``, if the server cannot be reached or refuses.
            ChatSettingError: if ``text`` is empty or not a string.
        """
        if not isinstance(text, str) or not text.strip():
            raise ChatSettingError("the message", text, "a non-empty string")
        pieces = self._start(text, context)
        if stream:
            return pieces
        for _ in pieces:
            pass
        return self.messages[-1]["content"]

    def reset(self) -> None:
        """Forget the conversation (the system prompt stays) and set ``exchanges`` to 0."""
        self._abandon()
        self.messages = [m for m in self.messages[:1] if m["role"] == "system"]
        self.exchanges = 0
        self.dropped_exchanges = 0

    def forget_last(self) -> None:
        """Take the last exchange back out of the conversation (a lab drops an empty reply)."""
        if len(self.messages) >= 2 and self.messages[-1]["role"] == "assistant" and self.messages[-2]["role"] == "user":
            del self.messages[-2:]
            self.exchanges = max(0, self.exchanges - 1)

    def save(self, path) -> Path:
        """Write the conversation, its settings and the model choice to a JSON file; returns its path."""
        path = Path(path)
        if not path.parent.is_dir():
            raise TranscriptFolderError(path.parent)
        data = {"model": self.model, "system": self.system, "messages": self.messages, "exchanges": self.exchanges,
                "settings": {k: getattr(self, k) for k in _SETTINGS}, "choice": self.choice.record()}
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(tmp, path)  # a crash mid-write never leaves half a transcript
        return path

    @classmethod
    def load(cls, path, **overrides) -> Chat:
        """A Chat that continues a transcript saved by ``save``; keyword arguments override its settings."""
        data = read_chat_transcript(path)
        settings = {k: v for k, v in data["settings"].items() if k in _SETTINGS}
        settings.update(overrides)
        model = settings.pop("model", data["model"])
        system = settings.pop("system", data["system"])
        try:
            chat = cls(model, system=system, **settings)
        except ChatSettingError as exc:
            raise TranscriptError(path, f"its setting {exc.name} is {exc.value!r}, not {exc.expected}") from None
        chat.messages = [dict(m) for m in data["messages"] if m["role"] != "system"]
        chat.system = system  # the (possibly overridden) system prompt leads
        chat.exchanges = data["exchanges"]
        return chat

    # --- what the model is ----------------------------------------------------

    @property
    def is_base(self) -> bool:
        """True for a base model (no chat template in its GGUF): it continues a transcript."""
        return self.backend.is_base

    @property
    def info(self):
        """The GGUF header of the local model (``GGUFInfo``); finds the file, loads nothing."""
        return self.backend.info

    @property
    def loaded(self) -> bool:
        return self.backend.loaded

    @property
    def _llm(self):  # the llama_cpp.Llama of a local model, for tests and benchmarks
        return getattr(self.backend, "_llm", None)

    def load_model(self) -> Chat:
        """Get the model ready now rather than on the first message (download, memory check, load).

        A model the automatic choice picked that turns out, once its real header is
        read, not to fit, is replaced by the next rung down (``choice`` says so).
        """
        tried = []
        while True:
            try:
                self.backend.load()
                if self.model is None:  # a server names its model once asked
                    self.model = getattr(self.backend, "model", None)
                return self
            except ModelTooLargeError:
                if self.choice.source not in ("ladder", "offline"):
                    raise
                tried.append(self.model)
                self.backend.close()
                self._use(choose_model(n_ctx=self.n_ctx, exclude=tried))

    def close(self) -> None:
        """Free the model's memory; the next message loads it again."""
        self._abandon()
        self.backend.close()

    def __repr__(self) -> str:
        where = f"server {self.base_url}" if self.base_url else ("loaded" if self.loaded else "not loaded yet")
        return f"<Chat {self.model!r}: {self.exchanges} exchanges, {where}>"

    # --- one reply ------------------------------------------------------------

    def _abandon(self) -> None:
        if self._active is not None:
            for generator in self._active:
                _close(generator)  # the reply, then the model's stream (an unstarted reply has not)
            self._active = None

    def _start(self, text: str, context: str | None):
        self._abandon()
        self.load_model()
        user = {"role": "user", "content": text}
        asked = {"role": "user", "content": f"{context.strip()}\n\n{text}" if context else text}
        quirks = self.backend.quirks
        extra = quirks.reasoning_tokens
        reserve = (self.max_tokens if self.max_tokens is not None else self.n_ctx // 4) + extra
        budget = self.n_ctx - min(reserve, self.n_ctx // 2) - _PER_PROMPT
        plain = [_plain(m) for m in self.messages]
        kept, dropped = trim_history(plain + [asked], lambda m: self.backend.count(m["content"]) + _PER_MESSAGE, budget)
        if dropped:
            removed = len(plain) + 1 - len(kept)
            head = 1 if self.messages and self.messages[0]["role"] == "system" else 0
            self.messages = self.messages[:head] + self.messages[head + removed:]
            self.dropped_exchanges += dropped
        limit = None if self.max_tokens is None else self.max_tokens + extra
        sampling = Sampling(temperature=self.temperature, top_p=self.top_p, max_tokens=limit, seed=self.seed)
        pieces = iter(self.backend.stream(quirks.prepare(kept), sampling))
        reply = self._collect(user, pieces)
        self._active = (reply, pieces)
        return reply

    def _collect(self, user: dict, pieces):
        # The one path both send() modes take; history changes only after the last piece.
        parts, shown = [], ReplyFilter()  # reasoning (a <think> block, harmony's analysis) is held back
        try:
            for piece in pieces:
                text = shown.feed(piece) if piece else ""
                if text:
                    parts.append(text)
                    yield text
            if tail := shown.close():
                parts.append(tail)
                yield tail
        finally:
            _close(pieces)
        self._active = None
        reply = "".join(parts).strip()
        self.last_reasoning, self.still_reasoning = shown.reasoning, shown.still_reasoning
        self.truncated = self.backend.finish_reason == "length" and bool(reply)
        if self.truncated:
            reply = tidy_cut(reply)
        self.messages += [user, {"role": "assistant", "content": reply}]
        self.exchanges += 1
