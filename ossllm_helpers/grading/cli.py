"""``python -m ossllm_helpers grade <step>``: the grading workflow's command line.

``add_parser(subparsers)`` puts ``grade`` into the package's command tree; ``main(argv)``
runs it on its own. Every step prints what went wrong as one message, never a traceback.
"""

import argparse
import importlib
import sys

from ..course import course_root
from ..errors import GradingError, OssllmError
from .autograde import autograde, default_limits
from .collect import collect, release
from .export import export
from .items_report import item_analysis
from .paths import ASSIGNMENT, Course

__all__ = ["STEPS", "add_parser", "main", "run", "run_all"]

STEPS = ["release", "collect", "autograde", "feedback", "export", "items", "all"]
DESCRIPTION = """The instructor's grading workflow, one step at a time or all at once:

  release     generate the student version (release/<assignment>) and publish it to the exchange
  collect     bring submissions in: from the exchange, or --from a folder of <student>.ipynb
  autograde   run every submission in a sandbox and score it (a broken one is reported, the rest graded),
              then the item analysis
  feedback    HTML feedback per student, without hidden tests or right answers
  export      grades.csv and grading/report.txt
  items       item analysis: grading/items.html (plots) and grading/items.csv: per question the share right,
              discrimination, options chosen, flags (too easy, too hard, low or negative discrimination, wrong key)
  all         collect, autograde, feedback, export, items

Students' code runs in a bubblewrap sandbox: no network, no view of the course folder, an
unprivileged user, limits on time, memory, processes, files and output. Without bubblewrap,
grading refuses unless you pass --unsafe."""


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("step", choices=STEPS + ["help"], metavar="step", help=" | ".join(STEPS))
    p.add_argument("--course", help="course folder (default: the one holding nbgrader_config.py)")
    p.add_argument("--assignment", default=ASSIGNMENT, help=f"assignment in source/ (default {ASSIGNMENT})")
    p.add_argument("--from", dest="from_folder", help="collect: a folder of <student>.ipynb or <student>/<nb>.ipynb")
    p.add_argument("--roster", help="file with one student id a line: absent students are reported")
    p.add_argument("--student", action="append", help="autograde/feedback: only these students (repeatable)")
    p.add_argument("--csv", help="export: where to write the grades (default: grades.csv in the course)")
    g = p.add_argument_group("autograde: the sandbox and its limits")
    g.add_argument("--jobs", type=int, help="kernels at once (default: the number of CPUs, at most 4)")
    g.add_argument("--timeout", type=float, help="seconds a cell may run (default: Execute.timeout, nbgrader_config.py)")
    g.add_argument("--notebook-timeout", type=float, help="seconds a whole notebook may run (default 900)")
    g.add_argument("--cpu", type=int, help="CPU seconds per notebook, all its processes together (default 600)")
    g.add_argument("--memory", type=int, help="MB of memory per notebook (default 1024)")
    g.add_argument("--processes", type=int, help="processes and threads per notebook (default 64)")
    g.add_argument("--output", type=int, help="KB of output kept per notebook (default 1024)")
    g.add_argument("--disk", type=int, help="MB each writable place (home, /tmp) may hold (default 256)")
    g.add_argument("--unsafe", action="store_true",
                   help="where no sandbox is possible, run students' code without one (the report marks every line)")


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add ``grade`` to a command tree (``python -m ossllm_helpers``)."""
    p = subparsers.add_parser("grade", help="instructor workflow: release, collect, autograde, feedback, export, "
                                            "items, all",
                              description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    _arguments(p)
    p.set_defaults(func=run, grade_parser=p)
    return p


def _course(args) -> Course:
    if args.course:
        return Course(args.course, args.assignment)
    try:
        return Course(course_root(), args.assignment)
    except FileNotFoundError as exc:
        raise GradingError(str(exc)) from None


def _limits(course: Course, args):
    return default_limits(course, cell_seconds=args.timeout, submission_seconds=args.notebook_timeout,
                          cpu_seconds=args.cpu, memory_mb=args.memory, processes=args.processes,
                          output_kb=args.output, disk_mb=args.disk)


def feedback(course: Course, students=None):
    # the feedback module imports nbconvert (a second): loaded only for this step
    return importlib.import_module(f"{__package__}.feedback").feedback(course, students)


def items(course: Course, *, after: str = ""):
    """The item analysis; after another step, a failure is printed and the grades stand (they are saved already)."""
    if not after:
        return item_analysis(course)
    try:
        return item_analysis(course)
    except Exception as exc:  # noqa: BLE001 - an analysis of the grades never costs the grades themselves
        print(f"item analysis failed after {after} ({type(exc).__name__}: {exc}); the grades are saved; run "
              "`grade items` again once fixed", file=sys.stderr)
        return None


def run_all(course: Course, *, from_folder=None, roster=None, limits=None, jobs=None, unsafe=False, csv_path=None):
    """collect, autograde, feedback, export, items (release comes before students work); always ends with the CSV."""
    collect(course, from_folder, roster)
    autograde(course, limits=limits, jobs=jobs, unsafe=unsafe)
    try:
        feedback(course)
    except GradingError as exc:  # no feedback is no reason to withhold the grades
        print(f"feedback step failed: {exc}", file=sys.stderr)
        export(course, csv_path, roster)
        items(course, after="export")
        raise
    rows = export(course, csv_path, roster)
    items(course, after="export")
    return rows


def run(args) -> int:
    """Run the step ``args`` names (parsed by ``add_parser``'s parser or ``main``'s)."""
    if args.step == "help":
        args.grade_parser.print_help()  # `./course grade help`: the outer command line keeps --help for itself
        return 0
    if "jsonschema" not in sys.modules:
        # jsonschema builds a grammar for its optional IRI format check when imported (0.8 s of nbgrader's 2 s
        # import); no schema in grading checks formats. Only in a process that has not loaded jsonschema yet.
        sys.modules.setdefault("rfc3987_syntax", None)
    course = _course(args)
    if args.step == "release":
        release(course)
    elif args.step == "collect":
        collect(course, args.from_folder, args.roster)
    elif args.step == "autograde":
        autograde(course, args.student, limits=_limits(course, args), jobs=args.jobs, unsafe=args.unsafe)
        items(course, after="autograde")
    elif args.step == "feedback":
        feedback(course, args.student)
    elif args.step == "export":
        export(course, args.csv, args.roster)
    elif args.step == "items":
        items(course)
    else:
        run_all(course, from_folder=args.from_folder, roster=args.roster, limits=_limits(course, args), jobs=args.jobs,
                unsafe=args.unsafe, csv_path=args.csv)
    return 0


def main(argv=None) -> int:
    """``python -m ossllm_helpers grade ...`` on its own; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m ossllm_helpers grade", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    _arguments(parser)
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        parser.print_help()
        return 0
    args = parser.parse_args(argv)
    args.grade_parser = parser
    try:
        return run(args)
    except OssllmError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
