"""Craft module-test submissions, good and bad, from the released (student) notebook.

Each function takes the release notebook (nbformat node) and the source notebook, and
returns what a student would hand in. Nothing here names a question, a letter or a count:
answers, their kinds and their points are read from the source notebook (its solution
regions and nbgrader metadata), so the module test can be rewritten freely.
"""

import copy
import json
import re
from pathlib import Path

import nbformat

__all__ = ["solutions", "points", "letter_questions", "number_questions", "answered", "with_answers", "earned",
           "wrong_answer", "syntax_error", "infinite_loop", "deleted_test_cell", "deleted_question", "edited_test_cell",
           "wrong_type", "empty_notebook", "half_done", "duplicated_cell", "write_notebook"]

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


def points(source_nb) -> dict:
    """{answer name: points of its test cell}, from the nbgrader metadata ("q01_test" scores "q01")."""
    found = {}
    for cell in source_nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution"):
            found[meta["grade_id"].removesuffix("_test")] = float(meta["points"])
    return found


def letter_questions(source_nb) -> list:
    return sorted(q for q, v in solutions(source_nb).items() if v.startswith('"'))


def number_questions(source_nb) -> list:
    return sorted(q for q, v in solutions(source_nb).items() if not v.startswith('"'))


def key(source_nb) -> dict:
    """The right answers as values: {"q01": "C", "q09": 61.3125, ...}."""
    return {q: eval(v, {}) for q, v in solutions(source_nb).items()}  # the course's own solution lines


def earned(source_nb, answers: dict) -> float:
    """Points a submission's answers earn, by the key alone (an oracle independent of the grader).

    ``answers`` maps names to Python source; a letter is right when it is the key's letter,
    a number when it is within 1e-9 of the key (crafted answers are exact or far off).
    """
    right, pts, total = key(source_nb), points(source_nb), 0.0
    for name, src in answers.items():
        try:
            value = eval(src, {})
        except Exception:  # noqa: BLE001 - a crafted broken answer earns nothing
            continue
        want = right.get(name)
        if isinstance(want, str):
            ok = type(value) is str and value.strip().upper() == want
        else:
            ok = type(value) in (int, float) and abs(value - want) < 1e-9
        total += pts[name] if ok else 0.0
    return total


def wrong_answer(source_nb, name: str) -> str:
    """A well-formed wrong answer (Python source) for one question."""
    good = solutions(source_nb)[name]
    if good.startswith('"'):
        return next(f'"{x}"' for x in "ABCD" if f'"{x}"' != good)
    return repr(round(float(eval(good, {})) * 2 + 1, 3))


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


def syntax_error(release_nb, source_nb, name=None):
    """All right except one answer cell that does not parse."""
    name = name or letter_questions(source_nb)[2]
    nb = answered(release_nb, source_nb)
    cell = _answer_cell(nb, name)
    cell.source = cell.source.replace(f'{name} = "', f'{name} = "unterminated ', 1) + "\nif True print('x')"
    return nb


def infinite_loop(release_nb, source_nb, name=None):
    """All right, but one answer cell never finishes (after setting its answer)."""
    name = name or letter_questions(source_nb)[4]
    nb = answered(release_nb, source_nb)
    _answer_cell(nb, name).source += "\nwhile True:\n    pass"
    return nb


def _drop_cell(nb, grade_id):
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != grade_id]
    return nb


def deleted_test_cell(release_nb, source_nb, name=None):
    """All right, with one test cell deleted."""
    name = name or letter_questions(source_nb)[6]
    return _drop_cell(answered(release_nb, source_nb), f"{name}_test")


def deleted_question(release_nb, source_nb, name=None):
    """All right, with one question's answer and test cells both deleted (nbgrader cannot put them back)."""
    name = name or letter_questions(source_nb)[3]
    nb = answered(release_nb, source_nb)
    return _drop_cell(_drop_cell(nb, f"{name}_answer"), f"{name}_test")


def edited_test_cell(release_nb, source_nb, name=None):
    """One wrong answer whose test cell the student rewrote to pass."""
    name = name or letter_questions(source_nb)[7]
    nb = with_answers(release_nb, {**solutions(source_nb), name: wrong_answer(source_nb, name)})
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == f"{name}_test":
            cell.source += "\nassert True  # looks fine to me"
    return nb


def wrong_type(release_nb, source_nb, letter=None, number=None):
    """A number where a letter is asked and text where a number is asked; the rest right."""
    letter = letter or letter_questions(source_nb)[0]
    number = number or number_questions(source_nb)[-1]
    good = solutions(source_nb)
    return with_answers(release_nb, {**good, letter: "3", number: repr(str(eval(good[number], {})))})


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
    letters, numbers = letter_questions(source_nb), number_questions(source_nb)
    answers[letters[0]] = '"Z"'  # not a letter A-D
    answers[letters[1]] = answers.get(letters[1], good[letters[1]]).lower()  # lower case: well formed
    answers[numbers[0]] = '"about 90"'  # text where a number is asked
    return with_answers(release_nb, answers)


def duplicated_cell(release_nb, source_nb, name=None):
    """All right, with one answer cell copied and pasted below itself (metadata and all)."""
    name = name or letter_questions(source_nb)[1]
    nb = answered(release_nb, source_nb)
    i = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == f"{name}_answer")
    twin = copy.deepcopy(nb.cells[i])
    twin["id"] = twin.get("id", "x") + "-copy"
    nb.cells.insert(i + 1, twin)
    return nb


def write_notebook(nb_or_text, path: Path) -> Path:
    """Write a notebook (or raw text, for a corrupt file) to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(nb_or_text, str):
        path.write_text(nb_or_text)
    else:
        path.write_text(json.dumps(nb_or_text, indent=1))
    return path
