"""Every lesson on one template, rendered as written, with visible tests that teach; quizzes that measure knowledge.

Checks the MyST text sources (fast: no kernel). The template is described in CONTRIBUTING.md.
"""

import ast
import json
import re
from pathlib import Path

import jupytext
import pytest

import content_lint

ROOT = Path(__file__).resolve().parents[1]
LESSONS = sorted(p.name for p in ROOT.glob("source/lesson*") if p.is_dir())


BACK_MATTER = ["Key terms", "Quiz", "Lab", "Graded exercises", "Check yourself", "Going further", "Sources"]


def _nb(lesson: str):
    (text,) = (ROOT / "source" / lesson).glob("*.md")
    return jupytext.read(text, fmt="md:myst")


def _markdown(nb) -> list[str]:
    return [c.source for c in nb.cells if c.cell_type == "markdown"]


def _h2(nb) -> list[str]:
    return [h for src in _markdown(nb) for h in re.findall(r"^## (.+?)\s*$", src, re.M)]


@pytest.mark.parametrize("lesson", LESSONS)
def test_header_follows_the_template(lesson):
    """Title "Lesson N · Title", the question, objectives, prerequisites and a time split."""
    header = _markdown(_nb(lesson))[0]
    n = int(lesson.removeprefix("lesson"))
    assert re.search(rf"^# Lesson {n} · \S", header, re.M), "title must read 'Lesson N · Title'"
    for label in ("**The question this lesson answers:**", "**You will be able to**", "**Prerequisites:**"):
        assert label in header, f"header lacks {label}"
    assert re.search(r"\*\*Time:\*\* about \d+ minutes \(reading \d+, quiz \d+, lab \d+, exercises \d+\)", header), \
        "time line must read '**Time:** about T minutes (reading a, quiz b, lab c, exercises d)'"


@pytest.mark.parametrize("lesson", LESSONS)
def test_sections_in_template_order(lesson):
    """Numbered content sections first, then the back matter, unnumbered, in the template's order."""
    n = int(lesson.removeprefix("lesson"))
    heads = _h2(_nb(lesson))
    numbered = [h for h in heads if re.match(r"\d+\. ", h)]
    assert numbered, "no numbered content sections"
    assert [int(h.split(".")[0]) for h in numbered] == list(range(1, len(numbered) + 1)), numbered
    assert heads[: len(numbered)] == numbered, "numbered sections come before the back matter"
    back = heads[len(numbered):]
    want = [f"Lab {n} · " if b == "Lab" else b for b in BACK_MATTER]
    assert len(back) == len(want) and all(h.startswith(w) for h, w in zip(back, want)), \
        f"back matter must be {want}, got {back}"


@pytest.mark.parametrize("lesson", LESSONS)
def test_lab_title_and_points_in_headings(lesson):
    """lab.json's title matches the Lab heading; every graded exercise heading states its points."""
    n = int(lesson.removeprefix("lesson"))
    lab = json.loads((ROOT / "source" / lesson / "lab.json").read_text())
    assert lab["title"].startswith(f"Lab {n} · "), lab["title"]
    assert f"## {lab['title']}" in "\n".join(_markdown(_nb(lesson)))
    for src in _markdown(_nb(lesson)):
        for head in re.findall(r"^### ((?:Exercise \d+|Lab \d+) .+)$", src, re.M):
            assert re.search(r"\(\{\{ points_label:\w+ \}\}", head), f"heading without points: {head}"


@pytest.mark.parametrize("lesson", LESSONS)
def test_sources_say_when_checked(lesson):
    """The Sources section says on which date its facts were checked."""
    text = "\n".join(_markdown(_nb(lesson)))
    sources = text.split("## Sources", 1)[1]
    assert re.search(r"[Cc]hecked (on )?\d{4}-\d{2}-\d{2}", sources), "Sources must say 'checked YYYY-MM-DD'"


@pytest.mark.parametrize("lesson", LESSONS)
def test_rendered_as_written(lesson):
    """No Markdown inside HTML blocks (it prints literally) and no dollar sign in text (JupyterLab may typeset maths)."""
    for src in _markdown(_nb(lesson)):
        for block in re.findall(r"<(div|p|span)\b[^>]*>(.*?)</\1>", src, re.S):
            assert not re.search(r"\*\*|`|(?<!\w)\*\w", block[1]), f"Markdown inside HTML: {block[1][:80]}"
        text = re.sub(r"`[^`]*`", "", src)
        # Escaping is not portable (JupyterLab needs two backslashes, other viewers show them): write "USD 20".
        assert "$" not in text, f"dollar sign in Markdown text (write USD 20, or put code in backticks): {src[:80]}"


def _names_used(src: str) -> set[str]:
    try:
        tree = ast.parse(src)
    except SyntaxError:
        return set()
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _names_set(src: str) -> set[str]:
    try:
        tree = ast.parse(src)
    except SyntaxError:
        return set()
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            out.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            out.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            out.update((a.asname or a.name).split(".")[0] for a in node.names)
    return out


@pytest.mark.parametrize("lesson", LESSONS)
def test_exercise_data_defined_before_the_first_graded_cell(lesson):
    """Run All stops at the first failing test: data that later tests use must be defined before it."""
    cells = [c for c in _nb(lesson).cells if c.cell_type == "code"]
    meta = [c.metadata.get("nbgrader", {}) for c in cells]
    first_test = next(i for i, m in enumerate(meta) if m.get("grade"))
    late = {}
    for i, (c, m) in enumerate(zip(cells, meta)):
        if i > first_test and not m.get("grade") and not m.get("solution"):
            for name in _names_set(c.source):
                late.setdefault(name, i)
    for i, (c, m) in enumerate(zip(cells, meta)):
        if m.get("grade"):
            own = _names_set(c.source)  # the test's own variables (loop and comprehension names too)
            used = {name for name in _names_used(c.source) - own if late.get(name, 10**9) < i}
            assert not used, f"{m['grade_id']} uses {sorted(used)}, defined after the first graded cell"


@pytest.mark.parametrize("lesson", LESSONS)
def test_visible_asserts_say_what_is_wrong(lesson):
    """Every visible assert in a test cell carries a message (hidden tests may stay terse)."""
    for c in _nb(lesson).cells:
        if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade"):
            visible = re.sub(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS?", "", c.source, flags=re.S)
            for node in ast.walk(ast.parse(visible)):
                if isinstance(node, ast.Assert):
                    assert node.msg is not None, f"{c.metadata['nbgrader']['grade_id']}: assert without a message: " \
                        + ast.unparse(node)[:80]


@pytest.mark.parametrize("assessment", content_lint.assessments(ROOT), ids=lambda a: a.name)
def test_assessment_cannot_be_passed_by_test_taking(assessment):
    """Answer length, position, letters and absolute words give nothing away (figures: tests/content_lint.py)."""
    assert content_lint.problems(assessment) == []
