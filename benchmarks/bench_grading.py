"""How long grading the module test takes, where the time goes, and what two processes gain.

    .venv/bin/python benchmarks/bench_grading.py [--n 12] [--jobs 2]

For a class of N synthetic submissions (each question right with probability 0.75, fixed seed)
in a temporary course folder, it measures:

1. plain `nbgrader autograde module_test` over the whole class (one process): the baseline;
2. where the time goes, from real nbgrader run in this process with timers around kernel
   start (launch + wait until ready), cell execution, kernel shutdown and the gradebook work
   (the submission rows, OverwriteCells' reads, SaveAutoGrades' writes);
3. the course workflow (`ossllm_helpers.instructor.autograde`) with one process and with
   ``--jobs`` processes over disjoint halves of the class, each with its own copy of the
   gradebook, merged afterwards; every student's score for every cell is compared with the
   plain run, so a faster run that loses a grade fails loudly.

Figures depend on the machine and on what else runs on it: the load average is printed.
"""

import argparse
import functools
import importlib
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from crafted.submissions import solutions, with_answers  # noqa: E402
from ossllm_helpers.course import nbgrader_env  # noqa: E402

grading = importlib.import_module("ossllm_helpers.instructor")


def make_course(where: Path) -> "grading.Course":
    where.mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", where)
    shutil.copytree(ROOT / "source" / "module_test", where / "source" / "module_test")
    return grading.Course(where)


def synthetic_class(release_nb, source_nb, n: int, seed: int = 0) -> dict:
    rng = random.Random(seed)
    good = solutions(source_nb)
    out = {}
    for i in range(n):
        answers = {}
        for name, value in good.items():
            if rng.random() < 0.75:
                answers[name] = value
            elif value.startswith('"'):
                answers[name] = repr(rng.choice([x for x in "ABCD" if f'"{x}"' != value]))
            else:
                answers[name] = repr(round(float(value) * rng.choice([0.5, 2.0]), 3))
        out[f"student{i + 1:03d}"] = with_answers(release_nb, answers)
    return out


def cpu() -> float:
    """CPU seconds used so far by this process and every finished process under it (nbgrader, kernels)."""
    import resource

    return sum(getattr(resource.getrusage(who), f) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
               for f in ("ru_utime", "ru_stime"))


class Clock:
    """Wall and CPU seconds of a block."""

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), cpu()
        return self

    def __exit__(self, *exc):
        self.wall, self.cpu = time.perf_counter() - self.wall, cpu() - self.cpu


def nbgrader(course, *args) -> Clock:
    with Clock() as clock:
        subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course.root, env=nbgrader_env(),
                       capture_output=True, check=True)
    return clock


def scores(course) -> dict:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course.root / 'gradebook.db'}", "ossllm") as gb:
        return {s.student.id: {g.name: g.score for nb in s.notebooks for g in nb.grades}
                for s in gb.assignment_submissions("module_test")}


class Timers:
    """Wrap methods so their wall time adds up under a label."""

    def __init__(self):
        self.totals = defaultdict(float)
        self._undo = []

    def wrap(self, owner, name, label):
        """``label`` is a string, or a function of the call's arguments that returns one."""
        original = getattr(owner, name)
        totals = self.totals
        name_of = label if callable(label) else (lambda *a, **k: label)

        @functools.wraps(original)
        def timed(*a, **k):
            start = time.perf_counter()
            try:
                return original(*a, **k)
            finally:
                totals[name_of(*a, **k)] += time.perf_counter() - start
        setattr(owner, name, timed)
        self._undo.append((owner, name, original))

    def restore(self):
        for owner, name, original in reversed(self._undo):
            setattr(owner, name, original)


