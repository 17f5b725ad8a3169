"""Test-writing lint: figures that show whether a quiz can be passed by test-taking instead of knowledge.

Reads every lesson's ``quiz.answers.json`` and the module test's text source. Figures:
- how often the correct option is the uniquely longest (a guesser who picks the longest option);
- the expected score of that guesser, and, for the module test, of one who always gives the same letter;
- how often absolute words (never, always, only, every, none, all) appear among distractors and among correct options;
- the module test's answer-letter balance, lessons covered and share of questions that apply knowledge.

``python tests/content_lint.py`` prints the figures; ``--done-when`` prints the issue's closing figures
(test-taking strategies against the 40% bar) and exits 1 if one of them is reached.
"""

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import jupytext

ROOT = Path(__file__).resolve().parents[1]
ABSOLUTE = re.compile(r"\b(never|always|only|every|none|all)\b", re.I)
LONGEST_MAX = 0.30  # share of single-answer questions whose answer may be the uniquely longest option
GUESSER_MAX = 0.40  # score a test-taking strategy must stay below
LETTER_SHARE = (0.20, 0.30)  # each module-test letter's share of the multiple-choice questions
MODULE_TEST_MIN_PER_LESSON = 2
MODULE_TEST_MIN_APPLY = 0.5

_OPTION = re.compile(r"^- \*\*([A-H])\.\*\*\s+(.*?)\s*$", re.M)
_HEADING = re.compile(r"^### Question (\d+) \((\d+) points?\) (?:·|&middot;) Lesson (\d)\s*$", re.M)
_SOLUTION = re.compile(r"### BEGIN SOLUTION\n(q\d+) = (.+?)\n### END SOLUTION", re.S)


@dataclass
class Question:
    id: str
    options: list[str]
    correct: set[int]
    points: float = 1.0
    lesson: int | None = None
    skill: str | None = None

    @property
    def single(self) -> bool:
        return len(self.correct) == 1


@dataclass
class Assessment:
    name: str
    questions: list[Question]
    numeric_points: float = 0.0  # points of questions a guesser cannot answer by picking (module test numbers)
    numeric: list[str] = field(default_factory=list)

    @property
    def total(self) -> float:
        return sum(q.points for q in self.questions) + self.numeric_points


def read_quiz(path: Path) -> Assessment:
    data = json.loads(path.read_text(encoding="utf-8"))
    qs = [Question(q["id"], [o["text"] for o in q["options"]], {i for i, o in enumerate(q["options"]) if o["correct"]})
          for q in data["questions"]]
    return Assessment(f"{data['lesson']} quiz", qs)


