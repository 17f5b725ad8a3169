"""The sandbox a student's kernel runs in: bubblewrap namespaces, an unprivileged host user, resource limits.

Run as root (a course server), each kernel gets its own mount, PID, network, IPC and UTS
namespaces from bubblewrap and runs as one of a few dedicated system users
(``ossllm-sandbox-N``, created on demand), a real unprivileged uid on the host, with no
capabilities, ``no_new_privs`` and a seccomp filter that refuses new user namespaces. It
sees the system read-only (``/usr``, the Python environment, this package), its own
``/proc``, ``/dev``, ``/tmp`` and home (small tmpfs), a read-only copy of that one
submission's files, and the folder of its own kernel sockets (zmq's ipc transport: there
is no network). It sees neither the course folder, nor the gradebook, ``source/``, other
submissions, the instructor's home or environment. Run as an ordinary user, bubblewrap
makes a user namespace instead, and the kernel keeps that user's uid.

Where bubblewrap cannot run (not Linux, not installed, namespaces disabled), grading
refuses unless the instructor passes ``--unsafe``: then kernels run as plain processes,
with the same limits and the same answer handling, and the report marks every line.
"""

import json
import os
import platform
import pwd
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

from ..errors import GradingError, SandboxUnavailableError

__all__ = ["Limits", "Sandbox", "USER_PREFIX", "seccomp_filter"]

USER_PREFIX = "ossllm-sandbox-"
HOME = "/home/student"
STAGE = "/run/submission"
KERNEL_DIR = "/run/kernel"  # the kernel's connection file and sockets, a bind of a folder the grader made
_ETC = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "nsswitch.conf", "fonts", "mime.types")
_INSTALL = ("Install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap; Fedora: dnf install bubblewrap), "
            "or grade without a sandbox with --unsafe (the report marks every line).")


@dataclass(frozen=True)
class Limits:
    """What one notebook run may use. Tests pass tight values to stay cheap."""

    cell_seconds: float = 120  # wall time per cell, as nbgrader's Execute.timeout (then interrupted)
    submission_seconds: float = 900  # wall time of the whole notebook run
    cpu_seconds: int = 600  # CPU time of all the sandbox's processes together
    memory_mb: int = 1024  # heap per process, and resident memory of all the sandbox's processes together
    processes: int = 64  # processes and threads
    file_mb: int = 64  # largest file written
    disk_mb: int = 256  # each writable place (home, /tmp, /dev/shm) is a tmpfs of this size
    output_kb: int = 1024  # output kept per notebook run (the rest is counted, not stored)

    def as_dict(self) -> dict:
        return asdict(self)


# --------------------------------------------------------------------------- seccomp: no new user namespaces

_ARCH = {  # machine: (AUDIT_ARCH_*, clone, unshare, clone3)
    "x86_64": (0xC000003E, 56, 272, 435),
    "aarch64": (0xC00000B7, 220, 97, 435),
}
_CLONE_NEWUSER = 0x10000000
_ALLOW, _KILL = 0x7FFF0000, 0x80000000
_EPERM, _ENOSYS = 0x00050000 | 1, 0x00050000 | 38


def seccomp_filter(machine: str | None = None) -> bytes | None:
    """A classic-BPF seccomp program refusing user namespaces (clone/unshare with CLONE_NEWUSER), or None.

    clone3 answers ENOSYS, so the C library falls back to clone, whose flags the filter can read.
    """
    arch = _ARCH.get(machine or platform.machine())
    if arch is None:
        return None
    audit, nr_clone, nr_unshare, nr_clone3 = arch
    ld, jeq, jset, jge, ret = 0x20, 0x15, 0x45, 0x35, 0x06
    prog = [
        (ld, 0, 0, 4),  # 0 arch
        (jeq, 1, 0, audit),  # 1
        (ret, 0, 0, _KILL),  # 2 another ABI (i386, x32 entry points): no
        (ld, 0, 0, 0),  # 3 syscall number
        (jge, 7, 0, 0x40000000) if audit == 0xC000003E else (jeq, 7, 0, 0xFFFFFFFF),  # 4 x32 numbers -> EPERM
        (jeq, 7, 0, nr_clone3),  # 5 -> ENOSYS (12)
        (jeq, 2, 0, nr_unshare),  # 6 -> 9
        (jeq, 1, 0, nr_clone),  # 7 -> 9
        (ret, 0, 0, _ALLOW),  # 8
        (ld, 0, 0, 16),  # 9 low word of the first argument (flags)
        (jset, 1, 0, _CLONE_NEWUSER),  # 10 -> 12
        (ret, 0, 0, _ALLOW),  # 11
        (ret, 0, 0, _EPERM),  # 12
        (ret, 0, 0, _ENOSYS),  # 13
    ]
    # jump targets: 4 -> 12 (jt=7), 5 -> 13 (jt=7), 6 -> 9 (jt=2), 7 -> 9 (jt=1), 10 -> 12 (jt=1)
    return b"".join(struct.pack("=HBBI", *ins) for ins in prog)


