"""Keeping a conversation within its context: dropping the oldest exchanges, and ending a cut reply cleanly."""

from __future__ import annotations

import re

from ..errors import PromptTooLongError

__all__ = ["trim_history", "tidy_cut"]

_SENTENCE_END = re.compile(r"[.!?:;][)\"'\]]*(?=\s|$)")


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


def tidy_cut(text: str) -> str:
    """A reply cut by the token limit, ended at its last whole sentence (or word) and marked with '…'."""
    text = text.rstrip()
    ends = [m.end() for m in _SENTENCE_END.finditer(text)]
    if ends and ends[-1] >= len(text) // 2:
        return text[: ends[-1]] + " …"
    cut = text.rsplit(None, 1)[0] if len(text.split()) > 1 else text
    return cut.rstrip(" ,;:-") + " …"
