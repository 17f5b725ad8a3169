"""Reading a saved chat transcript back, field by field, with an error that names the field at fault."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import TranscriptError

__all__ = ["read_chat_transcript", "check_messages"]

ROLES = ("system", "user", "assistant")


def check_messages(messages) -> str | None:
    """What is wrong with a list of chat messages, or None if nothing is."""
    if not isinstance(messages, list):
        return f"'messages' is {type(messages).__name__}, not a list"
    for i, m in enumerate(messages):
        if not isinstance(m, dict):
            return f"messages[{i}] is {type(m).__name__}, not a {{role, content}} object"
        if m.get("role") not in ROLES:
            return f"messages[{i}] has role {m.get('role')!r}, not one of {', '.join(ROLES)}"
        if not isinstance(m.get("content"), str):
            return f"messages[{i}]'s content is {type(m.get('content')).__name__}, not text"
    return None


def read_chat_transcript(path) -> dict:
    """The fields of a transcript ``Chat.save`` wrote, each of the right type; TranscriptError otherwise."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TranscriptError(path, "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TranscriptError(path, f"it cannot be read ({exc})") from None
    except json.JSONDecodeError as exc:
        raise TranscriptError(path, f"it is not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise TranscriptError(path, f"it holds a {type(data).__name__}, not an object with 'messages'")
    if "messages" not in data:
        raise TranscriptError(path, "it has no 'messages'")
    problem = check_messages(data["messages"])
    if problem:
        raise TranscriptError(path, problem)
    model, system = data.get("model"), data.get("system")
    if model is not None and not isinstance(model, str):
        raise TranscriptError(path, f"'model' is {model!r}, not a model name")
    if system is not None and not isinstance(system, str):
        raise TranscriptError(path, f"'system' is {system!r}, not text")
    settings = data.get("settings")
    settings = {} if settings is None else settings
    if not isinstance(settings, dict):
        raise TranscriptError(path, f"'settings' is {type(settings).__name__}, not an object")
    replies = sum(m["role"] == "assistant" for m in data["messages"])
    exchanges = data.get("exchanges", replies)
    if isinstance(exchanges, bool) or not isinstance(exchanges, int) or exchanges < 0:
        raise TranscriptError(path, f"'exchanges' is {exchanges!r}, not a count")
    return {"model": model, "system": system, "messages": data["messages"], "settings": settings,
            "exchanges": exchanges}
