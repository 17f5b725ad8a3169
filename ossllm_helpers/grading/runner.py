"""One plan run in one sandboxed kernel, as nbclient would run it for nbgrader, within limits.

The grader talks to the kernel over zmq's ipc transport (socket files in a folder the
sandbox shares) and trusts nothing it sends: every message is size-capped by zmq itself,
outputs beyond the run's allowance are counted and dropped, and a run that floods, outlives
its time, or outgrows its memory or CPU time is stopped. A stopped run ends that student's
notebook; the next one starts in a fresh sandbox.
"""

import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field, replace
from queue import Empty

import psutil
import zmq
from jupyter_client import BlockingKernelClient
from zmq.utils.monitor import recv_monitor_message

from .plan import CAPTURE
from .sandbox import Limits, Sandbox

__all__ = ["CellRun", "RunResult", "KernelRun"]

READY_SECONDS = 60  # a kernel that is not up by then is the machine's problem, not the student's
GRACE_SECONDS = 3  # after an interrupt, before the sandbox is killed
IOPUB_GRACE = 1.0  # after the reply, how long the cell's last outputs may take (nbclient waits likewise)
WATCH_EVERY = 0.25
FLOOD_FACTOR = 50  # output dropped beyond this many times the allowance: the run is stopped


@dataclass
class CellRun:
    outputs: list
    execution_count: int | None
    status: str  # "ok", "error" or "timeout"
    captures: dict = field(default_factory=dict)  # data test's cell index: its answers, as the kernel showed them
    seconds: float = 0.0


@dataclass
class RunResult:
    cells: dict = field(default_factory=dict)  # step index: CellRun
    events: list = field(default_factory=list)  # (kind, detail) for the report
    stopped: str = ""  # why the cells after some point never ran
    infrastructure: str = ""  # the sandbox never started (not the student's doing)
    seconds: float = 0.0  # from the kernel's start to its last cell
    cpu: float = 0.0  # CPU seconds of the sandbox's processes


def _pss(proc) -> int:
    """A process's proportional share of memory (pages shared after fork() counted once in all), else its RSS."""
    try:
        return proc.memory_full_info().pss
    except (AttributeError, psutil.AccessDenied):
        return proc.memory_info().rss


