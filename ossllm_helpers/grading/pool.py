"""Many runs at once: each worker starts its next kernel while the current one runs, and runs plans ahead of need.

``Runner`` runs plans as soon as they are submitted ("speculatively", while nbgrader is
still loading or saving the previous student); ``Runner.result`` hands over the run whose
plan has the same fingerprint as the one nbgrader's own sanitising produced, or runs that
plan at once, ahead of the rest.
"""

import collections
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass, field

import zmq

from .runner import KernelRun, RunResult
from .sandbox import Limits, Sandbox

__all__ = ["Runner"]


@dataclass
class _Job:
    key: tuple
    plan: object
    stage: str
    done: threading.Event = field(default_factory=threading.Event)
    result: RunResult | None = None
    cancelled: bool = False


class Runner:
    """Runs plans on ``jobs`` workers, each starting its next kernel while the current one runs."""

    def __init__(self, sandbox: Sandbox, limits: Limits, jobs: int = 2):
        self.sandbox, self.limits = sandbox, limits
        self.tmp = tempfile.mkdtemp(prefix="ossllm-grading-")
        os.chmod(self.tmp, 0o700)  # kernels see only their own folder, bound into their sandbox
        self.context = zmq.Context()
        # a kernel cannot make the grader hold more than this per message, or queue more than 32 of them
        self.context.setsockopt(zmq.MAXMSGSIZE, max(16 << 20, 4 * (limits.output_kb << 10)))
        self.context.setsockopt(zmq.RCVHWM, 32)
        self.context.setsockopt(zmq.LINGER, 0)
        self._queue = collections.deque()
        self._cond = threading.Condition()
        self._jobs = {}
        self._closing = False
        self.stats = collections.Counter()  # how often a forecast run was used, or a plan ran (again) on demand
        self.kernel_cpu = 0.0  # CPU seconds of every kernel's sandbox, added up
        self._active = set()  # kernels started and not yet closed, stopped at once if the run is cut short
        self._workers = [threading.Thread(target=self._work, daemon=True, name=f"grading-{i}")
                         for i in range(max(1, jobs))]
        for w in self._workers:
            w.start()

    def submit(self, key, plan, stage: str) -> None:
        """Run ``plan`` when a worker is free (in order of submission)."""
        job = _Job(key, plan, stage)
        with self._cond:
            self._jobs[key] = job
            self._queue.append(job)
            self._cond.notify()

    def result(self, key, plan, stage: str) -> RunResult:
        """The run of ``plan``: the speculative one if it ran the same plan, else a run made now."""
        with self._cond:
            job = self._jobs.pop(key, None)
            if job is None or job.plan.fingerprint != plan.fingerprint:
                self.stats["run again" if job else "run now"] += 1
                if job is not None:
                    job.cancelled = True
                job = _Job(key, plan, stage)
                self._queue.appendleft(job)
                self._cond.notify()
            else:
                self.stats["forecast used"] += 1
        job.done.wait()
        return job.result

    def _take(self, block: bool):
        with self._cond:
            while True:
                while self._queue:
                    job = self._queue.popleft()
                    if not job.cancelled:
                        return job
                if self._closing or not block:
                    return None
                self._cond.wait()

    def _start(self, job):
        try:
            kernel = KernelRun(self.sandbox, self.limits, job.stage, self.tmp, self.context)
        except Exception as exc:  # noqa: BLE001  (reported as the machine's problem, never a hang)
            return exc
        with self._cond:
            self._active.add(kernel)
        return kernel

    def _close(self, kernel) -> None:
        kernel.close()
        with self._cond:
            self._active.discard(kernel)

    def _run(self, job, kernel) -> RunResult:
        for attempt in range(2):
            if isinstance(kernel, Exception):
                problem = f"{type(kernel).__name__}: {kernel}"
            elif kernel.wait_ready():
                try:
                    return kernel.execute(job.plan)
                finally:
                    self._close(kernel)
            else:
                problem = f"the kernel did not start: {kernel.log_tail()}"
                self._close(kernel)
            if attempt == 0:
                kernel = self._start(job)
        return RunResult(infrastructure=problem)

    def _work(self):
        ahead = None
        while True:
            job, kernel = ahead if ahead else (self._take(True), None)
            ahead = None
            if job is None:
                return
            if kernel is None:
                kernel = self._start(job)
            following = self._take(False)
            if following is not None:
                ahead = (following, self._start(following))  # it boots while this one runs
            if job.cancelled:
                if not isinstance(kernel, Exception):
                    self._close(kernel)
                job.result = RunResult(infrastructure="cancelled")
            else:
                try:
                    job.result = self._run(job, kernel)
                except Exception as exc:  # noqa: BLE001
                    job.result = RunResult(infrastructure=f"{type(exc).__name__}: {exc}")
                with self._cond:
                    self.kernel_cpu += job.result.cpu
            job.done.set()

    def close(self) -> None:
        with self._cond:
            self._closing = True
            for job in self._queue:
                job.cancelled = True
            for kernel in self._active:  # a run cut short (an error, Ctrl-C) stops its kernels now
                kernel.kill("the grading run stopped")
            self._cond.notify_all()
        for w in self._workers:
            w.join(timeout=30)
        self.context.destroy(linger=0)
        shutil.rmtree(self.tmp, ignore_errors=True)
