"""Where a Chat's replies come from: one streaming method over a local model or a server.

A backend turns a list of ``{"role", "content"}`` messages into a stream of text
pieces. ``Chat`` keeps the conversation; a backend keeps nothing between
replies except its loaded model or its client.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..quirks import Quirks, quirks_for

__all__ = ["Backend", "Sampling"]


class Sampling(dict):
    """The settings of one reply: temperature, top_p, max_tokens (None: until the context is full), seed."""


class Backend:
    """What a Chat needs from where its replies come from.

    ``stream`` returns an iterator of text pieces and, once it is exhausted,
    ``finish_reason`` says why the reply ended: ``"stop"`` (the model finished)
    or ``"length"`` (cut by ``max_tokens``). Errors are the course's typed
    errors. A fake backend in the tests implements the same four members.
    """

    kind = "abstract"
    finish_reason: str | None = None

    @property
    def label(self) -> str:
        """The model's name as a person reads it (a file name, a catalog key, a server's model id)."""
        raise NotImplementedError

    @property
    def is_base(self) -> bool:
        """True for a base model (no chat template): it continues a plain transcript."""
        return False

    @property
    def quirks(self) -> Quirks:
        """What the model's family needs around a chat (``chat.quirks``): by its GGUF ``architecture``, if known."""
        return quirks_for(getattr(self, "architecture", None))

    @property
    def loaded(self) -> bool:
        return False

    def load(self) -> None:
        """Get ready to answer (download, load); a no-op where there is nothing to load."""

    def count(self, text: str) -> int:
        """Tokens ``text`` costs in this model's prompt (an upper estimate where no tokenizer is at hand)."""
        return len(text.encode("utf-8")) // 3 + 1

    def stream(self, messages: list[dict], sampling: Sampling) -> Iterator[str]:
        raise NotImplementedError

    def close(self) -> None:
        """Free what the backend holds; the next reply loads it again."""
