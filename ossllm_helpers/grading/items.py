"""The item analysis: how each question of an assignment worked, from the gradebook and the answers as graded.

Per question: its *difficulty* (the share of the points students earned on it; for a
question scored all or nothing, the share who got it right), its *discrimination* (the
corrected item-total correlation: Pearson's r between the question's score and the rest
score, the student's total without that question; for a right/wrong question this is the
point-biserial correlation), and for a multiple-choice question how often each option was
chosen, by everyone and by the upper group (the 27% of students with the highest rest
scores, ties at the boundary included). Flags: nearly everyone right, nearly no one right,
low or negative discrimination, a likely wrong key (a wrong option at least half of the upper
group chose, two students at least, more than chose the key, and more often than the rest of the
class did). For the whole test: the score distribution against the pass mark and Cronbach's
alpha (KR-20 for right/wrong items).

``analyse`` is the pure statistics and ``read_class`` gathers a graded course's data for it;
``items_report`` writes the result (grading/items.csv and grading/items.html).
"""

import ast
import json
import math
import re
import statistics
from dataclasses import dataclass, field

from ..selfcheck import LETTERS
from .export import question_scores
from .paths import PASS_PERCENT, Course, Problems, load_notebook
from .plan import HIDDEN, analyse_source, free_names, split_hidden

__all__ = ["EASY", "HARD", "LOW_DISCRIMINATION", "UPPER_SHARE", "Question", "ItemStats", "Analysis", "questions_of",
           "choice", "pearson", "upper_group", "analyse", "read_class"]

EASY = 0.9  # difficulty above this: nearly everyone right
HARD = 0.2  # difficulty below this: nearly no one right
LOW_DISCRIMINATION = 0.2  # r below this separates stronger from weaker students too little
UPPER_SHARE = 0.27  # the upper group: this share of the class by rest score (Kelley's 27%)
MIN_STUDENTS = 3  # fewer graded students than this: no correlation is computed
SMALL_CLASS = 20  # below this the figures are rough, and the page says so
WRONG_KEY_MIN = 2  # a wrong option needs at least this many of the upper group (and half of it) to suggest a wrong key
_SOLUTION = re.compile(r"^[ \t]*#+[ \t]*BEGIN SOLUTION[^\n]*\n(.*?)^[ \t]*#+[ \t]*END SOLUTION", re.S | re.M)


@dataclass(frozen=True)
class Question:
    """One graded cell: its grade id, the answer it reads (q03), the answer's kind and the key letter."""

    grade_id: str
    label: str
    points: float
    kind: str | None = None  # "letter", "number", or None (a test of code, or several answers)
    answer: str | None = None  # the answer name its hidden test reads
    key: str | None = None  # the right letter of a multiple-choice question, from the source's solution


@dataclass
class ItemStats:
    """What the class did on one question (see the module's docstring for the definitions)."""

    question: Question
    students: int
    right: int
    difficulty: float | None
    discrimination: float | None
    no_discrimination: str = ""  # why discrimination is None
    options: dict = field(default_factory=dict)  # A..D, "blank", "other": how many chose it (letter questions)
    blank: int = 0
    upper: int = 0  # students in the upper group
    upper_options: dict = field(default_factory=dict)
    awaiting_hand_grade: int = 0
    flags: list = field(default_factory=list)  # (code, sentence)

    @property
    def flag_codes(self) -> list:
        return [code for code, _ in self.flags]


@dataclass
class Analysis:
    """The item analysis of one assignment: the items, the students' totals and the class's notes."""

    assignment: str
    items: list
    totals: dict  # graded student: points
    max_total: float
    pass_percent: float
    not_graded: dict  # student: why not (excluded from every figure)
    notes: list = field(default_factory=list)
    alpha: float | None = None

    @property
    def students(self) -> int:
        return len(self.totals)

    @property
    def percents(self) -> list:
        return [100.0 * t / self.max_total if self.max_total else 0.0 for t in self.totals.values()]

    @property
    def passed(self) -> int:
        return sum(p >= self.pass_percent for p in self.percents)

    @property
    def flagged(self) -> list:
        return [item for item in self.items if item.flags]

    def describe(self) -> dict:
        """Mean, median, standard deviation, lowest and highest total, in points (empty with no student)."""
        values = list(self.totals.values())
        if not values:
            return {}
        return {"mean": statistics.fmean(values), "median": statistics.median(values),
                "sd": statistics.pstdev(values), "min": min(values), "max": max(values)}


