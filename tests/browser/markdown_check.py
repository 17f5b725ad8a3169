"""Markdown that JupyterLab would not render as written: Markdown inside HTML blocks, dollar amounts read as maths.

    python tests/browser/markdown_check.py [NOTEBOOK_OR_FOLDER ...]

With no argument it checks every notebook under source/, release/ and
notebooks/. The rules follow CommonMark (JupyterLab's renderer does the same):
an HTML block runs from a line that opens with a block tag such as ``<div``
to the next blank line and its content is passed through untouched, so
``**bold**``, backticks, ``*italics*`` and links inside it print literally.
JupyterLab looks for maths before rendering: an unescaped ``$`` followed by a
number starts a formula ("Under $500 ... $100" becomes italic maths). Write
``\\$`` in Markdown text and ``&#36;`` inside an HTML block, where a backslash
is printed as is.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

__all__ = ["dollar_amount", "markdown_problems", "notebook_problems", "course_notebooks"]

ROOT = Path(__file__).resolve().parents[2]

_TAG = re.compile(r"<[^>]+>")
_MARKDOWN_IN_HTML = [
    (re.compile(r"\*\*\S(?:.*?\S)?\*\*", re.S), "**bold**"),
    (re.compile(r"__\S(?:.*?\S)?__", re.S), "__bold__"),
    (re.compile(r"`[^`\n]+`"), "`code`"),
    (re.compile(r"(?<![\w*])\*[^\s*](?:[^*\n]*[^\s*])?\*(?![\w*])"), "*italics*"),
    (re.compile(r"\[[^\]\n]+\]\([^)\s]+\)"), "[link](url)"),
]
_DOLLAR = re.compile(r"(?<!\\)\$")
_DISPLAY_MATHS = re.compile(r"(?<!\\)\$\$.+?(?<!\\)\$\$", re.S)
_AMOUNT = re.compile(r"\$\s?\d")
# Two plain words in a row: prose, not a formula (TeX words sit in \text{...} or follow a backslash).
_PROSE = re.compile(r"(?<![\\{])\b[A-Za-z]{2,}\s+[A-Za-z]{2,}\b")
_ESCAPED_DOLLAR = re.compile(r"\\\$")
_CODE_SPAN = re.compile(r"(`+)(?!`).+?(?<!`)\1(?!`)", re.S)


def _parser():
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").enable("table")


def dollar_amount(text: str) -> int | None:
    """Offset of the first unescaped ``$`` amount that is not part of a formula, else None.

    JupyterLab pairs unescaped dollars into ``$...$`` formulas. A pair is a
    formula when what lies between reads as maths; ``$20 a month ... $1M``
    pairs into prose, ``$2 and $3`` into two amounts, and a lone ``$600`` turns into maths as soon as another
    dollar follows it, so both count as amounts.
    """
    text = _DISPLAY_MATHS.sub(lambda m: " " * len(m.group(0)), text)
    dollars = [m.start() for m in _DOLLAR.finditer(text)]
    k = 0
    while k < len(dollars):
        start = dollars[k]
        if k + 1 < len(dollars):
            end = dollars[k + 1]
            inner = re.sub(r"\\text\{[^}]*\}", " ", text[start + 1 : end])
            two_amounts = _AMOUNT.match(text, start) and _AMOUNT.match(text, end)  # "$2 and $3"
            if not _PROSE.search(inner) and not two_amounts:
                k += 2  # a formula: skip its closing dollar
                continue
        if _AMOUNT.match(text, start):
            return start
        k += 1
    return None


def _snippet(text: str, start: int, width: int = 70) -> str:
    lo = max(0, start - 20)
    return " ".join(text[lo : lo + width].split())


def markdown_problems(source: str) -> list[str]:
    """What in one Markdown cell would not render as written (empty when it renders as written)."""
    tokens = _parser().parse(source)
    lines = source.split("\n")
    problems = []
    html_lines, code_lines = set(), set()
    for tok in tokens:
        if tok.map is None:
            continue
        span = set(range(tok.map[0], tok.map[1]))
        if tok.type == "html_block":
            html_lines |= span
            text = _TAG.sub(" ", tok.content)
            for pattern, what in _MARKDOWN_IN_HTML:
                m = pattern.search(text)
                if m:
                    problems.append(f"Markdown {what} inside an HTML block prints literally: {_snippet(text, m.start())!r}")
                    break
            at = dollar_amount(tok.content)
            if at is not None:
                problems.append(f"unescaped dollar amount typesets as maths (write &#36;): "
                                f"{_snippet(tok.content, at)!r}")
            m = _ESCAPED_DOLLAR.search(tok.content)
            if m:
                problems.append(f"\\$ inside an HTML block prints its backslash (write &#36;): "
                                f"{_snippet(tok.content, m.start())!r}")
        elif tok.type in ("fence", "code_block"):
            code_lines |= span
    text = "\n".join(line for i, line in enumerate(lines) if i not in html_lines and i not in code_lines)
    text = _CODE_SPAN.sub(lambda m: " " * len(m.group(0)), text)
    at = dollar_amount(text)
    if at is not None:
        problems.append(f"unescaped dollar amount typesets as maths (write \\$): {_snippet(text, at)!r}")
    return problems


def notebook_problems(path) -> list[str]:
    """``markdown_problems`` for every Markdown cell of a notebook, each prefixed with its cell number."""
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    out = []
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "markdown":
            continue
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        out += [f"cell {i}: {p}" for p in markdown_problems(source)]
    return out


def course_notebooks(root: Path = ROOT) -> list[Path]:
    """Every source, release and companion notebook."""
    return sorted(
        p for folder in ("source", "release", "notebooks") for p in (root / folder).rglob("*.ipynb")
        if ".ipynb_checkpoints" not in p.parts
    )


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    paths = []
    for a in args:
        p = Path(a)
        paths += sorted(p.rglob("*.ipynb")) if p.is_dir() else [p]
    bad = 0
    for path in paths or course_notebooks():
        for problem in notebook_problems(path):
            print(f"{path}: {problem}")
            bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
