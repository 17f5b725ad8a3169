"""How long grading a class takes in the sandbox, against plain `nbgrader autograde`, and what the sandbox itself costs.

    .venv/bin/python benchmarks/bench_grading.py [--n 12 24] [--repeat 1] [--jobs N]

For each class size N (synthetic submissions of the module test, each question right with
probability 0.75, fixed seed), in temporary copies of one course folder whose gradebook
already holds the assignment, it times, start to finish (a fresh process, every import and
warm-up included):

1. plain `nbgrader autograde module_test` (one process, no sandbox): the baseline;
2. the course workflow, `python -m ossllm_helpers grade autograde` (sandboxed kernels,
   hidden tests in the grader, nbgrader's converter saving the grades);
3. the same workflow with its kernels started without the sandbox (as `--unsafe` does where
   no sandbox is possible; here forced), everything else the same: the difference from 2,
   per submission, is what the sandbox costs.

Every student's score on every cell is compared with the plain run, so a faster run that
loses a grade fails loudly. A sandboxed kernel's start is also timed on its own, against
the same kernel started without bubblewrap. Wall times depend on the machine and on what
else runs on it (the load average is printed before and after); CPU seconds per
submission (nbgrader and its kernels; the workflow and its sandboxes, as it reports them)
depend much less on other jobs: the workflow runs its kernels side by side, so on an
otherwise idle machine its wall time approaches its CPU time divided by the cores.
"""

import argparse
import os
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from crafted.submissions import solutions, wrong_answer, with_answers  # noqa: E402
from ossllm_helpers.course import nbgrader_env  # noqa: E402


def make_course(where: Path) -> Path:
    where.mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", where)
    shutil.copytree(ROOT / "source" / "module_test", where / "source" / "module_test")
    subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", "module_test", "--force"], cwd=where,
                   env=nbgrader_env(), capture_output=True, check=True)
    return where


def synthetic_class(release_nb, source_nb, n: int, seed: int = 0) -> dict:
    rng = random.Random(seed)
    good = solutions(source_nb)
    return {f"student{i + 1:03d}": with_answers(release_nb, {q: v if rng.random() < 0.75 else wrong_answer(source_nb, q)
                                                              for q, v in good.items()})
            for i in range(n)}


def scores(course: Path) -> dict:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "ossllm") as gb:
        return {s.student.id: {g.name: g.score for nb in s.notebooks for g in nb.grades}
                for s in gb.assignment_submissions("module_test")}