def choice(value) -> str:
    """A multiple-choice answer as counted: its letter, "blank" (unanswered) or "other" (malformed)."""
    if value is None:
        return "blank"
    if type(value) is str and value.strip().upper() in LETTERS:
        return value.strip().upper()
    return "other"


def pearson(xs: list, ys: list) -> float | None:
    """Pearson's r of two equally long lists; None when either has no variance."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    if sxx <= 1e-12 or syy <= 1e-12:
        return None
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / math.sqrt(sxx * syy)


def upper_group(rest: dict, share: float = UPPER_SHARE) -> list:
    """The students with the highest rest scores: ``share`` of the class (at least one), ties at the boundary in."""
    if not rest:
        return []
    ranked = sorted(rest.values(), reverse=True)
    threshold = ranked[max(1, math.ceil(share * len(ranked))) - 1]
    return sorted(s for s, r in rest.items() if r >= threshold - 1e-9)


def _wrong_key(item: ItemStats, upper: list, picked: dict):
    """The wrong option that points to a wrong key, or None.

    It must be the upper group's choice (at least half of the group and ``WRONG_KEY_MIN`` students,
    more than chose the key) and draw a larger share of the upper group than of everyone else: a
    wrong option popular with everybody is a good distractor, not a wrong key.
    """
    key, others = item.question.key, [s for s in picked if s not in set(upper)]
    if not key or not upper or not others:
        return None
    n, option = max((n, o) for o, n in item.upper_options.items() if o in LETTERS and o != key)
    if n < max(WRONG_KEY_MIN, len(upper) / 2) or n <= item.upper_options.get(key, 0):
        return None
    return option if n / len(upper) > sum(picked[s] == option for s in others) / len(others) else None


def _flags(item: ItemStats, wrong_option) -> list:
    flags, p, r = [], item.difficulty, item.discrimination
    if p is not None and p > EASY:
        flags.append(("easy", f"nearly everyone right ({item.right} of {item.students})"))
    if p is not None and p < HARD:
        flags.append(("hard", f"nearly no one right ({item.right} of {item.students})"))
    if r is not None and r < 0:
        flags.append(("negative", f"negative discrimination (r = {r:.2f}): weaker students got it right more often "
                                  "than stronger ones"))
    elif r is not None and r < LOW_DISCRIMINATION:
        flags.append(("low", f"low discrimination (r = {r:.2f}): it barely separates stronger from weaker students"))
    if wrong_option:
        key = item.question.key
        flags.append(("wrong-key", f"likely wrong key: the upper group ({item.upper} students) chose {wrong_option} "
                                   f"{item.upper_options[wrong_option]} times, the key {key} "
                                   f"{item.upper_options.get(key, 0)} times"))
    return flags


def analyse(questions: list, scores: dict, choices: dict | None = None, *, pass_percent: float = PASS_PERCENT,
            not_graded: dict | None = None, assignment: str = "") -> Analysis:
    """The item analysis of graded students.

    ``scores``: {student: {grade_id: points or None (awaiting a hand grade, counted as 0)}};
    ``choices``: {student: {answer name: value as graded}}; ``not_graded``: {student: why},
    left out of every figure and counted.
    """
    choices = choices or {}
    students = sorted(scores)
    got = {s: {q.grade_id: scores[s].get(q.grade_id) or 0.0 for q in questions} for s in students}
    totals = {s: sum(got[s].values()) for s in students}
    max_total = sum(q.points for q in questions)
    items = []
    for q in questions:
        item_scores = {s: got[s][q.grade_id] for s in students}
        rest = {s: totals[s] - item_scores[s] for s in students}
        n = len(students)
        stats = ItemStats(q, n, sum(v >= q.points - 1e-9 for v in item_scores.values()) if q.points else 0,
                          None, None, awaiting_hand_grade=sum(scores[s].get(q.grade_id) is None for s in students))
        if n and q.points:
            stats.difficulty = sum(item_scores.values()) / (n * q.points)
        if n < MIN_STUDENTS:
            stats.no_discrimination = f"too few students ({n}; at least {MIN_STUDENTS})"
        else:
            stats.discrimination = pearson([item_scores[s] for s in students], [rest[s] for s in students])
            if stats.discrimination is None:
                stats.no_discrimination = ("everyone scored the same on it" if len(set(item_scores.values())) == 1
                                           else "everyone scored the same on the rest of the test")
        upper = upper_group(rest)
        stats.upper = len(upper)
        picked = {s: choice(choices.get(s, {}).get(q.answer)) for s in students} if q.answer else {}
        stats.blank = sum(c == "blank" for c in picked.values())
        if q.kind == "letter":
            stats.options = {o: sum(c == o for c in picked.values()) for o in (*LETTERS, "blank", "other")}
            stats.upper_options = {o: sum(picked[s] == o for s in upper) for o in (*LETTERS, "blank", "other")}
        stats.flags = _flags(stats, _wrong_key(stats, upper, picked) if q.kind == "letter" else None)
        items.append(stats)
    analysis = Analysis(assignment, items, totals, max_total, pass_percent, dict(not_graded or {}))
    analysis.alpha = _alpha(questions, got, totals)
    analysis.notes = _notes(analysis)
    return analysis


def _alpha(questions, got, totals) -> float | None:
    """Cronbach's alpha (KR-20 for right/wrong items): None with fewer than two items or students, or no spread."""
    k, n = len(questions), len(totals)
    if k < 2 or n < 2:
        return None
    total_var = statistics.pvariance(list(totals.values()))
    if total_var <= 1e-12:
        return None
    item_var = sum(statistics.pvariance([got[s][q.grade_id] for s in totals]) for q in questions)
    return k / (k - 1) * (1 - item_var / total_var)


