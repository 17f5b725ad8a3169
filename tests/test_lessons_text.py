"""Lessons as text: every source notebook is built from its MyST text, and nothing of the text reaches release/."""

import re
import shutil
from pathlib import Path

import nbformat
import pytest

from ossllm_helpers import lessons
from ossllm_helpers.errors import LessonSourceError

ROOT = Path(__file__).resolve().parents[1]
TEXTS = sorted(ROOT.glob("source/*/*" + lessons.TEXT_SUFFIX))
_REGION = re.compile(r"^[ \t]*### BEGIN (SOLUTION|HIDDEN TESTS)\n(.*?)\n[ \t]*### END (?:SOLUTION|HIDDEN TESTS?)", re.S | re.M)


def test_every_assignment_has_a_text_source():
    """One text source per assignment folder, beside its notebook."""
    folders = sorted(p.parent.name for p in ROOT.glob("source/*/*.ipynb"))
    assert folders and sorted(p.parent.name for p in TEXTS) == folders


def test_notebooks_equal_their_text_sources():
    """Each committed source notebook is exactly what its text builds (edit the .md, then ./course release)."""
    assert lessons.check(ROOT) == []


def test_check_names_a_notebook_edited_by_hand(tmp_path):
    """Editing the .ipynb instead of the .md is caught, with the file and the fix named."""
    course = tmp_path / "course"
    shutil.copytree(ROOT / "source" / "lesson08", course / "source" / "lesson08")
    nb_path = next((course / "source" / "lesson08").glob("*.ipynb"))
    nb = nbformat.read(nb_path, as_version=4)
    nb.cells[2].source += "\nA sentence added to the JSON only."
    nbformat.write(nb, nb_path)
    (problem,) = lessons.check(course)
    assert nb_path.name in problem and "edit the .md" in problem


def _secrets(nb) -> list[str]:
    """Lines an answer key is made of: solution bodies and hidden tests that the lesson does not also show openly."""
    public = "\n".join(_REGION.sub("", cell.source) for cell in nb.cells)
    lines = []
    for cell in nb.cells:
        for _, body in _REGION.findall(cell.source):
            lines += [ln.strip() for ln in body.splitlines()
                      if len(ln.strip()) >= 12 and not ln.strip().startswith("#") and ln.strip() not in public]
    return lines


def release_leaks(root: Path) -> list[str]:
    """Every text source, plain quiz key, solution line or hidden-test line found anywhere in release/."""
    leaks = []
    for path in sorted((root / "release").rglob("*")):
        if not path.is_file():
            continue
        rel = path.relative_to(root)
        if path.suffix == lessons.TEXT_SUFFIX or path.name.endswith(".answers.json"):
            leaks.append(f"{rel}: a source-only file")
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        source_nb = next((root / "source" / path.parent.name).glob("*.ipynb"), None)
        if source_nb is None:
            continue
        for line in _secrets(nbformat.read(source_nb, as_version=4)):
            if line in text or line.replace('"', '\\"') in text:
                leaks.append(f"{rel}: {line[:60]!r}")
    return leaks


def test_release_leaks_nothing_of_the_answers():
    """No text source, quiz key, solution or hidden test anywhere in release/ (every file, not only notebooks)."""
    assert release_leaks(ROOT) == []


def test_leak_scan_catches_planted_leaks(tmp_path):
    """The scan above finds a text source, a solution line and a hidden test planted in a release folder."""
    for part in ("source", "release"):
        shutil.copytree(ROOT / part / "lesson08", tmp_path / part / "lesson08")
    release = tmp_path / "release" / "lesson08"
    shutil.copy(next((tmp_path / "source" / "lesson08").glob("*.md")), release / "notes.md")
    source_nb = nbformat.read(next((tmp_path / "source" / "lesson08").glob("*.ipynb")), as_version=4)
    solution, hidden = None, None
    for cell in source_nb.cells:
        for kind, body in _REGION.findall(cell.source):
            longest = max(body.splitlines(), key=len).strip()
            if kind == "SOLUTION":
                solution = solution or longest
            else:
                hidden = hidden or longest
    (release / "helper.py").write_text(solution + "\n")
    (release / "data.json").write_text('{"x": "' + hidden.replace('"', '\\"') + '"}')
    leaks = release_leaks(tmp_path)
    assert any("notes.md" in x for x in leaks)
    assert any("helper.py" in x for x in leaks)
    assert any("data.json" in x for x in leaks)


def _text(tmp_path, body: str) -> Path:
    folder = tmp_path / "source" / "lessonXX"
    folder.mkdir(parents=True)
    path = folder / "lessonXX_demo.md"
    path.write_text(
        "---\njupytext:\n  text_representation:\n    extension: .md\n    format_name: myst\n"
        "kernelspec:\n  display_name: Python 3 (ipykernel)\n  language: python\n  name: python3\n---\n\n" + body
    )
    return path


def test_placeholders_come_from_one_place(tmp_path):
    """Pass mark, points and section numbers are filled in by the builder, not typed by hand."""
    from ossllm_helpers.constants import PASS_PERCENT

    path = _text(tmp_path, (
        "## 1. First\n\nPass at {{ pass_percent }}%; exercise worth {{ points:ex1_tests }} points of {{ total_points }}.\n\n"
        "## 2. Second\n\n```{code-cell}\n---\nnbgrader:\n  grade: true\n  grade_id: ex1_tests\n  locked: true\n"
        "  points: 3\n  schema_version: 3\n  solution: false\n---\nassert str(2) in {{ section_numbers }}\n```\n"
    ))
    nb = lessons.build(path)
    assert f"Pass at {PASS_PERCENT}%; exercise worth 3 points of 3." in nb.cells[0].source
    assert nb.cells[-1].source == "assert str(2) in ['1', '2']"


def test_unknown_placeholder_is_a_typed_error(tmp_path):
    """A misspelt placeholder names the file, the cell and the names that exist."""
    path = _text(tmp_path, "Pass at {{ pass_precent }}%.\n")
    with pytest.raises(LessonSourceError) as err:
        lessons.build(path)
    assert "lessonXX_demo.md" in str(err.value) and "pass_percent" in str(err.value)
    assert isinstance(err.value, ValueError)


def test_points_placeholder_must_name_a_graded_cell(tmp_path):
    """{{ points:x }} for a cell that does not exist is an error that lists the graded cells."""
    path = _text(tmp_path, "Worth {{ points:ex9_tests }} points.\n")
    with pytest.raises(LessonSourceError, match="names no graded cell"):
        lessons.build(path)


def test_build_is_deterministic_with_unique_ids():
    """Two builds of the same text are identical; cell ids are unique, and grade_ids where there is one."""
    text = TEXTS[0]
    a, b = lessons.build(text), lessons.build(text)
    assert nbformat.writes(a) == nbformat.writes(b)
    ids = [c.id for c in a.cells]
    assert len(ids) == len(set(ids))
    for cell in a.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id:
            assert cell.id == grade_id
