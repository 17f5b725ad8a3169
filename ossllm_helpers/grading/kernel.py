"""Inside the sandbox, before any student code: set the limits, copy the submission in, start the kernel.

    python -I -m ossllm_helpers.grading.kernel CONNECTION_FILE   (settings in $OSSLLM_SANDBOX)

Limits set here hold for the kernel and everything it starts; the student's code runs
only after they are in place and cannot raise them again.
"""

import json
import os
import resource
import shutil
import sys

from .harness import capture
from .plan import CAPTURE

__all__ = ["set_limits", "main"]

_MB = 1 << 20


def set_limits(limits: dict) -> None:
    """Resource limits for this process and its children, from the grader's Limits (as a dict)."""
    def cap(which, soft, hard=None):
        hard = soft if hard is None else hard
        old_soft, old_hard = resource.getrlimit(which)
        if old_hard != resource.RLIM_INFINITY:
            hard = min(hard, old_hard)
        resource.setrlimit(which, (min(soft, hard), hard))

    cap(resource.RLIMIT_CORE, 0)
    cap(resource.RLIMIT_DATA, limits["memory_mb"] * _MB)  # heap and private mappings: real allocations
    cap(resource.RLIMIT_FSIZE, limits["file_mb"] * _MB)
    cap(resource.RLIMIT_NOFILE, 256)
    # a process that outruns the submission's CPU time gets SIGXCPU, then SIGKILL a few seconds later
    cap(resource.RLIMIT_CPU, int(limits["cpu_seconds"]), int(limits["cpu_seconds"]) + 5)
    if limits.get("processes"):
        cap(resource.RLIMIT_NPROC, limits["processes"])


def _copy_in(stage: str, work: str) -> None:
    os.makedirs(work, exist_ok=True)
    if stage and os.path.isdir(stage):
        shutil.copytree(stage, work, dirs_exist_ok=True, symlinks=True)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    spec = json.loads(os.environ.pop("OSSLLM_SANDBOX"))
    if spec.get("prefix") and os.path.realpath(sys.prefix) != spec["prefix"]:
        print(f"sandbox: this Python is {sys.prefix}, not the grader's {spec['prefix']}", file=sys.stderr)
        return 3  # a library path the sandbox cannot read makes the loader fall back to another Python
    set_limits(spec["limits"])
    os.umask(0o077)
    _copy_in(spec.get("stage"), spec["work"])
    os.chdir(spec["work"])
    # No debugger in a grading kernel: ipykernel imports debugpy for it, a third of the kernel's start-up time.
    # The student's own `import debugpy` still works: the block is lifted once the kernel is set up.
    sys.modules["debugpy"] = None
    from ipykernel.kernelapp import IPKernelApp  # the kernel's own start: after the limits, like everything else

    app = IPKernelApp.instance()
    terminal, sys.__stdout__ = sys.__stdout__, open(os.devnull, "w")  # its banner for a terminal: not for a log
    try:
        app.initialize(["-f", argv[0], "--HistoryManager.hist_file=:memory:"])
    finally:
        sys.__stdout__ = terminal
        del sys.modules["debugpy"]
    app.shell.user_ns[CAPTURE] = capture
    app.start()
    return 0


if __name__ == "__main__":
    sys.exit(main())