def phases(course, students) -> dict:
    """Grade in this process with real nbgrader, timing each phase."""
    import nbclient.client as ncc
    from nbgrader.apps import NbGraderAPI
    from nbgrader.converters.autograde import Autograde
    from nbgrader.preprocessors import AssignLatePenalties, OverwriteCells, SaveAutoGrades

    import warnings

    from sqlalchemy.exc import SAWarning

    warnings.filterwarnings("ignore", category=SAWarning)  # nbgrader's own session use, harmless
    t = Timers()
    # nbconvert's ExecutePreprocessor calls nbclient's sync wrappers; kernel_info is its wait until ready
    t.wrap(ncc.NotebookClient, "start_new_kernel", "kernel start")
    t.wrap(ncc.NotebookClient, "start_new_kernel_client", "kernel start")
    t.wrap(ncc.NotebookClient, "wait_for_reply", "kernel start")
    def cell_label(client, cell, *a, **k):
        # the setup cell imports the course helpers (and matplotlib): the notebook's own start-up cost
        setup = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "setup"
        return "setup cell (imports)" if setup else "other cells"

    t.wrap(ncc.NotebookClient, "execute_cell", cell_label)
    t.wrap(ncc.NotebookClient, "_cleanup_kernel", "kernel shutdown")
    t.wrap(Autograde, "init_assignment", "gradebook")
    for cls in (OverwriteCells, SaveAutoGrades, AssignLatePenalties):
        t.wrap(cls, "preprocess", "gradebook")
    app = grading._coursedir(course.root, ["--OverwriteCells.add_missing_cells=True"])
    api = NbGraderAPI(coursedir=app.coursedir, parent=app)
    start = time.perf_counter()
    for s in students:
        assert api.autograde("module_test", s, force=True, create=True)["success"], s
    total = time.perf_counter() - start
    t.restore()
    out = dict(t.totals)
    out["other (sanitising, files, nbconvert)"] = total - sum(t.totals.values())
    return {"per student": total, "phases": out}


def load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=12, help="submissions in the class (default 12)")
    p.add_argument("--jobs", type=int, default=2, help="processes for the parallel run (default 2)")
    p.add_argument("--repeat", type=int, default=1, help="runs of each kind; the fastest counts (default 1)")
    p.add_argument("--keep", action="store_true", help="keep the temporary course folders")
    args = p.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="ossllm-bench-grading-"))
    print(f"class of {args.n} synthetic submissions; {os.cpu_count()} cores; load average {load()}")
    try:
        base = make_course(tmp / "base")
        t_gen = nbgrader(base, "generate_assignment", "module_test", "--force").wall
        release_nb = nbformat.read(base.root / "release" / "module_test" / "module_test.ipynb", as_version=4)
        source_nb = nbformat.read(base.root / "source" / "module_test" / "module_test.ipynb", as_version=4)
        for student, nb in synthetic_class(release_nb, source_nb, args.n).items():
            path = base.submitted(student)
            path.parent.mkdir(parents=True)
            nbformat.write(nb, path)
        t_start = min(nbgrader(base, "--version").wall for _ in range(2))

        def copy(name):
            c = grading.Course(shutil.copytree(base.root, tmp / name))
            return c

        best = {}  # run name: fastest Clock

        def keep(name, clock):
            if name not in best or clock.wall < best[name].wall:
                best[name] = clock

        reference = None
        for r in range(args.repeat):
            plain = copy(f"plain{r}")
            keep("plain", nbgrader(plain, "autograde", "module_test", "--force",
                                   "--OverwriteCells.add_missing_cells=True"))
            reference = reference or scores(plain)
            assert scores(plain) == reference and len(reference) == args.n

        inproc = copy("phases")
        ph = phases(inproc, sorted(reference))
        assert scores(inproc) == reference, "in-process grading changed a score"

        for r in range(args.repeat):
            for jobs in (1, args.jobs):
                c = copy(f"jobs{jobs}-{r}")
                with Clock() as clock:
                    grading.autograde(c, jobs=jobs)
                keep(jobs, clock)
                got = scores(c)
                lost = {s for s in reference if got.get(s) != reference[s]}
                assert not lost, f"jobs={jobs} graded differently from plain nbgrader: {sorted(lost)}"

        n = args.n
        print(f"\nnbgrader process start (import, config): {t_start:.1f} s; generate_assignment {t_gen:.1f} s")
        print(f"\n{'run (fastest of ' + str(args.repeat) + ')':52} {'wall s':>8} {'s/submission':>13} "
              f"{'CPU s/sub':>10} {'vs plain':>9}")
        rows = [("plain `nbgrader autograde` (1 process)", best["plain"]),
                ("course workflow, 1 process", best[1]),
                (f"course workflow, {args.jobs} processes, merged gradebooks", best[args.jobs])]
        for label, clock in rows:
            print(f"{label:52} {clock.wall:8.1f} {clock.wall / n:13.2f} {clock.cpu / n:10.2f} "
                  f"{best['plain'].wall / clock.wall:8.2f}x")
        print(f"\nwhere the time goes, real nbgrader in one process, per submission ({n} submissions):")
        for label, secs in sorted(ph["phases"].items(), key=lambda kv: -kv[1]):
            print(f"  {label:40} {secs / n:6.2f} s  {100 * secs / ph['per student']:5.1f}%")
        print(f"  {'total':40} {ph['per student'] / n:6.2f} s  (plus {t_start:.1f} s once per nbgrader process)")
        print(f"\nevery student's score on every cell is the same in all runs ({n} students, "
              f"{sum(len(v) for v in reference.values())} cells); load average now {load()}")
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