# --------------------------------------------------------------------------- users


def _sandbox_users(count: int) -> list[tuple[int, int]]:
    """(uid, gid) of ossllm-sandbox-1 … -count, created as system users where missing."""
    out = []
    for i in range(1, count + 1):
        name = f"{USER_PREFIX}{i}"
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            useradd = shutil.which("useradd") or "/usr/sbin/useradd"
            result = subprocess.run([useradd, "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
                                     "--shell", "/usr/sbin/nologin", "--comment", "ossllm grading sandbox", name],
                                    capture_output=True, text=True)
            if result.returncode != 0:
                raise SandboxUnavailableError(
                    f"could not create the sandbox user {name}: {result.stderr.strip() or result.returncode}. Create "
                    f"system users {USER_PREFIX}1 to {USER_PREFIX}{count} yourself (useradd --system), or run grading "
                    "as an ordinary user.", user=name)
            entry = pwd.getpwnam(name)
        if entry.pw_uid == 0 or entry.pw_gid == 0:
            raise SandboxUnavailableError(f"{name} has uid or gid 0: it must be an unprivileged user.", user=name)
        out.append((entry.pw_uid, entry.pw_gid))
    return out


def _kill_uid(uid: int) -> int:
    """Kill every process left with this real uid (none should be: the PID namespace died with its kernel)."""
    killed = 0
    for proc in psutil.process_iter(["uids"]):
        try:
            if proc.info["uids"] and proc.info["uids"].real == uid:
                proc.kill()
                killed += 1
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return killed


# --------------------------------------------------------------------------- the sandbox


