"""Markdown that JupyterLab would not render as written: Markdown inside HTML blocks, dollar amounts read as maths.

    python tests/browser/markdown_check.py [NOTEBOOK_OR_FOLDER ...]

With no argument it checks every notebook under source/, release/ and
notebooks/. The rules follow CommonMark (JupyterLab's renderer does the same):
an HTML block runs from a line that opens with a block tag such as ``<div``
to the next blank line and its content is passed through untouched, so
``**bold**``, backticks, ``*italics*`` and links inside it print literally.
JupyterLab typesets maths after rendering: two dollars in one paragraph,
list item or table cell make a formula ("Under $500 ... $100" becomes italic
maths). Its escapes differ from CommonMark's (jupyterlab/jupyterlab#8645):
in Markdown text ``\\$`` does not protect a dollar (the renderer removes
the backslash before maths is looked for) and ``\\\\$`` does; inside an HTML
block ``\\$`` protects it and ``&#36;`` does not. A lone dollar renders as
written; so does a formula such as ``$4d$``.
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
_DOLLAR = re.compile(r"(\\*)\$")
_ENTITY = re.compile(r"&#36;|&#x24;|&dollar;", re.I)
_AMOUNT = re.compile(r"\$\s?\d")
# Two plain words in a row: prose, not a formula (TeX words sit in \text{...} or follow a backslash).
_PROSE = re.compile(r"(?<![\\{])\b[A-Za-z]{2,}\s+[A-Za-z]{2,}\b")
_CODE_SPAN = re.compile(r"(`+)(?!`).+?(?<!`)\1(?!`)", re.S)
# Where MathJax stops looking for a closing dollar: a new paragraph, list item or table cell.
_TEXT_BREAK = re.compile(r"\n\s*\n|\n(?=\s*(?:[-*+]|\d+[.)])\s)|(?<!\\)\|")
_HTML_BREAK = re.compile(r"\n\s*\n|</?(?:p|div|li|td|th|tr|ul|ol|table|blockquote|h\d)\b[^>]*>", re.I)


def _parser():
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").enable("table")


def _delimiters(segment: str, html: bool) -> list[int]:
    """Offsets of the dollars MathJax treats as delimiters in one block of text."""
    out = []
    for m in _DOLLAR.finditer(segment):
        backslashes = len(m.group(1))
        # Markdown rendering halves the backslashes before MathJax sees them; HTML blocks keep them
        seen = backslashes if html else backslashes // 2
        if seen % 2 == 0:
            out.append(m.end() - 1)
    return out


def _segments(text: str, breaks: re.Pattern):
    start = 0
    for m in breaks.finditer(text):
        yield start, text[start : m.start()]
        start = m.end()
    yield start, text[start:]


def dollar_amount(text: str, *, html: bool = False) -> int | None:
    """Offset of the first dollar amount JupyterLab would typeset as part of a formula, else None.

    Dollars pair up within a paragraph, list item or table cell. A pair is
    fine when what lies between reads as maths (``$4d$``); it is an amount
    read as maths when prose lies between (``$20 a month ... $1M``) or both
    dollars start numbers (``$2 and $3``). ``html`` applies the escapes of an
    HTML block instead of those of Markdown text.
    """
    text = _ENTITY.sub("$", text)  # the browser decodes it before MathJax looks
    for offset, segment in _segments(text, _HTML_BREAK if html else _TEXT_BREAK):
        dollars = _delimiters(segment, html)
        k = 0
        while k + 1 < len(dollars):
            start, end = dollars[k], dollars[k + 1]
            if segment[start + 1 : start + 2] == "$":  # $$display maths$$: skip to its end
                close = [d for d in dollars[k + 2 :] if segment[d - 1 : d] == "$"]
                k = dollars.index(close[0]) + 1 if close else len(dollars)
                continue
            inner = re.sub(r"\\text\{[^}]*\}", " ", segment[start + 1 : end])
            if _PROSE.search(inner) or (_AMOUNT.match(segment, start) and _AMOUNT.match(segment, end)):
                hit = start if _AMOUNT.match(segment, start) else end
                return offset + hit
            k += 2
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
            at = dollar_amount(tok.content, html=True)
            if at is not None:
                problems.append(f"dollar amount typeset as maths (in an HTML block write \\$): "
                                f"{_snippet(tok.content, at)!r}")
        elif tok.type in ("fence", "code_block"):
            code_lines |= span
    text = "\n".join(line for i, line in enumerate(lines) if i not in html_lines and i not in code_lines)
    text = _CODE_SPAN.sub(lambda m: " " * len(m.group(0)), text)
    at = dollar_amount(text)
    if at is not None:
        problems.append(f"dollar amount typeset as maths (in Markdown text write \\\\$, or one amount per "
                        f"paragraph): {_snippet(text, at)!r}")
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
