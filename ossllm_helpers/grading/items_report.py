"""The item analysis written out: grading/items.csv, and grading/items.html with its plots embedded.

``item_analysis(course)`` is the grading step (``grade items``, also run by ``autograde`` and
``all``). The page is one self-contained file: each matplotlib plot is a PNG inside it as a
data URI, so it can be mailed or archived as it is. Students' ids appear only in the list of
those not graded; their answers appear only as counts.
"""

import base64
import csv
import html
import io
from pathlib import Path

from ..selfcheck import LETTERS
from .export import csv_cell
from .items import EASY, HARD, LOW_DISCRIMINATION, UPPER_SHARE, Analysis, read_class
from .paths import Course

__all__ = ["CSV_FIELDS", "DEFINITIONS", "write_csv", "figures", "render", "item_analysis"]

CSV_FIELDS = ["question", "grade_id", "kind", "points", "key", "students", "right", "difficulty", "discrimination",
              "no_discrimination", "blank", *LETTERS, "other", "upper_group", "upper_choices", "flags", "why"]
_OPTIONS = (*LETTERS, "blank", "other")
# written by this module as numbers (a negative r stays a number); the text columns are guarded against formulas
_NUMBERS = {"points", "students", "right", "difficulty", "discrimination", "blank", *LETTERS, "other", "upper_group"}
DEFINITIONS = [
    ("Difficulty", "the share of the question's points the graded students earned; for a question scored right or "
                   "wrong, the share who got it right (1.0: everyone). Flagged above "
                   f"{EASY:g} (nearly everyone right) and below {HARD:g} (nearly no one)."),
    ("Discrimination (r)", "the corrected item-total correlation: Pearson's r between the question's score and the "
                           "rest score (each student's total without this question). For a right/wrong question this "
                           "is the point-biserial correlation. Positive: stronger students get it right more often. "
                           f"Flagged below {LOW_DISCRIMINATION:g} (low) and below 0 (negative: weaker students do "
                           "better, often a wrong key or a misleading question). Not computed when everyone scored "
                           "the same on the question or on the rest of the test, or with fewer than 3 students."),
    ("Upper group", f"the {UPPER_SHARE:.0%} of students with the highest rest scores (ties at the boundary "
                    "included). A wrong option chosen by at least half of them (and at least 2), by more of them than "
                    "chose the key, and by a larger share of them than of the other students is flagged as a "
                    "likely wrong key: the strongest students agree on an answer the key calls wrong."),
    ("Options", "how many students chose each letter; blank: left unanswered; other: not one of the letters."),
    ("Alpha", "Cronbach's alpha (KR-20 for right/wrong questions): how consistently the questions measure the "
              "same thing, at most 1; the higher, the less a student's total depends on which questions happened to be "
              "asked. Not defined with fewer than two questions or students, or when every total is the same."),
]


def _num(value, digits=2) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def write_csv(analysis: Analysis, path: Path) -> None:
    """One row per question, in the notebook's order (see CSV_FIELDS)."""
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_FIELDS)
        writer.writeheader()
        for item in analysis.items:
            q = item.question
            row = {"question": q.label, "grade_id": q.grade_id, "kind": q.kind or "", "points": f"{q.points:g}",
                   "key": q.key or "", "students": item.students, "right": item.right,
                   "difficulty": _num(item.difficulty, 3), "discrimination": _num(item.discrimination, 3),
                   "no_discrimination": item.no_discrimination, "blank": item.blank if q.answer else "",
                   **{o: item.options.get(o, "") for o in (*LETTERS, "other")},
                   "upper_group": item.upper,
                   "upper_choices": " ".join(f"{o}:{n}" for o, n in item.upper_options.items() if n),
                   "flags": " ".join(item.flag_codes), "why": "; ".join(text for _, text in item.flags)}
            writer.writerow({k: v if k in _NUMBERS else csv_cell(str(v)) for k, v in row.items()})


