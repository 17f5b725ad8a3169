"""Craft module-test submissions, good and bad, from the released (student) notebook.

Each function takes the release notebook (nbformat node) and returns what a
student would hand in; ``write_class`` lays a whole class out as a folder of
submitted notebooks, the way an instructor receives them.
"""

import copy
import json
import re
from pathlib import Path

import nbformat

__all__ = ["solutions", "answered", "with_answers", "syntax_error", "infinite_loop", "deleted_test_cell", "deleted_question",
           "edited_test_cell", "wrong_type", "empty_notebook", "half_done", "write_notebook"]

_SOLUTION = re.compile(r"### BEGIN SOLUTION\n(.*?)\n### END SOLUTION", re.S)


def solutions(source_nb) -> dict:
    """The right answers, read from the source notebook's solution regions: {"q01": '"C"', ...} (Python source)."""
    found = {}
    for cell in source_nb.cells:
        m = _SOLUTION.search(cell.source)
        if cell.cell_type == "code" and m:
            name, _, value = m.group(1).partition(" = ")
            found[name.strip()] = value.strip()
    return found


def _answer_cell(nb, name):
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == f"{name}_answer":
            return cell
    raise KeyError(name)


def with_answers(release_nb, answers: dict):
    """A copy of the release notebook with each answer cell's stub replaced by ``name = <source>``."""
    nb = copy.deepcopy(release_nb)
    for name, src in answers.items():
        cell = _answer_cell(nb, name)
        cell.source = cell.source.replace("# YOUR ANSWER HERE", f"{name} = {src}")
    return nb


def answered(release_nb, source_nb):
    """Every question answered right."""
    return with_answers(release_nb, solutions(source_nb))


def syntax_error(release_nb, source_nb, name="q03"):
    """All right except one answer cell that does not parse."""
    nb = answered(release_nb, source_nb)
    cell = _answer_cell(nb, name)
    cell.source = cell.source.replace(f'{name} = "', f'{name} = "unterminated ', 1) + "\nif True print('x')"
    return nb


def infinite_loop(release_nb, source_nb, name="q05"):
    """All right, but one answer cell never finishes."""
    nb = answered(release_nb, source_nb)
    _answer_cell(nb, name).source += "\nwhile True:\n    pass"
    return nb


def _drop_cell(nb, grade_id):
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != grade_id]
    return nb


def deleted_test_cell(release_nb, source_nb, name="q07"):
    """All right, with one test cell deleted."""
    return _drop_cell(answered(release_nb, source_nb), f"{name}_test")


def deleted_question(release_nb, source_nb, name="q04"):
    """All right, with one question's answer and test cells both deleted (nbgrader cannot put them back)."""
    nb = answered(release_nb, source_nb)
    return _drop_cell(_drop_cell(nb, f"{name}_answer"), f"{name}_test")


def edited_test_cell(release_nb, source_nb, name="q08"):
    """One wrong answer whose test cell the student rewrote to pass."""
    good = solutions(source_nb)
    wrong = next(f'"{x}"' for x in "ABCD" if f'"{x}"' != good[name])
    nb = with_answers(release_nb, {**good, name: wrong})
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == f"{name}_test":
            cell.source += "\nassert True  # looks fine to me"
    return nb


def wrong_type(release_nb, source_nb, letter="q01", number="q19"):
    """A number where a letter is asked and text where a number is asked; the rest right."""
    good = solutions(source_nb)
    return with_answers(release_nb, {**good, letter: "3", number: repr(str(eval(good[number])))})


def empty_notebook(release_nb=None, source_nb=None):
    """A valid notebook with no cells (a student who saved over the file)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata = copy.deepcopy(release_nb.metadata) if release_nb is not None else nb.metadata
    return nb


def half_done(release_nb, source_nb):
    """The first half answered (some wrong), two malformed answers, the rest left as None."""
    good = solutions(source_nb)
    names = sorted(good)
    answers = {n: good[n] for n in names[: len(names) // 2]}
    answers[names[0]] = '"Z"'       # not a letter A-D
    answers["q02"] = '"a"'          # well formed (lower case is accepted), maybe wrong
    numbers = [n for n in names if not good[n].startswith('"')]
    answers[numbers[0]] = '"about 90"'  # text where a number is asked
    return with_answers(release_nb, answers)


def write_notebook(nb_or_text, path: Path) -> Path:
    """Write a notebook (or raw text, for a corrupt file) to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(nb_or_text, str):
        path.write_text(nb_or_text)
    else:
        path.write_text(json.dumps(nb_or_text, indent=1))
    return path