# the workflow with kernels outside the sandbox even where one is possible (grading itself never does that)
NO_SANDBOX = """
import os, sys
from ossllm_helpers.grading import cli, sandbox
sandbox.Sandbox.detect = classmethod(lambda cls, root, unsafe=False, slots=4: cls(
    "unsafe", [(os.getuid(), os.getgid())] * slots, reason="benchmark: no sandbox", course_root=root))
sys.exit(cli.main(sys.argv[1:]))
"""


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(cmd, cwd) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one command: its own and its children's, plus the sandboxes' it reports."""
    start, cpu = time.perf_counter(), _children_cpu()
    result = subprocess.run(cmd, cwd=cwd, env=nbgrader_env(), capture_output=True, text=True)
    seconds, cpu = time.perf_counter() - start, _children_cpu() - cpu
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, cmd[:6]))} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    # sandboxed kernels end with their PID namespace, never reaped here: the workflow counts their CPU itself
    m = re.search(r"in a \w+ sandbox .*kernels' CPU ([0-9.]+) s", result.stdout)
    return seconds, cpu + (float(m.group(1)) if m else 0.0)


def kernel_start(unsafe: bool, runs: int = 5) -> float:
    """Median seconds from spawning a kernel to its answering, sandboxed or not (the sandbox's own start cost)."""
    import zmq

    from ossllm_helpers.grading.runner import KernelRun
    from ossllm_helpers.grading.sandbox import Limits, Sandbox

    box = (Sandbox("unsafe", [(os.getuid(), os.getgid())] * 2, reason="benchmark", course_root=ROOT) if unsafe
           else Sandbox.detect(ROOT, slots=2))
    tmp, stage = tempfile.mkdtemp(), tempfile.mkdtemp()
    os.chmod(tmp, 0o700)
    os.chmod(stage, 0o755)
    context, times = zmq.Context(), []
    try:
        for _ in range(runs):
            start = time.perf_counter()
            run = KernelRun(box, Limits(), stage, tmp, context)
            assert run.wait_ready()
            times.append(time.perf_counter() - start)
            run.close()
    finally:
        context.term()
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(stage, ignore_errors=True)
    return statistics.median(times)


def load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, nargs="+", default=[12, 24], help="class sizes (default 12 24)")
    p.add_argument("--repeat", type=int, default=1, help="runs of each kind; the fastest counts (default 1)")
    p.add_argument("--jobs", type=int, help="kernels at once for the workflow (default: its own, the CPU count)")
    p.add_argument("--keep", action="store_true", help="keep the temporary course folders")
    args = p.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="ossllm-bench-grading-"))
    print(f"{os.cpu_count()} cores; load average {load()}")
    rows = []
    try:
        base = make_course(tmp / "base")
        release_nb = nbformat.read(base / "release" / "module_test" / "module_test.ipynb", as_version=4)
        source_nb = nbformat.read(base / "source" / "module_test" / "module_test.ipynb", as_version=4)
        jobs = ["--jobs", str(args.jobs)] if args.jobs else []
        for n in args.n:
            klass = tmp / f"class{n}"
            shutil.copytree(base, klass)
            for student, nb in synthetic_class(release_nb, source_nb, n).items():
                path = klass / "submitted" / student / "module_test" / "module_test.ipynb"
                path.parent.mkdir(parents=True)
                nbformat.write(nb, path)
            best, reference = {}, None
            for r in range(args.repeat):
                for kind, cmd in (
                    ("plain", [sys.executable, "-m", "nbgrader", "autograde", "module_test", "--force"]),
                    ("sandbox", [sys.executable, "-m", "ossllm_helpers", "grade", "autograde", *jobs]),
                    ("unsafe", [sys.executable, "-c", NO_SANDBOX, "autograde", *jobs]),
                ):
                    run = shutil.copytree(klass, tmp / f"{kind}{n}-{r}")
                    seconds, cpu = timed(cmd, run)
                    best[kind] = min(best.get(kind, seconds), seconds)
                    best[kind + " cpu"] = min(best.get(kind + " cpu", cpu), cpu)
                    got = scores(run)
                    reference = reference or got
                    lost = sorted(s for s in reference if got.get(s) != reference[s])
                    assert len(got) == n and not lost, f"{kind} graded differently from plain nbgrader: {lost}"
                    if not args.keep:
                        shutil.rmtree(run)
            rows.append((n, best))
        start_sandbox, start_plain = kernel_start(False), kernel_start(True)
        print(f"\n{'class':>6} {'plain nbgrader':>15} {'sandboxed':>10} {'vs plain':>9} {'no sandbox':>11} "
              f"{'sandbox cost':>13} {'CPU s/sub: plain':>17} {'sandboxed':>10} {'no sandbox':>11}")
        for n, best in rows:
            cost = (best["sandbox"] - best["unsafe"]) / n
            print(f"{n:>6} {best['plain']:>13.1f} s {best['sandbox']:>8.1f} s {best['plain'] / best['sandbox']:>8.2f}x "
                  f"{best['unsafe']:>9.1f} s {1000 * cost:>9.0f} ms/sub {best['plain cpu'] / n:>17.2f} "
                  f"{best['sandbox cpu'] / n:>10.2f} {best['unsafe cpu'] / n:>11.2f}")
        print(f"\nkernel start to first answer (median of 5): {start_sandbox:.2f} s in the sandbox, {start_plain:.2f} s "
              f"without ({1000 * (start_sandbox - start_plain):.0f} ms for bubblewrap, the sandbox user and its limits)")
        print(f"every student's score on every cell is the same in all runs; load average now {load()}")
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