class KernelRun:
    """One sandboxed kernel, started at once, running one plan, then gone."""

    def __init__(self, sandbox: Sandbox, limits: Limits, stage: str, tmp: str, context: zmq.Context):
        self.sandbox, self.limits, self.started = sandbox, limits, time.monotonic()
        self.user = sandbox.acquire()
        try:
            self._start(stage, tmp, context)
        except BaseException:
            sandbox.release(self.user)  # never lose a sandbox user to a failed start
            raise
        self.stored = self.dropped = 0
        self.lost = []  # cells whose output channel broke (a message over zmq's size limit)
        self._monitor = self._monitored = None  # watches the output channel for dropped connections
        self.killed = ""
        self.cpu = 0.0
        self._last_watch = 0.0

    def _start(self, stage: str, tmp: str, context: zmq.Context) -> None:
        sandbox, limits = self.sandbox, self.limits
        self.dir = tempfile.mkdtemp(prefix="k", dir=tmp)
        if sandbox.mode == "root":
            os.chown(self.dir, *self.user)  # the kernel, as the sandbox user, makes its sockets here
        inside = sandbox.kernel_dir(self.dir)
        key = secrets.token_hex(16)
        info = {"transport": "ipc", "ip": f"{inside}/k", "shell_port": 1, "iopub_port": 2, "stdin_port": 3,
                "control_port": 4, "hb_port": 5, "key": key, "signature_scheme": "hmac-sha256", "kernel_name": "python3"}
        conn = os.path.join(self.dir, "kernel.json")
        with open(conn, "w") as fh:
            json.dump(info, fh)
        os.chmod(conn, 0o644)
        work = os.path.join(self.dir, "work")
        argv, env, fds = sandbox.command(user=self.user, connection_file=f"{inside}/kernel.json", conn_dir=self.dir,
                                         stage=stage, work=work, limits=limits)
        self.log_path = os.path.join(tmp, os.path.basename(self.dir) + ".log")
        log = open(self.log_path, "wb")
        try:
            self.proc = subprocess.Popen(argv, env=env, pass_fds=fds, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         cwd=self.dir, start_new_session=True)
        finally:
            log.close()
            for fd in fds:
                os.close(fd)
        self.client = BlockingKernelClient(context=context)
        self.client.load_connection_info({**info, "ip": os.path.join(self.dir, "k")})
        self.client.start_channels(shell=True, iopub=True, stdin=False, hb=False, control=True)

    # -- life and death ----------------------------------------------------------

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, chars=600) -> str:
        try:
            with open(self.log_path, "rb") as fh:
                fh.seek(max(0, os.path.getsize(self.log_path) - chars))
                return fh.read().decode("utf-8", "replace").strip()
        except OSError:
            return ""

    def kill(self, reason: str) -> None:
        self.killed = self.killed or reason
        try:
            os.killpg(self.proc.pid, 9)  # bubblewrap and its PID namespace (everything in it) go together
        except (ProcessLookupError, PermissionError):
            pass

    def close(self) -> None:
        self.kill("closed")
        self._unmonitor()
        self.client.stop_channels()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self.sandbox.release(self.user)
        shutil.rmtree(self.dir, ignore_errors=True)

    def _usage(self) -> tuple[int, float]:
        """(bytes of memory, CPU seconds) of every process of the sandbox."""
        rss = cpu = 0
        try:
            procs = [psutil.Process(self.proc.pid)]
            procs += procs[0].children(recursive=True)
        except psutil.Error:
            return 0, 0.0
        for p in procs:
            try:
                t = p.cpu_times()
                cpu += t.user + t.system + t.children_user + t.children_system
                if p.uids().real != 0 or self.sandbox.mode != "root":
                    rss += _pss(p)
            except psutil.Error:
                continue
        return rss, cpu

    def _watch(self, cell_cpu_start: float | None) -> str | None:
        """A reason to stop now (memory, CPU time, the kernel gone), or None; at most every WATCH_EVERY s."""
        now = time.monotonic()
        if now - self._last_watch < WATCH_EVERY:
            return None
        self._last_watch = now
        if not self.alive():
            return "dead"
        rss, cpu = self._usage()
        self.cpu = cpu
        if rss > self.limits.memory_mb << 20:
            self.kill(f"memory: {rss >> 20} MB in use, over the limit of {self.limits.memory_mb} MB")
            return "killed"
        if cpu > self.limits.cpu_seconds:
            self.kill(f"CPU time: over the limit of {self.limits.cpu_seconds} s for the whole notebook")
            return "killed"
        if cell_cpu_start is not None and cpu - cell_cpu_start > self.limits.cell_seconds:
            return "cell cpu"
        return None

    # -- talking to the kernel ---------------------------------------------------

    def _recv(self, channel):
        try:
            return channel.get_msg(timeout=0)
        except Empty:
            return None
        except (ValueError, KeyError, TypeError, UnicodeDecodeError, json.JSONDecodeError):
            return {}  # a forged or broken message: ignored

    def wait_ready(self) -> bool:
        """True once the kernel answers on shell and its output channel is connected (then locked down)."""
        if not self._await_iopub(self.started + READY_SECONDS):
            return False
        if self.sandbox.mode == "root":  # sockets made: the sandbox user may add nothing more here
            os.chown(self.dir, 0, 0)
            os.chmod(self.dir, 0o711)
        return True

    def _monitor_socket(self):
        """A monitor of the output channel's connection, made anew when the channel is."""
        socket = self.client.iopub_channel.socket
        if self._monitored is not socket:
            self._unmonitor()
            self._monitor, self._monitored = socket.get_monitor_socket(zmq.EVENT_DISCONNECTED), socket
        return self._monitor

    def _unmonitor(self) -> None:
        if self._monitored is not None:
            try:
                self._monitored.disable_monitor()
            except zmq.ZMQError:
                pass
            self._monitor.close(linger=0)
            self._monitor = self._monitored = None

    def _dropped(self) -> bool:
        """True if zmq dropped the output connection since last asked: a message over the size limit came.

        ipykernel flushes a cell's output in one message every 0.2 s, so a tight printing loop
        can send hundreds of MB at once; zmq refuses it before any of it reaches us, and only
        this event says that output was lost.
        """
        monitor, dropped = self._monitor_socket(), False
        while monitor.poll(0):
            dropped = recv_monitor_message(monitor).get("event") == zmq.EVENT_DISCONNECTED or dropped
        return dropped

    def _reconnect_iopub(self) -> bool:
        """A new output channel: zmq drops the connection that brought a message over the size limit."""
        self._unmonitor()
        self.client.iopub_channel.close()
        self.client._iopub_channel = None  # jupyter_client makes a new one on next use
        return self._await_iopub(time.monotonic() + 10)

    def _await_iopub(self, deadline: float) -> bool:
        """True once a kernel_info request is answered on shell and heard on the output channel."""
        msg_id, replied = self.client.kernel_info(), None
        poller = zmq.Poller()
        poller.register(self.client.shell_channel.socket, zmq.POLLIN)
        poller.register(self.client.iopub_channel.socket, zmq.POLLIN)
        while time.monotonic() < deadline and self.alive():
            poller.poll(50)
            for channel in (self.client.shell_channel, self.client.iopub_channel):
                while (msg := self._recv(channel)) is not None:
                    if not msg or msg.get("parent_header", {}).get("msg_id") != msg_id:
                        continue
                    if msg["msg_type"] == "kernel_info_reply":
                        replied = time.monotonic()
                    elif msg["msg_type"] == "status" and channel is self.client.iopub_channel:
                        return True
            if replied and time.monotonic() - replied > 0.1:  # iopub missed it: not subscribed yet, ask again
                msg_id, replied = self.client.kernel_info(), None
        return False

    def _keep(self, outputs: list, out: dict) -> None:
        """Store an output within the run's allowance; beyond it, count and drop."""
        size = len(json.dumps(out))
        allowance = (self.limits.output_kb << 10) - self.stored
        if size <= allowance:
            self.stored += size
            if out["output_type"] == "stream" and outputs and outputs[-1].get("output_type") == "stream" \
                    and outputs[-1]["name"] == out["name"]:
                outputs[-1]["text"] += out["text"]
            else:
                outputs.append(out)
            return
        if not self.dropped:
            outputs.append({"output_type": "stream", "name": "stdout",
                            "text": f"\n[output over the limit of {self.limits.output_kb} KB: the rest is not kept]\n"})
        self.dropped += size
        if self.dropped > FLOOD_FACTOR * (self.limits.output_kb << 10):
            self.kill(f"output: over {FLOOD_FACTOR} times the limit of {self.limits.output_kb} KB")

    def run_step(self, step, deadline: float) -> CellRun:
        """Run one cell, as nbclient would for nbgrader, within the cell's and the run's time."""
        wanted = [*step.captures, *([(step.index, step.names)] if step.kind == "data_test" else [])]
        expressions = {f"c{index}": f"{CAPTURE}(globals(), {list(names)!r})" for index, names in wanted}
        msg_id = self.client.execute(step.code, silent=False, store_history=True, user_expressions=expressions,
                                     allow_stdin=False, stop_on_error=False)
        start = time.monotonic()
        outputs, reply, idle, clear_next, count, replied = [], None, False, False, None, 0.0
        interrupted, cpu0 = None, getattr(self, "cpu", None)
        poller = zmq.Poller()
        poller.register(self.client.shell_channel.socket, zmq.POLLIN)
        poller.register(self.client.iopub_channel.socket, zmq.POLLIN)
        poller.register(self._monitor_socket(), zmq.POLLIN)
        lost = False
        while not (reply and idle):
            now = time.monotonic()
            limit = min(start + self.limits.cell_seconds, deadline)
            watch = self._watch(cpu0) if not self.killed else "killed"
            if watch in ("dead", "killed") or self.killed:
                break
            if reply is not None and now - replied > IOPUB_GRACE:
                break  # the "idle" message was lost (too large a message before it, say): the reply is enough
            if interrupted is None and (now >= limit or watch == "cell cpu"):
                self.client.control_channel.send(self.client.session.msg("interrupt_request", {}))
                interrupted = now
            elif interrupted is not None and now > interrupted + GRACE_SECONDS:
                self.kill(f"time: a cell ran over {self.limits.cell_seconds:g} s and ignored the interrupt"
                          if now < deadline else f"time: the notebook ran over {self.limits.submission_seconds:g} s")
                break
            wait = WATCH_EVERY if interrupted is not None else min(WATCH_EVERY, max(0.001, limit - now))
            if not poller.poll(int(1000 * wait) + 1):
                continue
            if self._dropped() and not lost:
                lost = True
                self.lost.append(step.grade_id or f"cell {step.index + 1}")
            while (msg := self._recv(self.client.iopub_channel)) is not None:
                if not msg or msg.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind, content = msg.get("msg_type"), msg.get("content", {})
                if kind == "status" and content.get("execution_state") == "idle":
                    idle = True
                elif kind == "execute_input":
                    count = content.get("execution_count")
                elif kind == "clear_output":
                    if content.get("wait"):
                        clear_next = True
                    else:
                        outputs.clear()
                elif kind in ("stream", "display_data", "execute_result", "error"):
                    if clear_next:
                        outputs.clear()
                        clear_next = False
                    out = {"output_type": kind, **{k: content[k] for k in ("name", "text", "data", "metadata", "ename",
                                                                          "evalue", "traceback", "execution_count")
                                                   if k in content}}
                    self._keep(outputs, out)
            for _ in range(100):
                msg = self._recv(self.client.shell_channel)
                if msg is None:
                    break
                if msg and msg.get("parent_header", {}).get("msg_id") == msg_id and msg.get("msg_type") == "execute_reply":
                    reply, replied = msg.get("content", {}), time.monotonic()
        seconds = time.monotonic() - start
        if lost and not self.killed and not self.alive():  # the kernel died on its own: that closed the channel
            self.lost.pop()
        if reply is not None and not idle and not self.killed and self.alive():
            if not lost:
                self.lost.append(step.grade_id or f"cell {step.index + 1}")
            if not self._reconnect_iopub():
                self.kill("output: the kernel's output channel could not be reconnected")
        if interrupted is not None or (self.killed.startswith("time") and not reply):
            outputs.append({"output_type": "error", "ename": "CellTimeoutError", "evalue": "",
                            "traceback": ["CellTimeoutError: the cell ran over its time and was interrupted"]})
            return CellRun(outputs, count, "timeout", seconds=seconds)
        if reply is None:
            return None
        status = reply.get("status", "error")
        if status == "error" and not any(o.get("output_type") == "error" and o.get("ename") == reply.get("ename")
                                         for o in outputs):
            outputs.append({"output_type": "error", "ename": str(reply.get("ename", "Error")),
                            "evalue": str(reply.get("evalue", "")), "traceback": reply.get("traceback") or []})
        captures = {}
        for index, _ in wanted:
            found = (reply.get("user_expressions") or {}).get(f"c{index}")
            if isinstance(found, dict) and found.get("status") == "ok":
                captures[index] = (found.get("data") or {}).get("text/plain")
        return CellRun(outputs, reply.get("execution_count", count), "ok" if status == "ok" else "error", captures,
                       seconds)

    def execute(self, plan) -> RunResult:
        result, last = RunResult(), None
        deadline = time.monotonic() + self.limits.submission_seconds
        for step in plan.steps:
            if time.monotonic() >= deadline:
                self.kill(f"time: the notebook ran over {self.limits.submission_seconds:g} s")
            if self.killed or not self.alive():
                break
            if step.kind == "data_test" and not step.code:  # captured after the cell before, if that one finished
                if last is not None and step.index in last.captures:
                    result.cells[step.index] = CellRun([], None, "ok", {step.index: last.captures[step.index]})
                    continue
                step = replace(step, code="pass")  # it did not: capture here, as the test cell's own run
            run = last = self.run_step(step, deadline)
            if run is not None:
                result.cells[step.index] = run
                if run.status == "timeout":
                    limit = f"{self.limits.cell_seconds:g} s"
                    result.events.append(("timeout", f"{step.grade_id or f'cell {step.index + 1}'} ran over {limit} and "
                                                     "was interrupted (an infinite loop?); grading went on"))
        if self.lost:
            result.events.append(("output lost", f"{', '.join(self.lost[:5])}: a message over "
                                                 f"{self.client.context.getsockopt(zmq.MAXMSGSIZE) >> 20} MB (or what "
                                                 "followed it) was dropped; grading went on"))
        if self.dropped:
            result.events.append(("output limit", f"{self.dropped >> 10} KB of output over the limit of "
                                                  f"{self.limits.output_kb} KB were dropped"))
        ran = len(result.cells)
        if ran < len(plan.steps):
            tail = self.log_tail(200)
            why = self.killed or f"the kernel stopped (exit status {self.proc.poll()})" + (f": {tail}" if tail else "")
            result.stopped = f"not run: {why}"
            result.events.append(("stopped", f"{why}; {len(plan.steps) - ran} of {len(plan.steps)} cells did not run"))
        elif self.killed:  # the last cell had to be stopped: every cell ran, none is lost
            result.events.append(("stopped", self.killed))
        result.seconds = time.monotonic() - self.started
        result.cpu = self._usage()[1] if self.alive() else self.cpu
        return result