def _png(fig) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _distribution(a: Analysis, plt):
    fig, ax = plt.subplots(figsize=(7, 3.4))
    top = int(a.max_total) + 1
    bins = [b - 0.5 for b in range(top + 1)]
    pass_points = a.max_total * a.pass_percent / 100
    values = list(a.totals.values())
    below = [v for v in values if 100 * v / (a.max_total or 1) < a.pass_percent]
    above = [v for v in values if 100 * v / (a.max_total or 1) >= a.pass_percent]
    ax.hist([below, above], bins=bins, stacked=True, color=["#d9534f", "#5cb85c"], label=["below", "passed"])
    ax.axvline(pass_points - 0.5 if pass_points == int(pass_points) else pass_points, color="black", ls="--",
               label=f"pass mark {a.pass_percent:g}% = {pass_points:g} points")
    ax.set_xlabel(f"total score (points of {a.max_total:g})")
    ax.set_ylabel("students")
    ax.set_title(f"Scores of {a.students} students: {a.passed} passed")
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.legend(fontsize=8, loc="upper left")
    return fig


def _quality(a: Analysis, plt):
    fig, ax = plt.subplots(figsize=(7, 4.6))
    ax.axvspan(EASY, 1.02, color="#fbe3c4", zorder=0)
    ax.axvspan(-0.02, HARD, color="#fbe3c4", zorder=0)
    ax.axhspan(-1.05, LOW_DISCRIMINATION, color="#f6d0d0", alpha=0.6, zorder=0)
    ax.axhline(0, color="grey", lw=0.8)
    for item in a.items:
        if item.difficulty is None:
            continue
        y = item.discrimination if item.discrimination is not None else -1.0
        color = "#c9302c" if item.flags else "#337ab7"
        marker = "o" if item.discrimination is not None else "x"
        ax.scatter(item.difficulty, y, color=color, marker=marker, zorder=3)
        ax.annotate(item.question.label, (item.difficulty, y), textcoords="offset points", xytext=(4, 3), fontsize=7)
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-1.05, 1.05)
    ax.set_xlabel("difficulty (share right)")
    ax.set_ylabel("discrimination r (corrected item-total)")
    ax.set_title("Each question: shaded = flagged zone; red = flagged; x at the bottom = r not defined")
    ax.title.set_fontsize(9)
    return fig


def _options(a: Analysis, plt):
    letters = [i for i in a.items if i.question.kind == "letter" and i.students]
    fig, ax = plt.subplots(figsize=(7, 0.28 * len(letters) + 1.2))
    colors = {"blank": "#dddddd", "other": "#b39ddb"}
    wrong = ["#f0ad4e", "#e8914a", "#d9773f", "#c75f35"]
    for row, item in enumerate(reversed(letters)):
        left, n = 0.0, item.students
        wrong_i = 0
        for option in _OPTIONS:
            share = item.options.get(option, 0) / n
            if option == item.question.key:
                color = "#5cb85c"
            elif option in LETTERS:
                color, wrong_i = wrong[wrong_i % len(wrong)], wrong_i + 1
            else:
                color = colors[option]
            if share:
                ax.barh(row, share, left=left, color=color, edgecolor="white", lw=0.5)
                if share >= 0.08:
                    ax.text(left + share / 2, row, option[0] if option in LETTERS else "", ha="center",
                            va="center", fontsize=6)
            left += share
    ax.set_yticks(range(len(letters)))
    ax.set_yticklabels([f"{i.question.label} (key {i.question.key or '?'}){' !' if i.flags else ''}"
                        for i in reversed(letters)], fontsize=7)
    for label, item in zip(ax.get_yticklabels(), reversed(letters)):
        label.set_color("#c9302c" if item.flags else "black")  # flagged questions in red, as in the other plot
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of students choosing each option (green: the key; orange: wrong letters; grey: blank)")
    ax.set_title("Multiple-choice options (red, !: flagged)")
    return fig


def figures(analysis: Analysis) -> dict:
    """{name: PNG bytes} of the page's plots (none without graded students)."""
    if not analysis.students:
        return {}
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    import matplotlib.pyplot as plt

    out = {"distribution": _png(_distribution(analysis, plt)), "questions": _png(_quality(analysis, plt))}
    if any(i.question.kind == "letter" for i in analysis.items):
        out["options"] = _png(_options(analysis, plt))
    return out


