"""Lesson text sources: each assignment's notebook is built from a MyST Markdown file beside it.

Authors edit ``source/<assignment>/<notebook>.md`` (jupytext's MyST format: prose as
Markdown, code in ``code-cell`` blocks, nbgrader's cell metadata in each cell's
metadata). ``build`` turns it into the ``.ipynb`` nbgrader reads, deterministically:

- ``{{ name }}`` placeholders are filled from one place (``course_facts``): the Colab
  badge, the setup cell, the pass mark, points read from the notebook's own test cells,
  the lesson's section numbers;
- every cell gets a stable id (its ``grade_id``, else a hash of its text);
- notebook metadata is fixed, and there are no outputs.

``check`` says which committed notebooks differ from what their text would build.
"""

import hashlib
import math
import re
from pathlib import Path

import jupytext
import nbformat

from .colab import badge_markdown, setup_cell_source
from .constants import PASS_PERCENT
from .errors import LessonSourceError

__all__ = ["TEXT_SUFFIX", "text_source", "build", "build_all", "check", "sections", "course_facts"]

TEXT_SUFFIX = ".md"
_FORMAT = "md:myst"
_KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)(?::([A-Za-z0-9_]+))?\s*\}\}")
_SECTION = re.compile(r"^##\s+(\d+)\.\s+(.+?)\s*$", re.M)


def text_source(notebook: Path) -> Path:
    """The text source of a notebook: same folder, same name, ``.md``."""
    return Path(notebook).with_suffix(TEXT_SUFFIX)


def _grade(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def sections(nb) -> list[tuple[str, str]]:
    """The numbered content sections (``## N. Title``) of a notebook: [("1", "Title"), ...]."""
    found = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            found.extend(_SECTION.findall(cell.source))
    return found


def course_facts(nb, release_path: str) -> dict:
    """Values for the placeholders of one notebook, computed from the course's one home for each fact."""
    points = {g["grade_id"]: g["points"] for g in map(_grade, nb.cells) if g.get("grade") and "points" in g}
    total = sum(points.values())
    auto = sum(p for c in nb.cells for p in [_grade(c).get("points", 0)] if _grade(c).get("grade") and c.cell_type == "code")
    return {
        "colab_badge": badge_markdown(release_path),
        "setup_cell": setup_cell_source(),
        "pass_percent": str(PASS_PERCENT),
        "total_points": _num(total),
        "auto_points": _num(auto),
        "pass_points": _num(math.ceil(total * PASS_PERCENT / 100)),
        "questions": str(sum(1 for g in map(_grade, nb.cells) if re.fullmatch(r"q\d+_test", g.get("grade_id", "")))),
        "section_numbers": repr(sorted({n for n, _ in sections(nb)}, key=int)),
        "points": points,
    }


def _num(x) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _fill(text: str, facts: dict, where: str, *, strict: bool) -> str:
    def one(m):
        name, arg = m.group(1), m.group(2)
        if name in ("points", "points_label"):
            if arg not in facts["points"]:
                raise LessonSourceError(where, f"{{{{ {name}:{arg} }}}} names no graded cell with points; "
                                        f"graded cells: {', '.join(sorted(facts['points'])) or 'none'}")
            value = _num(facts["points"][arg])
            return value if name == "points" else f"{value} point" + ("" if value == "1" else "s")
        if name in facts and arg is None:
            return facts[name]
        if not strict:
            return m.group(0)
        known = ", ".join(sorted(k for k in facts if k != "points")) + ", points:<grade_id>, points_label:<grade_id>"
        raise LessonSourceError(where, f"unknown placeholder {m.group(0)!r}; known: {known}")

    return _PLACEHOLDER.sub(one, text)


def _cell_id(cell, seen: set) -> str:
    base = _grade(cell).get("grade_id") or hashlib.sha1(f"{cell.cell_type}\0{cell.source}".encode()).hexdigest()[:12]
    base = re.sub(r"[^A-Za-z0-9_-]", "-", base)[:60]
    cid, n = base, 2
    while cid in seen:
        cid, n = f"{base}-{n}", n + 1
    seen.add(cid)
    return cid


def build(text_path: Path, root: Path | None = None):
    """The notebook (an nbformat node) that a text source describes."""
    text_path = Path(text_path)
    try:
        nb = jupytext.read(text_path, fmt=_FORMAT)
    except Exception as exc:  # jupytext raises several kinds; the author needs the file name
        raise LessonSourceError(text_path, f"jupytext could not read it: {exc}") from exc
    folder = text_path.parent
    release_path = f"release/{folder.name}/{text_path.stem}.ipynb"
    facts = course_facts(nb, release_path)
    seen: set = set()
    cells = []
    for index, cell in enumerate(nb.cells):
        where = f"{text_path.name}, cell {index + 1}"
        source = cell.source
        if cell.cell_type == "code" and _grade(cell).get("grade_id") == "setup":
            source = facts["setup_cell"]
        else:
            source = _fill(source, facts, where, strict=cell.cell_type == "markdown")
        meta = {k: v for k, v in cell.metadata.items() if k not in ("execution",)}
        if cell.cell_type == "code":
            new = nbformat.v4.new_code_cell(source, metadata=meta)
        elif cell.cell_type == "markdown":
            new = nbformat.v4.new_markdown_cell(source, metadata=meta)
        else:
            new = nbformat.v4.new_raw_cell(source, metadata=meta)
        new.id = _cell_id(new, seen)
        cells.append(new)
    out = nbformat.v4.new_notebook(cells=cells)
    out.metadata = {"kernelspec": dict(_KERNELSPEC), "language_info": {"name": "python"}}
    nbformat.validate(out)
    return out


def _notebooks(root: Path, names=None) -> list[Path]:
    out = []
    for folder in sorted(p for p in (Path(root) / "source").iterdir() if p.is_dir()):
        if names and folder.name not in names:
            continue
        out.extend(sorted(folder.glob(f"*{TEXT_SUFFIX}")))
    return out


def _dump(nb) -> str:
    return nbformat.writes(nb) + "\n"


def build_all(root: Path, names=None) -> list[Path]:
    """Write every ``source/<assignment>/<notebook>.ipynb`` from its text source; returns those that changed."""
    changed = []
    for text in _notebooks(root, names):
        target = text.with_suffix(".ipynb")
        new = _dump(build(text, root))
        if not target.is_file() or target.read_text(encoding="utf-8") != new:
            target.write_text(new, encoding="utf-8")
            changed.append(target)
    return changed


def check(root: Path, names=None) -> list[str]:
    """Problems: text sources whose notebook is missing or differs, and notebooks without a text source."""
    problems = []
    for text in _notebooks(root, names):
        target = text.with_suffix(".ipynb")
        if not target.is_file():
            problems.append(f"{target.relative_to(root)} is missing: run ./course release")
        elif target.read_text(encoding="utf-8") != _dump(build(text, root)):
            problems.append(f"{target.relative_to(root)} differs from {text.name}: run ./course release "
                            "(edit the .md, never the .ipynb)")
    for nb in sorted((Path(root) / "source").glob("*/*.ipynb")):
        if names and nb.parent.name not in names:
            continue
        if not text_source(nb).is_file():
            problems.append(f"{nb.relative_to(root)} has no text source {text_source(nb).name}")
    return problems
