"""Whether this machine can run the grading sandbox: grading tests skip without it, except under CI, where they fail."""

import functools
import os
from pathlib import Path

import pytest

from ossllm_helpers.errors import SandboxUnavailableError
from ossllm_helpers.grading.sandbox import Sandbox

__all__ = ["require_sandbox"]


@functools.lru_cache(maxsize=1)
def _problem() -> str | None:
    try:
        Sandbox.detect(Path(__file__).resolve().parents[2], slots=4)
    except SandboxUnavailableError as exc:
        return str(exc)
    return None


def require_sandbox() -> None:
    """Skip the calling test where bubblewrap cannot run (fail under CI, which installs it: .ci/run)."""
    problem = _problem()
    if problem and os.environ.get("CI"):
        pytest.fail(problem)
    if problem:
        pytest.skip(problem)