def _row(item) -> str:
    q, e = item.question, html.escape
    options = "".join(f"<td>{'<b>' if o == q.key else ''}{item.options[o]}{'</b>' if o == q.key else ''}</td>"
                      if item.options else "<td></td>" for o in (*LETTERS, "other"))
    r = _num(item.discrimination) or f'<span title="{e(item.no_discrimination)}">n/a</span>'
    upper = " ".join(f"{o}:{n}" for o, n in item.upper_options.items() if n)
    return (f"<tr class=\"{'flag' if item.flags else ''}\"><td>{e(q.label)}</td><td>{q.points:g}</td>"
            f"<td>{e(q.key or '')}</td><td>{item.right}/{item.students}</td><td>{_num(item.difficulty)}</td>"
            f"<td>{r}</td>{options}<td>{item.blank if q.answer else ''}</td><td>{e(upper)}</td>"
            f"<td>{e('; '.join(text for _, text in item.flags))}</td></tr>")


def render(analysis: Analysis) -> str:
    """The HTML page: summary, notes, flagged questions, plots, the table, the definitions."""
    a, e = analysis, html.escape
    d = a.describe()
    summary = (f"{a.students} students graded, {len(a.not_graded)} not graded (left out). Pass mark "
               f"{a.pass_percent:g}% = {a.max_total * a.pass_percent / 100:g} of {a.max_total:g} points: "
               f"{a.passed} of {a.students} passed.")
    if d:
        summary += (f" Total score: mean {d['mean']:.1f}, median {d['median']:g}, standard deviation {d['sd']:.1f}, "
                    f"lowest {d['min']:g}, highest {d['max']:g}.")
    summary += f" Alpha: {_num(a.alpha)}." if a.alpha is not None else " Alpha: not defined (no spread or too few)."
    flagged = "".join(f"<li><b>{e(i.question.label)}</b>: {e('; '.join(t for _, t in i.flags))}</li>"
                      for i in a.flagged) or "<li>none</li>"
    images = "".join(f'<figure><img alt="{name}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'
                     "</figure>" for name, png in figures(a).items())
    head = "".join(f"<th>{h}</th>" for h in ("question", "points", "key", "right", "difficulty", "r", *LETTERS,
                                              "other", "blank", f"upper {UPPER_SHARE:.0%}", "flags"))
    rows = "".join(_row(i) for i in a.items)
    defs = "".join(f"<dt>{e(t)}</dt><dd>{e(x)}</dd>" for t, x in DEFINITIONS)
    notes = "".join(f"<li>{e(n)}</li>" for n in a.notes)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Item analysis: {e(a.assignment)}</title>
<style>
body {{ font-family: sans-serif; max-width: 70em; margin: 1em auto; padding: 0 1em; }}
table {{ border-collapse: collapse; font-size: 0.85em; }} td, th {{ border: 1px solid #ccc; padding: 2px 6px; }}
tr.flag {{ background: #fdecea; }} figure {{ margin: 1em 0; }} img {{ max-width: 100%; }}
dt {{ font-weight: bold; margin-top: 0.5em; }}
</style></head><body>
<h1>Item analysis: {e(a.assignment)}</h1>
<p>{e(summary)}</p>
<ul class="notes">{notes}</ul>
<h2>Flagged questions</h2>
<ul class="flagged">{flagged}</ul>
<h2>Plots</h2>
{images or '<p>No plots: no student was graded.</p>'}
<h2>Every question</h2>
<table><tr>{head}</tr>
{rows}</table>
<p>Option counts: the key in bold. Upper group: the options its students chose.</p>
<h2>Definitions</h2>
<dl>{defs}</dl>
</body></html>
"""


def item_analysis(course: Course) -> Analysis:
    """The grading step: grading/items.csv and grading/items.html for the course's assignment."""
    analysis = read_class(course)
    csv_path, html_path = course.state / "items.csv", course.state / "items.html"
    write_csv(analysis, csv_path)
    html_path.write_text(render(analysis), encoding="utf-8")
    flagged = ", ".join(f"{i.question.label} ({' '.join(i.flag_codes)})" for i in analysis.flagged)
    print(f"item analysis: {html_path} and {csv_path.name} ({len(analysis.items)} questions, {analysis.students} "
          f"students graded, {len(analysis.not_graded)} not graded; flagged: {flagged or 'none'})")
    return analysis
