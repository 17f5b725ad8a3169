"""Screenshots for reviewers: a callout, a dollar amount and a quiz question, from any git revision.

    python tests/browser/shots.py --out DIR [--rev REV] [--lesson lesson01 ...]

Runs the revision's release notebooks (and its own ossllm_helpers, so an old
revision shows its old quiz widget) in JupyterLab in headless Chromium and
writes PNGs and summary.json (quiz questions whose options overlap, per width
and file-browser state) to DIR. Without --rev it uses the working tree.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from driver import QUIZ_NEW, QUIZ_OLD, LabPage, chromium_path, launch, overlaps  # noqa: E402
from labserver import LabServer, copy_course  # noqa: E402
from markdown_check import dollar_amount  # noqa: E402

LESSONS = [f"lesson0{n}" for n in range(1, 9)]
_FORMATTING = re.compile(r"\*\*|`")


def _source(cell) -> str:
    src = cell["source"]
    return "".join(src) if isinstance(src, list) else src


def _callout(nb, rendered) -> int | None:
    """First Markdown cell drawn as a coloured box whose rendered text still shows ** or a backtick;
    else the first coloured box or labelled blockquote."""
    boxes = [i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "markdown"
             and (_source(c).lstrip().startswith("<div") or re.match(r"\s*>\s*\*\*", _source(c)))]
    for i in boxes:
        if rendered.get(i) and _FORMATTING.search(rendered[i]):
            return i
    return boxes[0] if boxes else None


def _dollar(nb) -> int | None:
    """First Markdown cell with a dollar amount: escaped or not (formulas do not count), or written as USD."""
    for i, c in enumerate(nb["cells"]):
        if c["cell_type"] == "markdown":
            text = _source(c).replace("\\$", "$").replace("&#36;", "$")
            if dollar_amount(text) is not None or re.search(r"\bUSD \d", text):
                return i
    return None


def _cell_js(index: int) -> str:
    return f"window.__ossllm_nb.content.widgets[{index}].node"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--rev", default=None, help="git revision (default: the working tree)")
    ap.add_argument("--lesson", action="append", help="lessons to run (default: all eight)")
    ap.add_argument("--widths", default="480,1024,1400")
    args = ap.parse_args(argv)
    if chromium_path() is None:
        print("Chromium not found: apt-get install chromium", file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    from ossllm_helpers.pack import install_pack

    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    lessons = args.lesson or LESSONS
    widths = [int(w) for w in args.widths.split(",")]
    summary = {"rev": args.rev or "working tree", "lessons": {}}
    with tempfile.TemporaryDirectory(prefix="ossllm-shots-") as tmp:
        tmp = Path(tmp)
        course = copy_course(tmp / "course", rev=args.rev, package=args.rev is not None)
        hub = tmp / "hf" / "hub"
        install_pack(hub)
        with LabServer(course, hub_cache=hub, pythonpath=course if args.rev else None) as server, \
                sync_playwright() as pw:
            context = launch(pw)
            lab = LabPage(context, server)
            for lesson in lessons:
                nb_path = next((course / "release" / lesson).glob("*.ipynb")).relative_to(course)
                t0 = time.monotonic()
                lab.open(str(nb_path))
                lab.run_all()
                nb = lab.notebook()
                rendered = {m["index"]: m["text"] for m in lab.markdown_cells()}
                entry = {"notebook": str(nb_path), "run_all_s": round(time.monotonic() - t0, 1), "shots": []}
                n_questions = len(json.loads((course / "release" / lesson / "quiz.json").read_text())["questions"])
                kind = QUIZ_NEW
                try:
                    lab.wait_widgets(QUIZ_NEW["question"], n_questions, timeout_s=20)
                except Exception:
                    kind = QUIZ_OLD  # the RadioButtons widget of earlier revisions
                    lab.wait_widgets(".jupyter-widget-radio-box, .widget-radio-box", 1, timeout_s=30)
                lab.settle()
                for name, index in (("callout", _callout(nb, rendered)), ("dollar", _dollar(nb))):
                    if index is not None:
                        shot = lab.screenshot_of(_cell_js(index), out / f"{name}_{lesson}_cell{index:02d}.png")
                        entry["shots"].append(str(shot))
                entry["overlapping_questions"] = {}
                for width in widths:
                    for fb in (True, False):
                        lab.set_width(width)
                        lab.file_browser(fb)
                        geometry = lab.quiz_geometry(kind)
                        bad = [qi for qi, opts in enumerate(geometry) if overlaps(opts)]
                        key = f"{width}px_filebrowser_{'open' if fb else 'closed'}"
                        entry["overlapping_questions"][key] = {"questions": len(geometry), "overlapping": bad}
                        if width == 1400 and fb:
                            qi = bad[0] if bad else 0
                            qsel = kind["question"].replace("'", "\\'")
                            # the RadioButtons of earlier revisions sit in a box with their prompt
                            up = ".closest('.jupyter-widget-vbox, .widget-vbox')" if kind is QUIZ_OLD else ""
                            shot = lab.screenshot_of(
                                f"window.__ossllm_nb.content.node.querySelectorAll('{qsel}')[{qi}]{up}",
                                out / f"quiz_{lesson}_q{qi + 1:02d}_{key}.png",
                            )
                            entry["shots"].append(str(shot))
                lab.set_width(1400)
                lab.file_browser(True)
                entry["page_errors"] = list(lab.page_errors)
                lab.page_errors.clear()
                lab.close()
                summary["lessons"][lesson] = entry
                print(f"{lesson}: {entry['run_all_s']} s, overlapping at 1400 px with the file browser: "
                      f"{len(entry['overlapping_questions']['1400px_filebrowser_open']['overlapping'])}", flush=True)
            context.close()
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(out / "summary.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
