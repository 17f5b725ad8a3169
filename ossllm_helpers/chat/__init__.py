"""Talking to a model: ``Chat`` is a conversation over a backend, a local llama.cpp model or an OpenAI-compatible server.

``conversation`` keeps the history (save and load; ``trimming`` keeps it within
the context); ``backends`` produce the replies; ``quirks`` turns a family's
thinking off and keeps reasoning out of replies; ``choice`` decides which model
an unnamed Chat or a lab uses, and says why.
"""

from ..errors import ChatError, ChatServerError, ContextFullError, PromptTooLongError, TranscriptError
from .backends import Backend, Sampling
from .backends.local import GpuProbe, LocalBackend, base_transcript, default_threads, gpu_layers
from .backends.server import ServerBackend
from .choice import Candidate, ModelChoice, choose_model, tutor_candidates
from .conversation import Chat
from .quirks import Quirks, ReplyFilter, quirks_for
from .trimming import tidy_cut, trim_history

__all__ = [
    "Chat",
    "Backend",
    "Sampling",
    "LocalBackend",
    "ServerBackend",
    "GpuProbe",
    "gpu_layers",
    "ModelChoice",
    "Candidate",
    "choose_model",
    "tutor_candidates",
    "Quirks",
    "ReplyFilter",
    "quirks_for",
    "trim_history",
    "tidy_cut",
    "base_transcript",
    "default_threads",
    "ChatError",
    "ChatServerError",
    "ContextFullError",
    "PromptTooLongError",
    "TranscriptError",
]
