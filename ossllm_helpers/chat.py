"""A conversation with a model: on this machine through llama-cpp-python, or on an
OpenAI-compatible server (llama.cpp's server, vLLM, Ollama) through ``base_url``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from .errors import ChatServerError, ModelTooLargeError, OssllmError, PromptTooLongError

__all__ = ["Chat", "ChatServerError", "PromptTooLongError"]

DEFAULT_MODEL = "smollm2-135m-instruct"
_SETTINGS = ("quant", "n_ctx", "temperature", "top_p", "seed", "max_tokens", "base_url", "n_threads")
# Token budget, counted per message as its content's tokens plus the role markers a
# chat template wraps it in (ChatML, Llama 3 and Gemma use 4-6 tokens), plus one
# allowance for what the template adds once (SmolLM2's default system prompt is ~20).
_PER_MESSAGE = 8
_PER_PROMPT = 32
_BASE_STOP = ["User:"]  # a base model writes the next "User:" turn itself; stop there


def default_threads() -> int:
    """Half the logical CPUs, at least one: what Chat uses unless told otherwise."""
    return max(1, (os.cpu_count() or 2) // 2)


def trim_history(messages: list[dict], count, budget: int) -> tuple[list[dict], int]:
    """Drop the oldest exchanges until the messages cost at most ``budget`` tokens.

    ``count(message)`` gives one message's cost. A leading system message and the
    last message (the new one) are never dropped; a user message goes together with
    the assistant reply that follows it. Returns the kept messages and how many
    exchanges were dropped; raises PromptTooLongError if even that does not fit.
    """
    head = messages[:1] if messages and messages[0].get("role") == "system" else []
    body = list(messages[len(head):])
    costs = [count(m) for m in body]
    total = sum(count(m) for m in head) + sum(costs)
    dropped = 0
    while total > budget and len(body) > 1:
        n = 2 if len(body) > 2 and body[0]["role"] == "user" and body[1]["role"] == "assistant" else 1
        total -= sum(costs[:n])
        del body[:n], costs[:n]
        dropped += 1
    if total > budget:
        raise PromptTooLongError(
            f"The system prompt and your message need about {total} tokens, but only {budget} fit"
            " beside the room kept for the reply. Shorten the message (or the system prompt),"
            " lower max_tokens, or create the Chat with a larger n_ctx."
        )
    return head + body, dropped


def base_transcript(messages: list[dict]) -> str:
    """The plain-text prompt a base model continues: system text, then User:/Assistant: turns."""
    lines = []
    for m in messages:
        if m["role"] == "system":
            lines.append(m["content"].strip() + "\n")
        else:
            lines.append(f"{'User' if m['role'] == 'user' else 'Assistant'}: {m['content'].strip()}")
    return "\n".join(lines) + "\nAssistant:"


@contextlib.contextmanager
def _quiet_stderr():
    """Catch what llama.cpp writes while loading; yield a function that returns it.

    It writes both from C, to the process's file descriptor 2 (a notebook shows that
    in the server's terminal), and through llama-cpp-python's log callback, to
    sys.stderr (a notebook shows that in the cell), so both are redirected.
    """
    caught = io.StringIO()
    with contextlib.redirect_stderr(caught):
        try:
            saved = os.dup(2)
        except OSError:  # no stderr at all: nothing more to quieten
            yield caught.getvalue
            return
        with tempfile.TemporaryFile() as log:
            os.dup2(log.fileno(), 2)
            try:
                yield lambda: caught.getvalue() + (log.seek(0), log.read().decode(errors="replace"))[1]
            finally:
                os.dup2(saved, 2)
                os.close(saved)


class Chat:
    """A conversation with a language model, with memory, on this machine or on a server.

    Locally the model is a GGUF file run by llama-cpp-python: it is found (and
    downloaded if needed) and loaded quietly on the first message, after a check
    that it fits in memory. The GGUF's own chat template turns the messages into
    the prompt. A base model, which has no chat template, is not dressed up as an
    assistant: it continues a plain "User: ... / Assistant:" transcript, and
    ``is_base`` is true. With ``base_url`` the same object talks to any
    OpenAI-compatible server instead (llama.cpp's server, vLLM, Ollama), so a
    class can share one machine; nothing is loaded locally then.

    The conversation is ``messages``, a list of OpenAI-style ``{"role", "content"}``
    dicts, system prompt first. Before each reply, the oldest exchanges are
    dropped if the prompt would not leave room for ``max_tokens`` in ``n_ctx``;
    the system prompt is always kept. ``exchanges`` counts completed replies.

    Args:
        model: a course catalog key (``"smollm2-135m-instruct"``, ``"gemma-3-270m"``, ...;
            ``ossllm models`` lists them) or the path of a GGUF file. With ``base_url``,
            the model name the server knows (a single-model llama.cpp server takes any).
        system: the system prompt (the assistant's persona and facts), or None.
        quant: for a catalog key, which quantisation to fetch (e.g. ``"Q4_K_M"``);
            None takes the catalog's default.
        n_ctx: the context window in tokens: prompt plus reply must fit in it.
        temperature: sampling temperature; 0 always picks the likeliest token.
        top_p: nucleus sampling: sample from the smallest set of tokens whose
            probabilities add up to this.
        seed: makes replies reproducible: the same seed, settings and history give
            the same reply, in this Chat or a new one (with ``temperature=0`` too).
            Locally each reply is then computed from the whole prompt, without
            reusing the previous reply's cache, so long chats answer a little slower.
        max_tokens: the longest reply, in tokens; None lets a reply run until the
            context is full.
        base_url: an OpenAI-compatible API root, such as ``"http://10.0.0.5:8000/v1"``.
        api_key: sent as a bearer token to a server that wants one.
        check_memory: refuse to load a model the estimate says will not fit.
        n_threads: CPU threads llama.cpp uses, for the prompt and for generation;
            None means half the logical CPUs (at least one) for both. llama-cpp-python's
            own default puts every CPU on the prompt, and with a notebook and a browser
            on the same cores that was several times slower in our benchmarks.

    Raises:
        ModelTooLargeError: on the first message, if the model will not fit in
            memory at ``n_ctx`` (nothing is loaded).
        NotGGUFError: if the model file is missing, not GGUF, or damaged.
        UnknownModelError, OfflineNotCachedError: if a catalog key is unknown, or
            its file is not cached and there is no network (see ``ossllm fetch``).
        ValueError: for settings out of range.

    Example:
        >>> chat = Chat(system="You are a concise tutor.", temperature=0, seed=0)
        >>> chat.send("What is a GGUF file?")
        >>> for piece in chat.send("Say more.", stream=True):
        ...     print(piece, end="")
    """

    def __init__(
        self,
        model=DEFAULT_MODEL,
        *,
        system: str | None = None,
        quant: str | None = None,
        n_ctx: int = 2048,
        temperature: float = 0.7,
        top_p: float = 0.95,
        seed: int | None = None,
        max_tokens: int | None = 256,
        base_url: str | None = None,
        api_key: str | None = None,
        check_memory: bool = True,
        n_threads: int | None = None,
    ):
        if not isinstance(n_ctx, int) or n_ctx < 64:
            raise ValueError(f"n_ctx must be a whole number of tokens, at least 64 (got {n_ctx!r}); 2048 is a good start")
        if max_tokens is not None and (not isinstance(max_tokens, int) or not 1 <= max_tokens < n_ctx):
            raise ValueError(f"max_tokens must be between 1 and n_ctx - 1 = {n_ctx - 1} (got {max_tokens!r})")
        if not 0 <= temperature <= 5:
            raise ValueError(f"temperature must be between 0 and 5 (got {temperature!r}); 0 is deterministic")
        if not 0 < top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1] (got {top_p!r})")
        if seed is not None and (not isinstance(seed, int) or seed < 0):
            raise ValueError(f"seed must be a non-negative whole number or None (got {seed!r})")
        if n_threads is not None and (not isinstance(n_threads, int) or n_threads < 1):
            raise ValueError(f"n_threads must be a positive whole number or None (got {n_threads!r})")
        if system is not None and not isinstance(system, str):
            raise ValueError("system must be a string (the system prompt) or None")
        self.model = str(model) if model is not None else DEFAULT_MODEL
        self.quant = quant
        self.n_ctx = n_ctx
        self.temperature = float(temperature)
        self.top_p = float(top_p)
        self.seed = seed
        self.max_tokens = max_tokens
        self.base_url = base_url.rstrip("/") if base_url else None
        self.api_key = api_key
        self.check_memory = check_memory
        self.n_threads = n_threads
        self.timeout = 120.0  # seconds a server may take to send the next piece
        self.messages: list[dict] = []
        self.exchanges = 0
        self.dropped_exchanges = 0  # how many old exchanges trimming has removed
        self._system = None
        self.system = system
        self._path: Path | None = None
        self._info = None
        self._llm = None
        self._active = None  # the reply being streamed, if any
        self._token_counts: dict[str, int] = {}

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

    def send(self, text: str, *, stream: bool = False):
        """Send a user message and get the model's reply, whole or piece by piece.

        Streaming and non-streaming share one path: the reply is always generated
        as a stream, and ``stream=False`` joins it. The user message and the reply
        join ``messages`` (and ``exchanges`` grows) only once the reply is complete:
        a stream abandoned half-way, or a new ``send`` before it ends, leaves the
        history as it was.

        Args:
            text: the user's message.
            stream: False returns the reply as one string; True returns an iterator
                of text pieces as the model produces them.

        Returns:
            str, the reply as ``messages`` keeps it (without surrounding white
            space), or, with ``stream=True``, an iterator of str pieces.

        Raises:
            ModelTooLargeError: the first time, if the model will not fit in memory.
            PromptTooLongError: if the system prompt and this message alone overflow ``n_ctx``.
            ChatServerError: with ``base_url``, if the server cannot be reached or refuses.
            ValueError: if ``text`` is empty or not a string.
        """
        if not isinstance(text, str) or not text.strip():
            raise ValueError("send() needs a message: a non-empty string")
        pieces = self._start(text)
        return pieces if stream else "".join(pieces).strip()

    def reset(self) -> None:
        """Forget the conversation (the system prompt stays) and set ``exchanges`` to 0."""
        self._abandon()
        self.messages = [m for m in self.messages[:1] if m["role"] == "system"]
        self.exchanges = 0
        self.dropped_exchanges = 0

    def save(self, path) -> Path:
        """Write the conversation and its settings to a JSON file; returns its path."""
        data = {
            "model": self.model,
            "system": self.system,
            "messages": self.messages,
            "exchanges": self.exchanges,
            "settings": {k: getattr(self, k) for k in _SETTINGS},
        }
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(tmp, path)  # a crash mid-write never leaves half a transcript
        return path

    @classmethod
    def load(cls, path, **overrides) -> Chat:
        """A Chat that continues a transcript saved by ``save``; keyword arguments override its settings."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            messages = data["messages"]
            ok = isinstance(messages, list) and all(
                isinstance(m, dict) and m.get("role") in ("system", "user", "assistant")
                and isinstance(m.get("content"), str) for m in messages)
            if not ok:
                raise ValueError("its messages are not a list of {role, content}")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise OssllmError(
                f"{path} is not a chat transcript ({exc}). Save one with chat.save(path),"
                " or start a new Chat."
            ) from None
        settings = {k: v for k, v in (data.get("settings") or {}).items() if k in _SETTINGS}
        settings.update(overrides)
        model = settings.pop("model", data.get("model") or DEFAULT_MODEL)
        system = settings.pop("system", data.get("system"))
        chat = cls(model, system=system, **settings)
        chat.messages = [dict(m) for m in messages if m["role"] != "system"]
        chat.system = system  # the (possibly overridden) system prompt leads
        chat.exchanges = int(data.get("exchanges") or sum(m["role"] == "assistant" for m in messages))
        return chat

    # --- what the model is ----------------------------------------------------

    @property
    def is_base(self) -> bool:
        """True for a base model (no chat template in its GGUF): it continues a transcript."""
        if self.base_url:
            return False  # the server applies its own template
        return not self.info.has_chat_template

    @property
    def info(self):
        """The GGUF header of the local model (``GGUFInfo``); finds the file, loads nothing."""
        if self._info is None:
            self._info = _header(self._resolve())
        return self._info

    @property
    def loaded(self) -> bool:
        return self._llm is not None

    def load_model(self) -> Chat:
        """Load the local model now rather than on the first message (no-op with ``base_url``)."""
        if self.base_url or self._llm is not None:
            return self
        from .gguf import estimate_memory

        info = self.info
        # llama-cpp-python keeps a full-size cache on sliding-window layers (its
        # prefix reuse needs it), so the estimate does too.
        estimate = estimate_memory(info, n_ctx=self.n_ctx, swa_full=True)
        if self.check_memory and not estimate.fits:
            raise ModelTooLargeError(
                f"Not loading {self.model}: {estimate}. To run it, choose a smaller quantisation"
                " (quant='Q4_K_M' or 'Q3_K_M'), a smaller context (n_ctx=1024), or a smaller model"
                " (`ossllm models` lists them); close other programs; or pass check_memory=False"
                " to try anyway."
            )
        import llama_cpp

        kwargs = dict(model_path=str(self._path), n_ctx=self.n_ctx, verbose=False)
        if self.seed is not None:
            kwargs["seed"] = self.seed
        threads = self.n_threads or default_threads()
        kwargs.update(n_threads=threads, n_threads_batch=threads)
        with _quiet_stderr() as log:  # llama.cpp prints its loading report to stderr
            try:
                self._llm = llama_cpp.Llama(**kwargs)
            except Exception as exc:
                said = " ".join(log().strip().splitlines()[-3:])
                raise OssllmError(
                    f"llama.cpp could not load {self._path}: {exc}. {said} A newer model"
                    " architecture may need a newer llama-cpp-python (`pip install -U llama-cpp-python`);"
                    " otherwise download the file again."
                ) from None
        return self

    def close(self) -> None:
        """Free the model's memory; the next message loads it again."""
        self._abandon()
        if self._llm is not None:
            self._llm.close()
            self._llm = None

    def __repr__(self) -> str:
        where = f"server {self.base_url}" if self.base_url else ("loaded" if self._llm else "not loaded yet")
        return f"<Chat {self.model!r}: {self.exchanges} exchanges, {where}>"

    # --- one reply ------------------------------------------------------------

    def _resolve(self) -> Path:
        if self._path is None:
            candidate = Path(self.model).expanduser()
            if candidate.exists() or self.model.lower().endswith(".gguf"):
                self._path = candidate  # inspect() says what is wrong with a bad path
            else:
                from .hub import fetch

                self._path = Path(fetch(self.model, quant=self.quant))
        return self._path

    def _abandon(self) -> None:
        if self._active is not None:
            for generator in self._active:
                generator.close()  # the reply, then the model's stream (an unstarted reply has not)
            self._active = None

    def _start(self, text: str):
        self._abandon()
        user = {"role": "user", "content": text}
        if self.base_url:
            count = _approx_tokens
        else:
            self.load_model()
            count = self._count
        reserve = self.max_tokens if self.max_tokens is not None else self.n_ctx // 4
        budget = self.n_ctx - min(reserve, self.n_ctx // 2) - _PER_PROMPT
        kept, dropped = trim_history(self.messages + [user], lambda m: count(m["content"]) + _PER_MESSAGE, budget)
        if dropped:
            self.messages = kept[:-1]
            self.dropped_exchanges += dropped
        pieces = self._server_pieces(kept) if self.base_url else self._local_pieces(kept)
        reply = self._collect(user, pieces)
        self._active = (reply, pieces)
        return reply

    def _collect(self, user: dict, pieces):
        # The one path both send() modes take; history changes only after the last piece.
        parts = []
        try:
            for piece in pieces:
                if piece:
                    parts.append(piece)
                    yield piece
        finally:
            pieces.close()
        self._active = None
        self.messages += [user, {"role": "assistant", "content": "".join(parts).strip()}]
        self.exchanges += 1

    def _sampling(self) -> dict:
        kw = dict(temperature=self.temperature, top_p=self.top_p, max_tokens=self.max_tokens, stream=True)
        if self.seed is not None:
            kw["seed"] = self.seed  # reseeded per reply: same history, same reply
        return kw

    def _local_pieces(self, messages: list[dict]):
        if self.seed is not None:
            # Reusing the cached prefix of the last prompt is faster, but a reply then
            # depends on how the history was computed (token by token while generating,
            # or in one batch): the numbers differ in the last bits and a greedy choice
            # can flip. With a seed, every reply is computed from the whole prompt.
            self._llm.reset()
        if self.is_base:
            stream = self._llm.create_completion(base_transcript(messages), stop=_BASE_STOP, **self._sampling())
            leading = True
            for chunk in stream:
                text = chunk["choices"][0]["text"]
                if leading:  # the reply follows "Assistant:" with a space
                    text = text.lstrip()
                    leading = not text
                yield text
        else:
            for chunk in self._llm.create_chat_completion(messages, **self._sampling()):
                yield chunk["choices"][0]["delta"].get("content")

    def _count(self, text: str) -> int:
        n = self._token_counts.get(text)
        if n is None:
            n = len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))
            if len(self._token_counts) > 4096:
                self._token_counts.clear()
            self._token_counts[text] = n
        return n

    # --- the server -------------------------------------------------------------

    def _server_pieces(self, messages: list[dict]):
        body = {"model": self.model, "messages": messages, **self._sampling()}
        if body["max_tokens"] is None:
            del body["max_tokens"]
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        url = f"{self.base_url}/chat/completions"
        request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers)
        try:  # opened here, not on the first piece, so send() itself reports a dead server
            response = urllib.request.urlopen(request, timeout=self.timeout)
        except urllib.error.HTTPError as exc:
            raise _http_error(url, exc) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ChatServerError(
                f"Cannot reach the chat server at {self.base_url} ({reason}). Check that the server is"
                " running and the address is right: an OpenAI-compatible root usually ends in /v1,"
                " e.g. http://127.0.0.1:8000/v1."
            ) from None
        return _sse_pieces(response, url)