def _notes(a: Analysis) -> list:
    notes = []
    if a.not_graded:
        notes.append(f"{len(a.not_graded)} not graded, left out of every figure: {', '.join(sorted(a.not_graded))}.")
    if not a.students:
        notes.append("No student was graded: there is nothing to analyse yet (run the autograde step).")
        return notes
    if a.students < SMALL_CLASS:
        notes.append(f"Only {a.students} students graded: with fewer than {SMALL_CLASS} every figure here is rough, "
                     "and one student more or less can move a question across a threshold.")
    if len(set(a.totals.values())) == 1:
        notes.append(f"Every student scored {next(iter(a.totals.values())):g} of {a.max_total:g}: with no spread in "
                     "the totals, no question can separate stronger from weaker students (no discrimination).")
    return notes


# --------------------------------------------------------------------------- reading a graded course


def _solution_letters(source_nb: dict) -> dict:
    """{answer name: letter} for the solution regions that assign a multiple-choice letter."""
    found = {}
    for cell in source_nb["cells"]:
        for region in _SOLUTION.finditer(cell.get("source", "")):
            try:
                body = ast.parse(region.group(1)).body
            except SyntaxError:
                continue
            for node in body:
                if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and \
                        isinstance(node.value.value, str) and node.value.value.strip().upper() in LETTERS:
                    for target in node.targets:
                        if isinstance(target, ast.Name):
                            found[target.id] = node.value.value.strip().upper()
    return found


def questions_of(source_nb: dict) -> list:
    """The graded cells of a source notebook, in order, each with the one answer its hidden test reads."""
    info, letters = analyse_source(source_nb), _solution_letters(source_nb)
    out = []
    for gid, cell in info.cells:
        if gid not in info.points:
            continue
        names = []
        if HIDDEN.search(cell.get("source", "")):
            try:
                names = sorted(free_names(split_hidden(cell["source"])[1]) & set(info.answers))
            except SyntaxError:
                names = []
        answer = names[0] if len(names) == 1 else None
        kind = info.answers.get(answer) if answer else None
        out.append(Question(gid, answer or gid, info.points[gid], kind, answer,
                            letters.get(answer) if kind == "letter" else None))
    return out


def read_class(course: Course) -> Analysis:
    """The item analysis of a graded course: gradebook scores, grading/answers.json, the problems found."""
    questions = [q for nb in course.notebooks for q in questions_of(load_notebook(course.source_notebook(nb)))]
    scores, _ = question_scores(course)
    not_graded = {}
    for student, found in Problems(course).by_student().items():
        reasons = [p["detail"] for p in found if p["kind"] == "not graded"]
        if reasons:
            not_graded[student] = reasons[0]
    for student in course.students_submitted():
        if student not in scores and student not in not_graded:
            not_graded[student] = "not in the gradebook (run the autograde step)"
    path = course.state / "answers.json"
    answers = json.loads(path.read_text()) if path.is_file() else {}
    choices = {s: {k: v for nb in (answers.get(s) or {}).values() for k, v in nb.items()} for s in answers}
    graded = {s: v for s, v in scores.items() if s not in not_graded}
    return analyse(questions, graded, choices, not_graded=not_graded, assignment=course.assignment)

