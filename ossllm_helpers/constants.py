"""One home for the course's facts and settings: defaults, and environment variables parsed once."""

import os
from dataclasses import dataclass
from functools import lru_cache

__all__ = [
    "PASS_PERCENT",
    "DEFAULT_MODEL",
    "TRANSCRIPT_NAME",
    "DISK_HEADROOM",
    "HUB_PROBE_TIMEOUT",
    "CLI",
    "FRONT_DOOR",
    "ENV_LAB_AUTOPLAY",
    "ENV_EXCHANGE",
    "Settings",
    "settings",
]

# The module test's pass mark, in percent of its points (lessons, README and grading read it here).
PASS_PERCENT = 80

# The model a chat or lab uses when none is named: the offline pack's instruct model, there on every machine.
DEFAULT_MODEL = "smollm2-135m-instruct"

# The lab widget's transcript, written beside the notebook; lab_complete() reads it.
TRANSCRIPT_NAME = "lab_transcript.json"

# Refuse a download that would leave less than this free (bytes): a full disk breaks more than the download.
DISK_HEADROOM = 200_000_000

# Seconds the one network probe waits for the Hub before the session counts as offline.
HUB_PROBE_TIMEOUT = 1.0

# How every message names the two front doors.
CLI = "python -m ossllm_helpers"
FRONT_DOOR = "./course"

# Environment variables the course reads (huggingface_hub's own, HF_HOME, HF_HUB_OFFLINE, HF_ENDPOINT, are its).
ENV_LAB_AUTOPLAY = "OSSLLM_LAB_AUTOPLAY"  # "1": a lab sends its starters itself (tests, headless runs)
ENV_EXCHANGE = "OSSLLM_EXCHANGE"  # nbgrader's exchange folder, if not ./exchange


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    """The course's environment variables, parsed."""

    lab_autoplay: bool
    exchange: str | None


@lru_cache(maxsize=1)
def settings() -> Settings:
    """The environment as the course reads it, parsed once per process (``settings.cache_clear()`` re-reads it)."""
    env = os.environ
    return Settings(
        lab_autoplay=_flag(env.get(ENV_LAB_AUTOPLAY)),
        exchange=env.get(ENV_EXCHANGE) or None,
    )


# The tutor (chat and lab): class mode, the per-machine model override, reply length (README, "A class server").
ENV_BASE_URL = "OSSLLM_BASE_URL"  # an OpenAI-compatible server's /v1 root: every lab and unnamed Chat uses it
ENV_API_KEY = "OSSLLM_API_KEY"  # the bearer token that server wants, if any
ENV_MODEL = "OSSLLM_MODEL"  # the model to use: a catalog key or GGUF path locally, the server's model name in class mode
DEFAULT_MAX_TOKENS = 256  # long enough for a tutor's answer; a reply cut at the limit says so
LAB_N_CTX = 4096  # a lab's context: system prompt, two lesson passages, the recent exchanges and the reply
