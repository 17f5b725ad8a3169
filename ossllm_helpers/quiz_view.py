"""How a quiz looks: option order per student, Markdown to HTML, and the ipywidgets view.

The view uses ipywidgets core only. Each option is a row of its own: a checkbox
and an HTML label that wraps and grows, so a long option never runs into the
next one and each box belongs to exactly one option (RadioButtons give every
option a fixed 24 px line, which is what made wrapped options overlap).
Single-answer questions keep one box ticked at a time.
"""

from __future__ import annotations

import getpass
import hashlib
import html
import os
import re

__all__ = [
    "CSS",
    "student_name",
    "display_order",
    "markdown_html",
    "verdict_html",
    "build_view",
]

# Stable class names: the browser tests and anyone styling the quiz target these.
CSS = {
    "quiz": "ossllm-quiz",
    "question": "ossllm-quiz-question",
    "option": "ossllm-quiz-option",
    "choice": "ossllm-quiz-choice",
    "label": "ossllm-quiz-label",
    "check": "ossllm-quiz-check",
    "feedback": "ossllm-quiz-feedback",
    "score": "ossllm-quiz-score",
}


# ---------------------------------------------------------------- option order


def student_name() -> str:
    """The name the option order is seeded with: the JupyterHub user, else the login name."""
    name = os.environ.get("JUPYTERHUB_USER", "").strip()
    if name:
        return name
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers: everyone there shares one order
        return "student"


def display_order(user: str, lesson: str, question_id: str, n_options: int) -> list[int]:
    """File indices of a question's options in the order this student sees them.

    Sorting by a sha256 of (user, lesson, question, option) gives a uniform
    permutation that is the same on every run and every Python version, and
    different for each student and question.
    """

    def key(i: int) -> bytes:
        return hashlib.sha256(f"{user}\x1f{lesson}\x1f{question_id}\x1f{i}".encode()).digest()

    return sorted(range(n_options), key=key)


# ---------------------------------------------------------------- Markdown


_CODE = re.compile(r"`([^`]+)`")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_ITALIC = re.compile(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])")


def markdown_html(text: str) -> str:
    """Simple markdown (code, bold, italic, line breaks, '- ' lists) to safe HTML."""
    lines_out, in_list = [], False
    for line in text.split("\n"):
        item = re.match(r"^\s*[-*] (.*)$", line)
        body = html.escape(item.group(1) if item else line)
        codes: list[str] = []

        def keep(m):  # shield code spans from bold/italic rewriting
            codes.append(m.group(1))
            return f"\x00{len(codes) - 1}\x00"

        body = _CODE.sub(keep, body)
        body = _BOLD.sub(r"<b>\1</b>", body)
        body = _ITALIC.sub(r"<i>\1</i>", body)
        body = re.sub(r"\x00(\d+)\x00", lambda m: f"<code>{codes[int(m.group(1))]}</code>", body)
        if item:
            if not in_list:
                lines_out.append("<ul style='margin:0.2em 0'>")
                in_list = True
            lines_out.append(f"<li>{body}</li>")
            continue
        if in_list:
            lines_out.append("</ul>")
            in_list = False
        lines_out.append(body + "<br>")
    if in_list:
        lines_out.append("</ul>")
    out = "".join(lines_out)
    return out[: -len("<br>")] if out.endswith("<br>") else out


# ---------------------------------------------------------------- the widget

# The HTML widget's stylesheet sets a 28 px line height meant for one-line text;
# wrapped text reads better at the notebook's own spacing.
_TEXT = "line-height:1.45;white-space:normal;overflow-wrap:break-word"


def verdict_html(verdict) -> str:
    """The feedback block under a question: verdict, then each chosen option's explanation."""
    colour = "#1a7f37" if verdict.correct else "#b35900"
    mark = "✅" if verdict.correct else "❌"
    if not verdict.chosen:
        return f"<div style='color:#666;{_TEXT}'>{html.escape(verdict.message)}</div>"
    items = "".join(f"<li><b>{markdown_html(text)}</b>: {markdown_html(fb)}</li>" for text, fb in verdict.feedback)
    return (
        f"<div style='border-left:4px solid {colour};padding:0.2em 0.6em;margin:0.2em 0;{_TEXT}'>"
        f"<b style='color:{colour}'>{mark} {html.escape(verdict.message)}</b>"
        f"<ul style='margin:0.3em 0'>{items}</ul></div>"
    )


def _keep_one(boxes, changed) -> None:
    """Single answer: ticking one box clears the others."""
    if changed["new"]:
        for box in boxes:
            if box is not changed["owner"] and box.value:
                box.value = False


def _option_row(w, text: str):
    box = w.Checkbox(value=False, description="", indent=False, layout=w.Layout(width="auto", flex="0 0 auto"))
    box.add_class(CSS["choice"])
    label = w.HTML(
        f"<div style='{_TEXT};padding:0.25em 0'>{markdown_html(text)}</div>",
        layout=w.Layout(flex="1 1 0%", width="auto", min_width="0"),
    )
    label.add_class(CSS["label"])
    row = w.HBox([box, label], layout=w.Layout(align_items="flex-start", width="100%", margin="0 0 0.15em 0"))
    row.add_class(CSS["option"])
    return box, row


def build_view(quiz, on_check):
    """Build the quiz's widget tree; fill ``quiz.controls`` and ``quiz.score_label``.

    ``quiz.controls[qid]`` holds ``boxes`` (checkboxes in display order),
    ``order`` (the file index of each box), ``button`` and ``feedback``.
    """
    import ipywidgets as w

    title = w.HTML(f"<h3 style='margin:0.2em 0'>{html.escape(quiz.title)}</h3>")
    quiz.score_label = w.Label(quiz.score_text)
    quiz.score_label.add_class(CSS["score"])
    blocks = [title]
    for n, q in enumerate(quiz.data["questions"], 1):
        kind = "Select all that apply." if q["multiple"] else "Select one."
        prompt = w.HTML(
            f"<div style='margin-top:0.6em;{_TEXT}'><b>{n}.</b> {markdown_html(q['prompt'])} "
            f"<span style='color:#666;font-size:0.9em'>({kind})</span></div>"
        )
        order = quiz.order[q["id"]]
        boxes, rows = [], []
        for i in order:
            box, row = _option_row(w, q["options"][i]["text"])
            boxes.append(box)
            rows.append(row)
        if not q["multiple"]:
            for box in boxes:
                box.observe(lambda change, boxes=boxes: _keep_one(boxes, change), names="value")
        button = w.Button(description="Check", tooltip=f"Check question {n}")
        button.add_class(CSS["check"])
        feedback = w.HTML("")
        feedback.add_class(CSS["feedback"])
        button.on_click(lambda _b, qid=q["id"]: on_check(qid))
        quiz.controls[q["id"]] = {"boxes": boxes, "order": order, "button": button, "feedback": feedback}
        block = w.VBox([prompt, w.VBox(rows, layout=w.Layout(width="100%")), button, feedback])
        block.add_class(CSS["question"])
        blocks.append(block)
    blocks.append(w.HBox([w.HTML("<b>Score:</b>&nbsp;"), quiz.score_label]))
    view = w.VBox(blocks, layout=w.Layout(width="100%"))
    view.add_class(CSS["quiz"])
    return view