_HEADERS: dict[tuple, object] = {}


def _header(path: Path):
    # Lab notebooks make a new Chat for the same file again and again; its header
    # (~20-100 ms to read: tens of thousands of token strings) is read once.
    from .gguf import inspect

    try:
        st = path.stat()
        key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    except OSError:
        return inspect(path)  # says what is wrong with the path
    info = _HEADERS.get(key)
    if info is None:
        info = inspect(path)
        if len(_HEADERS) >= 16:
            _HEADERS.clear()
        _HEADERS[key] = info
    return info


def _approx_tokens(text: str) -> int:
    # No tokenizer for a remote model: 3 bytes a token over-counts English (about 4),
    # so trimming errs on the safe side.
    return len(text.encode("utf-8")) // 3 + 1


def _http_error(url: str, exc: urllib.error.HTTPError) -> ChatServerError:
    try:
        detail = exc.read().decode(errors="replace")[:300]
    except OSError:
        detail = ""
    hint = {
        401: "The server wants an API key: pass api_key=... to Chat.",
        403: "The server refused this API key.",
        404: "No chat endpoint there: base_url should be the API root, usually ending in /v1.",
    }.get(exc.code, "Read the server's message above; check the model name and settings.")
    return ChatServerError(f"The chat server at {url} answered {exc.code} {exc.reason}: {detail} {hint}")


def _sse_pieces(response, url: str):
    """Text pieces from an OpenAI-style server-sent-event stream of chat completion chunks."""
    with response:
        for raw in response:
            line = raw.decode("utf-8", errors="replace").strip()
            if not line.startswith("data:"):
                continue  # blank separators, comments, event names
            data = line[5:].strip()
            if data == "[DONE]":
                return
            try:
                chunk = json.loads(data)
            except json.JSONDecodeError:
                raise ChatServerError(f"The chat server at {url} sent something that is not JSON: {data[:200]}") from None
            if chunk.get("error"):
                raise ChatServerError(f"The chat server at {url} reported an error: {chunk['error']}")
            for choice in chunk.get("choices") or []:
                yield (choice.get("delta") or {}).get("content")