def read_module_test(path: Path) -> Assessment:
    nb = jupytext.read(path, fmt="md:myst")
    questions, numeric, numeric_points, answers, points = {}, [], 0.0, {}, {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        gid = meta.get("grade_id", "")
        if cell.cell_type == "markdown" and gid.endswith("_question"):
            qid = gid.removesuffix("_question")
            head = _HEADING.search(cell.source)
            opts = _OPTION.findall(cell.source)
            questions[qid] = (head, opts, cell.metadata.get("ossllm", {}).get("skill"))
        for qid, value in _SOLUTION.findall(cell.source):
            answers[qid] = value.strip()
        if meta.get("grade") and gid.endswith("_test"):
            points[gid.removesuffix("_test")] = float(meta["points"])
    out = []
    for qid, (head, opts, skill) in questions.items():
        lesson = int(head.group(3)) if head else None
        value = answers.get(qid, "")
        letter = re.fullmatch(r"['\"]([A-H])['\"]", value)
        if opts and letter:
            letters = [x for x, _ in opts]
            out.append(Question(qid, [t for _, t in opts], {letters.index(letter.group(1))}, points.get(qid, 1.0),
                                lesson, skill))
        else:
            numeric.append(qid)
            numeric_points += points.get(qid, 0.0)
            out_q = Question(qid, [], set(), 0.0, lesson, skill)
            out.append(out_q)
    return Assessment("module test", out, numeric_points, numeric)


def assessments(root: Path = ROOT) -> list[Assessment]:
    found = [read_quiz(p) for p in sorted(root.glob("source/*/quiz.answers.json"))]
    found += [read_module_test(p) for p in sorted(root.glob("source/module_test/*.md"))]
    return found


def _mc(a: Assessment) -> list[Question]:
    return [q for q in a.questions if q.options]


def uniquely_longest(a: Assessment) -> list[str]:
    """Single-answer questions whose correct option is longer than every distractor."""
    out = []
    for q in _mc(a):
        if q.single:
            (c,) = q.correct
            if all(len(q.options[c]) > len(t) for i, t in enumerate(q.options) if i != c):
                out.append(q.id)
    return out


def longest_guesser_score(a: Assessment) -> float:
    """Expected share of points for always picking the longest option (ties split evenly)."""
    got = 0.0
    for q in _mc(a):
        longest = max(map(len, q.options))
        tied = [i for i, t in enumerate(q.options) if len(t) == longest]
        if q.single:
            got += q.points * len(set(tied) & q.correct) / len(tied)
        elif q.correct == set(tied):
            got += q.points
    return got / a.total if a.total else 0.0


def letter_shares(a: Assessment) -> dict[str, float]:
    mc = [q for q in _mc(a) if q.single]
    counts: dict[str, int] = {}
    for q in mc:
        (c,) = q.correct
        counts["ABCDEFGH"[c]] = counts.get("ABCDEFGH"[c], 0) + 1
    width = max((len(q.options) for q in mc), default=0)
    return {"ABCDEFGH"[i]: counts.get("ABCDEFGH"[i], 0) / len(mc) for i in range(width)} if mc else {}


def same_letter_best_score(a: Assessment) -> float:
    """Expected share of points for the best always-the-same-letter strategy."""
    best = 0.0
    for i in range(max((len(q.options) for q in _mc(a)), default=0)):
        got = sum(q.points for q in _mc(a) if q.single and q.correct == {i})
        best = max(best, got / a.total if a.total else 0.0)
    return best


def absolute_words(a: Assessment) -> tuple[float, float, list[str]]:
    """Share of distractors and of correct options with an absolute word, and the distractors that have one."""
    d_hits, d_all, c_hits, c_all, where = 0, 0, 0, 0, []
    for q in _mc(a):
        for i, text in enumerate(q.options):
            hit = bool(ABSOLUTE.search(text))
            if i in q.correct:
                c_all, c_hits = c_all + 1, c_hits + hit
            else:
                d_all, d_hits = d_all + 1, d_hits + hit
                if hit:
                    where.append(f"{q.id}: {text[:50]}")
    return (d_hits / d_all if d_all else 0.0), (c_hits / c_all if c_all else 0.0), where


def problems(a: Assessment) -> list[str]:
    """Every threshold this assessment breaks, naming the questions."""
    out = []
    singles = [q for q in _mc(a) if q.single]
    longest = uniquely_longest(a)
    if singles and len(longest) / len(singles) > LONGEST_MAX:
        out.append(f"{a.name}: answer is the uniquely longest option in {len(longest)} of {len(singles)} "
                   f"single-answer questions (max {LONGEST_MAX:.0%}): {', '.join(longest)}")
    score = longest_guesser_score(a)
    if score >= GUESSER_MAX:
        out.append(f"{a.name}: always picking the longest option scores {score:.0%} (must stay below {GUESSER_MAX:.0%})")
    d_rate, c_rate, where = absolute_words(a)
    if d_rate > c_rate:
        out.append(f"{a.name}: absolute words in {d_rate:.0%} of distractors against {c_rate:.0%} of correct options: "
                   + "; ".join(where))
    if a.name == "module test":
        low, high = LETTER_SHARE
        shares = letter_shares(a)
        off = {k: v for k, v in shares.items() if not low <= v <= high}
        if off:
            out.append(f"module test: answer letters unbalanced (each must be {low:.0%}-{high:.0%}): "
                       + ", ".join(f"{k} {v:.0%}" for k, v in sorted(shares.items())))
        letter = same_letter_best_score(a)
        if letter >= GUESSER_MAX:
            out.append(f"module test: always answering the same letter scores {letter:.0%}")
        per_lesson = {n: sum(1 for q in a.questions if q.lesson == n) for n in range(1, 9)}
        thin = {n: c for n, c in per_lesson.items() if c < MODULE_TEST_MIN_PER_LESSON}
        if thin:
            out.append(f"module test: fewer than {MODULE_TEST_MIN_PER_LESSON} questions from lesson(s) "
                       + ", ".join(f"{n} ({c})" for n, c in thin.items()))
        apply = sum(1 for q in a.questions if q.skill == "apply")
        if apply < MODULE_TEST_MIN_APPLY * len(a.questions):
            out.append(f"module test: {apply} of {len(a.questions)} questions marked as applying knowledge "
                       f"(cell metadata ossllm.skill = \"apply\"); at least half must")
    return out


def report(root: Path = ROOT) -> str:
    lines = [f"{'assessment':16} {'longest':>9} {'longest-guesser':>16} {'abs. words d/c':>15}"]
    for a in assessments(root):
        singles = [q for q in _mc(a) if q.single]
        d, c, _ = absolute_words(a)
        lines.append(f"{a.name:16} {len(uniquely_longest(a)):>3}/{len(singles):<5} {longest_guesser_score(a):>15.0%} "
                     f"{d:>7.0%}/{c:.0%}")
        if a.name == "module test":
            lines.append("  letters: " + ", ".join(f"{k} {v:.0%}" for k, v in letter_shares(a).items())
                         + f"; same-letter guesser {same_letter_best_score(a):.0%}")
    return "\n".join(lines)


def same_letter_scores(a: Assessment) -> dict[str, float]:
    """Share of points for always giving one letter, per letter (numbers score nothing)."""
    width = max((len(q.options) for q in _mc(a)), default=0)
    return {"ABCDEFGH"[i]: sum(q.points for q in _mc(a) if q.single and q.correct == {i}) / a.total
            for i in range(width)} if a.total else {}


def done_when(root: Path = ROOT) -> tuple[str, bool]:
    """The closing figures: always-the-longest-option on every quiz and the module test, and
    always-the-same-letter on the module test (each letter), each against GUESSER_MAX; and whether all stay below."""
    lines, ok = [f"Test-taking strategies (a pass needs less than {GUESSER_MAX:.0%} for each):"], True
    for a in assessments(root):
        score = longest_guesser_score(a)
        ok &= score < GUESSER_MAX
        lines.append(f"  {a.name:16} always the longest option: {score:4.0%}  {'ok' if score < GUESSER_MAX else 'FAIL'}")
    for a in assessments(root):
        if a.name == "module test":
            scores = same_letter_scores(a)
            ok &= all(v < GUESSER_MAX for v in scores.values())
            lines.append(f"  {a.name:16} always the same letter: "
                         + ", ".join(f"{k} {v:.0%}" for k, v in scores.items())
                         + f"  {'ok' if all(v < GUESSER_MAX for v in scores.values()) else 'FAIL'}")
    lines.append("  (quiz options are shuffled per student, so a fixed letter is no strategy there)")
    return "\n".join(lines), ok


if __name__ == "__main__":
    import sys

    if "--done-when" in sys.argv:
        text, ok = done_when()
        print(text)
        raise SystemExit(0 if ok else 1)
    print(report())
    for a in assessments():
        for p in problems(a):
            print("FAIL", p)
