"""The module test's self-check: which answers are missing or malformed, never which are wrong.

Students run it in the notebook; the grading report uses the same rules on the
answers it can read from a submitted notebook.
"""

import numbers

__all__ = ["LETTERS", "classify", "check_answers", "format_report", "report"]

LETTERS = ("A", "B", "C", "D")


def classify(value, kind: str) -> str | None:
    """None if the answer is well formed, else "unanswered" or a short reason it is malformed."""
    if value is None:
        return "unanswered"
    if kind == "letter":
        if not isinstance(value, str):
            return f"malformed: {type(value).__name__} {value!r}; write one letter in quotes, e.g. \"A\""
        if value.strip().upper() not in LETTERS:
            return f"malformed: {value!r} is not one of A, B, C, D"
        return None
    if kind == "number":
        # bool is an int subclass, but True is no answer to "how many GB"
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            return f"malformed: {type(value).__name__} {value!r}; write a number (a computation is fine), not text"
        if value != value or value in (float("inf"), float("-inf")):
            return f"malformed: {value!r} is not a finite number"
        return None
    raise ValueError(f"unknown answer kind {kind!r}; use 'letter' or 'number'")


_MISSING = object()


def check_answers(namespace: dict, kinds: dict) -> dict:
    """Map each question name to its problem (see ``classify``); well-formed answers are left out."""
    problems = {}
    for name, kind in kinds.items():
        value = namespace.get(name, _MISSING)
        if value is _MISSING:
            problems[name] = "missing: the answer cell was not run (or was deleted); run it"
            continue
        problem = classify(value, kind)
        if problem:
            problems[name] = problem
    return problems


def format_report(problems: dict, total: int) -> str:
    """The text the self-check cell prints."""
    unanswered = [q for q, p in problems.items() if p == "unanswered"]
    other = {q: p for q, p in problems.items() if p != "unanswered"}
    lines = [
        "Self-check (it says which answers are missing or malformed, not which are right):",
        f"  well-formed answers: {total - len(problems)} of {total}",
    ]
    if unanswered:
        lines.append(f"  unanswered (still None): {', '.join(unanswered)}")
    for q, p in other.items():
        lines.append(f"  {q}: {p}")
    if not problems:
        lines.append("  Every question has a well-formed answer. Save the notebook and submit it.")
    return "\n".join(lines)


def report(namespace: dict, *, letters, numeric=()) -> dict:
    """Print the self-check for the questions named in ``letters`` and ``numeric``; return the problems."""
    kinds = {name: "letter" for name in letters}
    kinds.update({name: "number" for name in numeric})
    kinds = dict(sorted(kinds.items()))
    problems = check_answers(namespace, kinds)
    print(format_report(problems, len(kinds)))
    return problems
