"""The server backend: an OpenAI-compatible chat server (llama.cpp's server, vLLM, Ollama) through the `openai` client."""

from __future__ import annotations

from ...errors import ChatServerError, ContextFullError
from ..quirks import Quirks, quirks_for
from . import Backend, Sampling

__all__ = ["ServerBackend"]

_NO_KEY = "no-key"  # the client insists on a key; a server without --api-key ignores it


class ServerBackend(Backend):
    """Replies from a server at ``base_url`` (an API root, usually ending in /v1).

    ``model`` is the name the server knows; None asks the server for its models
    and takes the first (a llama.cpp server serves one). The client is made on
    first use and never reads ``OPENAI_API_KEY``: a course key goes only where it is sent.
    """

    kind = "server"

    def __init__(self, base_url: str, *, model: str | None = None, api_key: str | None = None,
                 n_ctx: int = 0, timeout: float = 120.0, max_retries: int = 1):
        self.n_ctx = n_ctx  # as the Chat counts it; only for messages
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key = api_key
        self.timeout = timeout
        self.max_retries = max_retries
        self._client = None
        self.finish_reason = None

    @property
    def label(self) -> str:
        return self.model or "the server's model"

    @property
    def quirks(self) -> Quirks:
        return quirks_for(name=self.model)  # a server names its model; its file is not at hand

    @property
    def client(self):
        if self._client is None:
            import openai  # deferred: the client and its dependencies take a moment to import

            self._client = openai.OpenAI(base_url=self.base_url, api_key=self.api_key or _NO_KEY,
                                         timeout=self.timeout, max_retries=self.max_retries)
        return self._client

    def load(self) -> None:
        if self.model is None:
            try:
                models = [m.id for m in self.client.models.list()]
            except Exception as exc:
                raise self._error(exc) from None
            if not models:
                raise ChatServerError(f"The chat server at {self.base_url} lists no models: start it with a model loaded.")
            self.model = models[0]

    @property
    def loaded(self) -> bool:
        return False  # nothing is loaded on this side

    def stream(self, messages: list[dict], sampling: Sampling):
        self.load()
        self.finish_reason = None
        kw = dict(model=self.model, messages=messages, stream=True, temperature=sampling["temperature"],
                  top_p=sampling["top_p"])
        if sampling.get("max_tokens") is not None:
            kw["max_tokens"] = sampling["max_tokens"]
        if sampling.get("seed") is not None:
            kw["seed"] = sampling["seed"]
        try:  # opened here, not on the first piece, so send() itself reports a dead server
            response = self.client.chat.completions.create(**kw)
        except Exception as exc:
            raise self._error(exc) from None
        return self._pieces(response)

    def _pieces(self, response):
        try:
            with response:
                for chunk in response:
                    for choice in chunk.choices or []:
                        self.finish_reason = choice.finish_reason or self.finish_reason
                        yield choice.delta.content if choice.delta else None
        except Exception as exc:
            raise self._error(exc) from None

    def _error(self, exc: BaseException) -> Exception:
        import openai

        url = self.base_url
        if isinstance(exc, ChatServerError):
            return exc
        if isinstance(exc, openai.APITimeoutError):
            return ChatServerError(f"The chat server at {url} did not answer within {self.timeout:.0f} s. It may be"
                                   " overloaded: try again in a moment, or ask whoever runs it.")
        if isinstance(exc, openai.APIConnectionError):
            return ChatServerError(
                f"Cannot reach the chat server at {url} ({exc.__cause__ or exc}). Check that the server is"
                " running and the address is right: an OpenAI-compatible root usually ends in /v1,"
                " e.g. http://127.0.0.1:8000/v1."
            )
        if isinstance(exc, openai.APIStatusError):
            detail = str(getattr(exc, "message", "") or exc)[:300]
            if exc.status_code == 400 and "context" in detail.lower():
                return ContextFullError(self.n_ctx, f"the server said: {detail}")
            hint = {
                401: "The server wants an API key: set OSSLLM_API_KEY, or pass api_key=... to Chat.",
                403: "The server refused this API key.",
                404: f"No such model or endpoint there (model {self.model!r}): base_url should be the API root,"
                     " usually ending in /v1, and the model a name the server lists.",
                429: "The server is busy: wait a moment and send again.",
            }.get(exc.status_code, "Read the server's message; check the model name and settings.")
            return ChatServerError(f"The chat server at {url} answered {exc.status_code}: {detail} {hint}")
        if isinstance(exc, openai.OpenAIError):
            return ChatServerError(f"The chat server at {url} sent something unexpected: {exc}")
        return exc if isinstance(exc, Exception) else ChatServerError(str(exc))