def _memfd(name: str, data: bytes) -> int:
    fd = os.memfd_create(name, 0)
    os.write(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _is_under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


class Sandbox:
    """Builds the command that starts one kernel, and lends out the users kernels run as."""

    def __init__(self, mode: str, users=(), reason: str = "", course_root: Path | None = None):
        self.mode, self.reason = mode, reason  # "root", "user" or "unsafe"
        self.course_root = str(Path(course_root).resolve()) if course_root else None
        self._free = list(users)
        self._cond = threading.Condition()
        self._setpriv = shutil.which("setpriv")
        self._readonly = self._readonly_paths() if mode != "unsafe" else []

    @property
    def unsafe(self) -> bool:
        return self.mode == "unsafe"

    @classmethod
    def detect(cls, course_root, *, unsafe: bool = False, slots: int = 4) -> "Sandbox":
        """The best sandbox this machine allows; SandboxUnavailableError (or, with ``unsafe``, no sandbox)."""
        problem = None
        if sys.platform != "linux":
            problem = f"the grading sandbox (bubblewrap) needs Linux; this is {sys.platform}."
        elif not shutil.which("bwrap"):
            problem = "bubblewrap (bwrap) is not installed."
        elif os.geteuid() == 0 and not shutil.which("setpriv"):
            problem = "setpriv (util-linux) is missing: it drops the kernel to the sandbox user."
        elif os.geteuid() == 0 and seccomp_filter() is None and Path("/proc/sys/user/max_user_namespaces").is_file() \
                and Path("/proc/sys/user/max_user_namespaces").read_text().strip() != "0":
            problem = f"no seccomp filter for {platform.machine()}: kernels could make user namespaces."
        sandbox = None
        if problem is None:
            try:
                users = _sandbox_users(slots) if os.geteuid() == 0 else [(os.getuid(), os.getgid())] * slots
                sandbox = cls("root" if os.geteuid() == 0 else "user", users, course_root=course_root)
                problem = sandbox.probe()
            except SandboxUnavailableError as exc:
                problem = str(exc)
        if problem is None:
            return sandbox
        if unsafe:
            return cls("unsafe", [(os.getuid(), os.getgid())] * slots, reason=problem, course_root=course_root)
        advice = _INSTALL if "not installed" in problem else "Fix that, or grade without a sandbox with --unsafe " \
            "(the report marks every line)."
        raise SandboxUnavailableError(f"grading refuses to run students' code without a sandbox: {problem} {advice}",
                                      reason=problem)

    # -- users -----------------------------------------------------------------------

    def acquire(self) -> tuple[int, int]:
        with self._cond:
            while not self._free:
                self._cond.wait()
            return self._free.pop(0)

    def release(self, user: tuple[int, int]) -> None:
        if self.mode == "root":
            _kill_uid(user[0])  # a sandbox user is never reused while anything of the last kernel lives
        with self._cond:
            self._free.append(user)
            self._cond.notify()

    # -- the command -----------------------------------------------------------------

    def _readonly_paths(self) -> list[str]:
        """What the kernel may read: the system, the Python environment, this package; never the course folder."""
        prefixes = {os.path.realpath(p) for p in (sys.base_prefix, sys.prefix)}
        entries = {os.path.realpath(p) for p in sys.path if p and os.path.exists(p)}
        package = str(Path(__file__).resolve().parents[1])  # ossllm_helpers itself
        paths = []
        for p in sorted(prefixes | entries, key=len):
            if any(_is_under(p, q) for q in ["/usr", *paths]):
                continue
            if self.course_root and _is_under(self.course_root, p) and p not in prefixes:
                continue  # a path entry holding the course folder (a script's folder, say) is not shown
            if self.course_root and _is_under(self.course_root, p):
                raise GradingError(f"the Python environment ({p}) contains the course folder, so the sandbox cannot "
                                   "show one without the other: install the environment outside the course folder.")
            if self.course_root and _is_under(p, self.course_root) and p not in prefixes:
                continue  # a path entry inside the course folder (the folder itself, say): only the package is shown
            paths.append(p)
        return paths + [package]

    def _mounts(self) -> list[str]:
        args = []
        for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
            if os.path.islink(top):
                args += ["--symlink", os.readlink(top), top]
            elif os.path.isdir(top):
                args += ["--ro-bind", top, top]
        args += ["--ro-bind", "/usr", "/usr", "--perms", "0755", "--dir", "/etc"]
        for name in _ETC:
            if os.path.exists(f"/etc/{name}"):
                args += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
        dirs = set()
        for p in [*self._readonly, STAGE, KERNEL_DIR, HOME]:
            parent = os.path.dirname(p)
            while parent not in ("/", ""):
                dirs.add(parent)
                parent = os.path.dirname(parent)
        for d in sorted(dirs):  # bubblewrap would make them 0700: the sandbox user could not pass
            if not any(d == top or d.startswith(top + "/") for top in ("/usr", "/bin", "/lib", "/etc")):
                args += ["--perms", "0755", "--dir", d]
        for p in self._readonly:
            args += ["--ro-bind", p, p]
        return args

    def kernel_dir(self, conn_dir: str) -> str:
        """Where the kernel sees ``conn_dir`` (its connection file and sockets)."""
        return conn_dir if self.unsafe else KERNEL_DIR

    def command(self, *, user, connection_file: str, conn_dir: str, stage: str, work: str, limits: Limits):
        """(argv, environment, fds to pass) that start one kernel; the caller closes the fds after spawning.

        ``connection_file`` is the kernel's own path to it (see ``kernel_dir``).
        """
        uid, gid = user
        python = sys.executable
        counted = limits.as_dict()
        if self.mode != "root":  # the kernel shares this user's process count: the allowance comes on top of it
            counted["processes"] += sum(p.info["num_threads"] or 0 for p in psutil.process_iter(["uids", "num_threads"])
                                        if p.info["uids"] and p.info["uids"].real == uid)
        spec = {"limits": counted, "prefix": os.path.realpath(sys.prefix),
                "stage": stage if self.unsafe else STAGE, "work": work if self.unsafe else f"{HOME}/work"}
        env = {"PATH": f"{os.path.dirname(python)}:/usr/local/bin:/usr/bin:/bin", "HOME": HOME if not self.unsafe else work,
               "USER": "student", "LOGNAME": "student", "LANG": "C.UTF-8", "MPLCONFIGDIR": "/tmp/matplotlib",
               "IPYTHONDIR": "/tmp/ipython", "NBGRADER_EXECUTION": "autograde", "PYTHONDONTWRITEBYTECODE": "1",
               "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "MALLOC_ARENA_MAX": "2",
               "HF_HUB_OFFLINE": "1", "JUPYTER_PLATFORM_DIRS": "1", "OSSLLM_SANDBOX": json.dumps(spec)}
        kernel = [python, "-I", "-m", "ossllm_helpers.grading.kernel", connection_file]
        if self.unsafe:
            env.update({"MPLCONFIGDIR": f"{work}/.matplotlib", "IPYTHONDIR": f"{work}/.ipython"})
            return kernel, env, []
        fds = [_memfd("passwd", f"root:x:0:0::/root:/usr/sbin/nologin\nstudent:x:{uid}:{gid}::{HOME}:/usr/sbin/nologin\n"
                      .encode()), _memfd("group", f"root:x:0:\nstudent:x:{gid}:\n".encode())]
        size = str(limits.disk_mb << 20)
        argv = ["bwrap", "--die-with-parent", "--new-session"]
        if self.mode == "root":
            argv += ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
        else:
            argv += ["--unshare-all", "--unshare-user", "--disable-userns"]
        argv += ["--hostname", "grading", "--proc", "/proc", "--dev", "/dev"]
        # The private tmpfs places first, the read-only ones over them: a clone (and its environment) under /tmp
        # stays visible, and nothing else of the host's /tmp does.
        for place in ("/tmp", "/dev/shm", HOME):
            argv += ["--perms", "1777", "--size", size, "--tmpfs", place]
        argv += self._mounts()
        argv += ["--ro-bind", stage, STAGE, "--bind", conn_dir, KERNEL_DIR,
                 "--ro-bind-data", str(fds[0]), "/etc/passwd", "--ro-bind-data", str(fds[1]), "/etc/group"]
        if self.mode == "root":
            fds.append(_memfd("seccomp", seccomp_filter()))
            argv += ["--add-seccomp-fd", str(fds[-1])]
        argv += ["--chdir", HOME, "--clearenv"]
        for name, value in env.items():
            argv += ["--setenv", name, value]
        argv.append("--")
        if self.mode == "root":
            argv += [self._setpriv, "--reuid", str(uid), "--regid", str(gid), "--clear-groups", "--inh-caps=-all",
                     "--bounding-set=-all", "--no-new-privs", "--"]
        return argv + kernel, None, fds

    def probe(self) -> str | None:
        """None if a sandboxed Python starts here as the sandbox user, else what went wrong."""
        user = self.acquire()
        try:
            with tempfile.TemporaryDirectory(prefix="ossllm-probe-") as tmp:
                argv, _, fds = self.command(user=user, connection_file="-", conn_dir=tmp, stage=tmp, work=tmp,
                                            limits=Limits())
                argv = argv[: argv.index(sys.executable)] + [sys.executable, "-I", "-c",
                                                             "import os, sys; print(os.path.realpath(sys.prefix))"]
                try:
                    result = subprocess.run(argv, pass_fds=fds, capture_output=True, text=True, timeout=60)
                finally:
                    for fd in fds:
                        os.close(fd)
        finally:
            self.release(user)
        if result.returncode != 0:
            return f"bubblewrap failed here: {(result.stderr or result.stdout).strip()[-300:] or result.returncode}."
        if result.stdout.strip() != os.path.realpath(sys.prefix):
            return (f"inside the sandbox Python runs from {result.stdout.strip()!r}, not {os.path.realpath(sys.prefix)}: "
                    "the sandbox user cannot read the Python installation (make it world-readable).")
        return None
