"""The lesson quiz: data files, answer obfuscation and answer checking.

Authors write ``quiz.answers.json`` in plain text; ``build_quizzes`` turns it
into the ``quiz.json`` students get, where each correct answer is only a salted
hash and each feedback text is XOR-obfuscated. This is obfuscation, not
security: the salt is in the file and a question has few option sets, so a
determined student can brute-force it. It keeps the answer key from being read
at a glance.

Each student sees a question's options in an order of their own
(``quiz_view.display_order``); answers are always file indices, so hashes and
feedback do not depend on the order shown. The widget lives in ``quiz_view``.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from .errors import QuizFormatError
from .schemas import first_problem
from .quiz_view import build_view, display_order, markdown_html, student_name, verdict_html

__all__ = [
    "ENCODING",
    "Quiz",
    "Verdict",
    "show_quiz",
    "load_quiz",
    "validate_quiz",
    "encode_quiz",
    "dump_quiz",
    "answer_hash",
    "build_quizzes",
    "check_quizzes_current",
    "read_lesson_json",
    "markdown_html",
]

ENCODING = "ossllm-quiz-1"
PLAIN_NAME = "quiz.answers.json"
SHIPPED_NAME = "quiz.json"
_NOTE = f"Generated from {PLAIN_NAME} by ossllm_helpers.quiz.build_quizzes; edit that file, not this one."
# The widget adds the verdict itself, so feedback must not carry its own.
_VERDICT_PREFIXES = ("correct", "not quite")


# ---------------------------------------------------------------- validation


def validate_quiz(data, *, source: str = "quiz") -> str:
    """Check a quiz (plain or shipped form); return ``"plain"`` or ``"encoded"``.

    Raises QuizFormatError naming ``source`` and the first problem found.
    """
    problem = first_problem(data, "quiz")  # the course's one schema validator
    if problem is not None:
        at, message, _count = problem
        raise QuizFormatError(
            f"{source}: {at}: {message}. "
            f"Fix the file to match ossllm_helpers/data/quiz.schema.json (see CONTRIBUTING.md, 'Lesson data files')."
        )
    form = "encoded" if "encoding" in data else "plain"
    seen = set()
    for qi, q in enumerate(data["questions"]):
        where = f"{source}: questions[{qi}] (id {q['id']!r})"
        if q["id"] in seen:
            raise QuizFormatError(f"{where}: duplicate question id; give every question its own id.")
        seen.add(q["id"])
        if form == "encoded":
            continue
        n_correct = sum(o["correct"] for o in q["options"])
        if n_correct == 0:
            raise QuizFormatError(f"{where}: no option is marked correct; mark at least one \"correct\": true.")
        if not q["multiple"] and n_correct != 1:
            raise QuizFormatError(
                f"{where}: {n_correct} options are correct but \"multiple\" is false; "
                "mark exactly one, or set \"multiple\": true."
            )
        for oi, o in enumerate(q["options"]):
            if o["feedback"].strip().lower().startswith(_VERDICT_PREFIXES):
                raise QuizFormatError(
                    f"{where}: options[{oi}].feedback starts with a verdict ({o['feedback'][:12]!r}...); "
                    "the widget adds 'Correct' or 'Not quite' itself, so start with the explanation."
                )
    return form


def read_lesson_json(path, what: str):
    """Parse a lesson data file (quiz or lab); QuizFormatError says what is wrong and where."""
    path = Path(path)
    if not path.is_file():
        raise QuizFormatError(
            f"{path}: no such {what} file (working folder {Path.cwd()}). "
            f"Run the notebook from its lesson folder, where {path.name} sits beside it."
        )
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise QuizFormatError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}).") from None
    except UnicodeDecodeError:
        raise QuizFormatError(f"{path}: not UTF-8 text; save it as UTF-8 JSON.") from None


def load_quiz(path) -> dict:
    """Read and validate a quiz file (either form); QuizFormatError says what is wrong."""
    data = read_lesson_json(path, "quiz")
    validate_quiz(data, source=str(path))
    return data


# ---------------------------------------------------------------- obfuscation


def answer_hash(salt: str, question_id: str, indices: Iterable[int]) -> str:
    """sha256 over salt, question id and the sorted chosen option indices."""
    key = ",".join(str(i) for i in sorted(set(int(i) for i in indices)))
    return hashlib.sha256(f"{salt}|{question_id}|{key}".encode()).hexdigest()


def _keystream(salt: str, question_id: str, index: int, n: int) -> bytes:
    out = bytearray()
    block = 0
    while len(out) < n:
        out += hashlib.sha256(f"{salt}|{question_id}|{index}|{block}".encode()).digest()
        block += 1
    return bytes(out[:n])


def _xor(data: bytes, salt: str, question_id: str, index: int) -> bytes:
    return bytes(a ^ b for a, b in zip(data, _keystream(salt, question_id, index, len(data))))


def _hide(text: str, salt: str, question_id: str, index: int) -> str:
    return base64.b64encode(_xor(text.encode("utf-8"), salt, question_id, index)).decode("ascii")


def _reveal(blob: str, salt: str, question_id: str, index: int) -> str:
    return _xor(base64.b64decode(blob), salt, question_id, index).decode("utf-8")


def encode_quiz(plain: dict) -> dict:
    """Turn the plain quiz into the shipped form (obfuscation, not encryption).

    Options keep their text; the correct set survives only as a salted sha256
    and each feedback is XORed with a sha256 keystream and base64-encoded.
    Deterministic: the same input gives the same output.
    """
    if validate_quiz(plain, source="plain quiz") != "plain":
        raise QuizFormatError("encode_quiz needs the plain form (quiz.answers.json); this quiz is already encoded.")
    salt = plain["salt"]
    questions = []
    for q in plain["questions"]:
        correct = [i for i, o in enumerate(q["options"]) if o["correct"]]
        questions.append(
            {
                "id": q["id"],
                "prompt": q["prompt"],
                "multiple": q["multiple"],
                "options": [
                    {"text": o["text"], "feedback_obf": _hide(o["feedback"], salt, q["id"], i)}
                    for i, o in enumerate(q["options"])
                ],
                "answer_sha256": answer_hash(salt, q["id"], correct),
            }
        )
    return {
        "encoding": ENCODING,
        "note": _NOTE,
        "lesson": plain["lesson"],
        "title": plain["title"],
        "salt": salt,
        "questions": questions,
    }


def dump_quiz(encoded: dict) -> str:
    """The exact text written to quiz.json (stable, so staleness is a byte compare)."""
    return json.dumps(encoded, indent=2, ensure_ascii=False) + "\n"


# ---------------------------------------------------------------- release build


def _plain_files(source_dir) -> list[Path]:
    return sorted(Path(source_dir).glob(f"*/{PLAIN_NAME}"))


def _expected(plain_path: Path) -> str:
    plain = load_quiz(plain_path)
    if "encoding" in plain:
        raise QuizFormatError(f"{plain_path}: this is an encoded quiz; {PLAIN_NAME} must hold the plain form.")
    folder = plain_path.parent.name
    if plain["lesson"] != folder:
        raise QuizFormatError(
            f"{plain_path}: \"lesson\" is {plain['lesson']!r} but the file is in folder {folder!r}; make them match."
        )
    return dump_quiz(encode_quiz(plain))


def build_quizzes(source_dir) -> list[Path]:
    """Write quiz.json beside every ``<source_dir>/*/quiz.answers.json``; return the paths written."""
    written = []
    for plain_path in _plain_files(source_dir):
        text = _expected(plain_path)
        target = plain_path.with_name(SHIPPED_NAME)
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
        written.append(target)
    return written


def check_quizzes_current(source_dir) -> list[str]:
    """Paths of quiz.json files that are missing or differ from their quiz.answers.json."""
    stale = []
    for plain_path in _plain_files(source_dir):
        target = plain_path.with_name(SHIPPED_NAME)
        if not target.is_file() or target.read_text(encoding="utf-8") != _expected(plain_path):
            stale.append(str(target))
    return stale


# ---------------------------------------------------------------- checking answers


@dataclass
class Verdict:
    """The result of checking one answer."""

    question_id: str
    correct: bool
    chosen: list[int]
    feedback: list[tuple[str, str]] = field(default_factory=list)  # (option text, feedback)
    message: str = ""

    def __bool__(self) -> bool:
        return self.correct


class Quiz:
    """A lesson quiz: ``check()`` works without widgets; displaying it shows the widget.

    ``user`` seeds the order the options are shown in (default: the student's
    login name, so it is the same on every run); ``check`` takes file indices.
    """

    def __init__(self, data: dict, *, source: str = "quiz", user: str | None = None):
        if validate_quiz(data, source=source) == "plain":
            data = encode_quiz(data)  # an author previewing quiz.answers.json
        self.data = data
        self.source = source
        self.lesson = data["lesson"]
        self.title = data["title"]
        self._salt = data["salt"]
        self._questions = {q["id"]: q for q in data["questions"]}
        self.user = student_name() if user is None else user
        # question id -> file indices in the order this student sees the options
        self.order = {
            q["id"]: display_order(self.user, self.lesson, q["id"], len(q["options"])) for q in data["questions"]
        }
        self.results: dict[str, bool] = {}  # question id -> was the latest check right
        self.attempts: dict[str, int] = {q: 0 for q in self._questions}
        self._widget = None
        # filled when the widget is built: question id -> its boxes, their file indices, button, feedback
        self.controls: dict[str, dict] = {}
        self.score_label = None

    @classmethod
    def from_file(cls, path="quiz.json", *, user: str | None = None) -> "Quiz":
        """Load quiz.json; if it is missing but quiz.answers.json sits beside it, use that."""
        path = Path(path)
        if not path.is_file() and path.name == SHIPPED_NAME and path.with_name(PLAIN_NAME).is_file():
            path = path.with_name(PLAIN_NAME)
        return cls(load_quiz(path), source=str(path), user=user)

    # -- logic

    @property
    def question_ids(self) -> list[str]:
        return list(self._questions)

    def shown_options(self, question_id: str) -> list[tuple[int, str]]:
        """(file index, text) of each option, in the order this student sees them."""
        q = self._questions[question_id]
        return [(i, q["options"][i]["text"]) for i in self.order[question_id]]

    @property
    def total(self) -> int:
        return len(self._questions)

    @property
    def score(self) -> int:
        """Questions whose latest check was right."""
        return sum(self.results.values())

    @property
    def score_text(self) -> str:
        return f"{self.score} / {self.total} correct"

    def _indices(self, q: dict, selection) -> list[int]:
        if selection is None:
            return []
        if isinstance(selection, (int, str)):
            selection = [selection]
        texts = [o["text"] for o in q["options"]]
        out = []
        for s in selection:
            if isinstance(s, bool):
                raise TypeError("choose options by index (0, 1, ...) or by their text, not True/False")
            if isinstance(s, int):
                if not 0 <= s < len(texts):
                    raise ValueError(f"question {q['id']!r} has options 0..{len(texts) - 1}; got {s}")
                out.append(s)
            elif s in texts:
                out.append(texts.index(s))
            else:
                raise ValueError(f"question {q['id']!r} has no option {s!r}; options: {texts}")
        return sorted(set(out))

    def check(self, question_id: str, selection) -> Verdict:
        """Check a selection (index, option text, or a list of them) and record it; retries allowed."""
        q = self._questions.get(question_id)
        if q is None:
            raise KeyError(f"no question {question_id!r} in {self.source}; questions: {self.question_ids}")
        chosen = self._indices(q, selection)
        if not chosen:
            return self._show(Verdict(question_id, False, [], [], "Choose an option first."))
        if not q["multiple"] and len(chosen) > 1:
            raise ValueError(f"question {question_id!r} takes one answer; got {len(chosen)}")
        correct = answer_hash(self._salt, q["id"], chosen) == q["answer_sha256"]
        # feedback in the order the student saw the options; each text stays with its option
        shown = sorted(chosen, key=self.order[question_id].index)
        feedback = [
            (q["options"][i]["text"], _reveal(q["options"][i]["feedback_obf"], self._salt, q["id"], i)) for i in shown
        ]
        if correct:
            message = "Correct."
        elif q["multiple"]:
            message = "Not quite. Select every option that applies, and only those."
        else:
            message = "Not quite. Try again."
        self.attempts[question_id] += 1
        self.results[question_id] = correct
        return self._show(Verdict(question_id, correct, chosen, feedback, message))

    def _show(self, verdict: Verdict) -> Verdict:
        if self._widget is not None:
            self.controls[verdict.question_id]["feedback"].value = verdict_html(verdict)
            self.score_label.value = self.score_text
        return verdict

    # -- widget

    def _selection_of(self, question_id: str) -> list[int]:
        ui = self.controls[question_id]
        return [i for i, box in zip(ui["order"], ui["boxes"]) if box.value]

    def _on_check(self, question_id: str) -> None:
        self.check(question_id, self._selection_of(question_id))

    @property
    def widget(self):
        """The ipywidgets view (built on first use)."""
        if self._widget is None:
            self._widget = build_view(self, self._on_check)
        return self._widget

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        return f"<Quiz {self.lesson}: {self.total} questions, {self.score_text}>"


def show_quiz(path="quiz.json") -> None:
    """Load the lesson quiz and display it (``Quiz.from_file`` gives the object itself)."""
    quiz = Quiz.from_file(path)
    from IPython.display import display

    display(quiz)
