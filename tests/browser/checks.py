"""What a page must show after Run All: tracebacks only where expected, Markdown rendered, quiz options apart.

Pure functions over what the browser tier reads from JupyterLab (the notebook
model, rendered Markdown, option geometry), so they are tested without a browser.
"""

from __future__ import annotations

import re

from .driver import overlaps

__all__ = ["traceback_problems", "rendered_markdown_problems", "quiz_overlap_problems"]


def _text(output) -> str:
    t = output.get("text", "")
    return "".join(t) if isinstance(t, list) else t


def traceback_problems(nb: dict) -> list[str]:
    """Tracebacks other than the expected failing test of the first unanswered exercise; cells Run All skipped.

    Run All stops at the first error. In a blank lesson that must be the
    autograder test right after the first answer cell; anywhere else an error
    is a bug a student would meet.
    """
    cells = nb["cells"]
    graded = [i for i, c in enumerate(cells) if c["cell_type"] == "code"
              and (c["metadata"].get("nbgrader", {}).get("solution") or c["metadata"].get("nbgrader", {}).get("grade"))]
    first_test = next((i for i in graded if cells[i]["metadata"]["nbgrader"].get("grade")
                       and not cells[i]["metadata"]["nbgrader"].get("solution")), None)
    problems, stopped_at = [], None
    for i, cell in enumerate(cells):
        if cell["cell_type"] != "code":
            continue
        for out in cell.get("outputs", []):
            if out["output_type"] == "error":
                if stopped_at is None and i == first_test:
                    stopped_at = i
                    continue
                problems.append(f"cell {i}: {out['ename']}: {out['evalue'][:200]}")
                stopped_at = stopped_at if stopped_at is not None else i
            elif out["output_type"] == "stream" and "Traceback (most recent call last)" in _text(out):
                problems.append(f"cell {i}: traceback printed on {out['name']}: {_text(out)[-200:]!r}")
    end = stopped_at if stopped_at is not None else len(cells)
    skipped = [i for i in range(end) if cells[i]["cell_type"] == "code" and cells[i]["source"]
               and cells[i].get("execution_count") is None]
    if skipped:
        problems.append(f"cells {skipped} before the first expected failure did not run")
    return problems


# Six identifiers side by side: words set as a formula ("Under $500 for the data and under $100").
_PROSE_AS_MATHS = 6
# Markdown left unrendered: **, a backtick, or *a word* between single asterisks.
_LITERAL = re.compile(r"\*\*|`|(?<![\w*])\*[^\s*][^*\n]*(?<!\s)\*(?![\w*])")


def rendered_markdown_problems(cells: list[dict]) -> list[str]:
    """Literal **, backticks or *italics* in rendered Markdown (code and maths left out); prose typeset as maths."""
    problems = []
    for cell in cells:
        if any(run >= _PROSE_AS_MATHS for run in cell["math"]):
            problems.append(f"cell {cell['index']}: words typeset as maths (dollar amounts read as a formula?)")
        if cell["text"] is None:
            problems.append(f"cell {cell['index']}: Markdown not rendered")
            continue
        m = _LITERAL.search(cell["text"])
        if m:
            snippet = " ".join(cell["text"][max(0, m.start() - 40) : m.start() + 40].split())
            problems.append(f"cell {cell['index']}: literal {m.group(0)[:20]!r} in rendered text: {snippet!r}")
    return problems


def quiz_overlap_problems(geometry: list[list[dict]], where: str) -> list[str]:
    """One line per pair of options, in any question, whose drawn extents intersect."""
    return [
        f"{where}: question {qi + 1}: options {a + 1} and {b + 1} overlap ({opts[a]['text'][:40]!r} / {opts[b]['text'][:40]!r})"
        for qi, opts in enumerate(geometry) for a, b in overlaps(opts)
    ]
