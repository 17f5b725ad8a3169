"""The lab's graded judgement: which sentences the assistant said, and whether a quoted claim is one of them.

A lab's points reward judging the assistant's replies. The student copies one
sentence the assistant said into ``lab_claim`` and names the lesson section that
bears on it in ``lab_section``; ``check_lab_claim`` (the autograded part) checks
that the sentence occurs in an assistant message of this lesson's saved transcript
and that the section exists. Whether the lesson supports the claim is graded by hand.

Matching forgives what copying from the rendered chat changes: runs of spaces and
line breaks, curly quotes and dashes, Markdown emphasis markers, letter case,
quotes around the claim and its final full stop. It forgives nothing else.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from .constants import TRANSCRIPT_NAME
from .errors import LabTranscriptError

__all__ = ["MIN_WORDS", "lab_claims", "check_lab_claim"]

MIN_WORDS = 4  # fewer words ("Yes.", "It depends.") make no claim that can be judged

_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
                         "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
                         "\u00ab": '"', "\u00bb": '"', "\u2013": "-", "\u2014": "-", "\u2212": "-",
                         "\u00a0": " ", "\u202f": " ", "\u2009": " "})
_MARKUP = re.compile(r"[*`]+")  # Markdown emphasis and code marks: the chat renders them, a copy drops them
_SPACE = re.compile(r"\s+")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")
_LIST_MARK = re.compile(r"^\s*(?:[-*+]|\d+[.)]|#+)\s+")
_EDGES = " \t\n\"'.,;:!?"


def _normal(text: str) -> str:
    """Text as compared: straight quotes, no emphasis marks, single spaces, case folded."""
    text = _MARKUP.sub("", text.translate(_QUOTES))
    return _SPACE.sub(" ", text).strip().casefold()


def _claim_text(claim: str) -> str:
    """A claim as compared: normalised, without the quotes or final stop a student may add around it."""
    return _normal(claim).strip(_EDGES)


def _words(text: str) -> int:
    return len(re.findall(r"\w+", text))


def _read(path, lesson: str) -> list[dict]:
    """This lesson's transcript messages; LabTranscriptError says what is missing and what to do."""
    path = Path(path)
    if not path.is_file():
        raise LabTranscriptError(path, lesson, f"No {path.name} in {path.resolve().parent}: the lab has not saved "
                                               "a conversation in this folder.")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LabTranscriptError(path, lesson, f"{path.name} cannot be read ({exc}).") from None
    if not isinstance(data, dict) or not isinstance(data.get("messages"), list):
        raise LabTranscriptError(path, lesson, f"{path.name} is not a lab transcript (it has no list of messages).")
    if data.get("lesson") != lesson:
        raise LabTranscriptError(path, lesson, f"{path.name} is the transcript of {data.get('lesson')!r}, "
                                               f"not of {lesson!r}.")
    return [m for m in data["messages"] if isinstance(m, dict) and isinstance(m.get("content"), str)]


def _said_by(messages: list[dict], role: str) -> list[str]:
    return [m["content"] for m in messages if m.get("role") == role and m["content"].strip()]


def _sentences(text: str) -> list[str]:
    out = []
    for line in text.splitlines():
        line = _LIST_MARK.sub("", line).strip()
        for part in _SENTENCE_END.split(line):
            part = _SPACE.sub(" ", part).strip()
            if _words(part) >= MIN_WORDS:
                out.append(part)
    return out


def lab_claims(path=TRANSCRIPT_NAME, *, lesson: str) -> list[str]:
    """The sentences the assistant said in this lesson's saved lab transcript, in order, each once.

    Any of them is a valid ``lab_claim``. Raises LabTranscriptError when there is no
    usable transcript of ``lesson`` at ``path``.
    """
    seen, out = set(), []
    for reply in _said_by(_read(path, lesson), "assistant"):
        for sentence in _sentences(reply):
            if _normal(sentence) not in seen:
                seen.add(_normal(sentence))
                out.append(sentence)
    return out


def _section_problem(lab_section, sections) -> str | None:
    names = [str(s) for s in sections]
    listing = ", ".join(names)
    if lab_section is None:
        return f"lab_section is still None: write the number of this lesson's section that bears on the claim ({listing})."
    if isinstance(lab_section, bool) or not isinstance(lab_section, (int, str)):
        return (f"lab_section must be a section number, like 3 or \"3\" (got {type(lab_section).__name__} "
                f"{lab_section!r}); this lesson's sections are {listing}.")
    given = str(lab_section).strip().removeprefix("§").strip().rstrip(".")
    if given not in names:
        return f"lab_section {lab_section!r} is not a section of this lesson; its sections are {listing}."
    return None


def _claim_problem(lab_claim, messages: list[dict], path: Path, lesson: str) -> str | None:
    copy = f"Copy one sentence the assistant said (oh.lab_claims(lesson={lesson!r}) lists them) into lab_claim."
    if lab_claim is None:
        return f"lab_claim is still None. {copy}"
    if not isinstance(lab_claim, str):
        return f"lab_claim must be text in quotes (a str), not {type(lab_claim).__name__} {lab_claim!r}. {copy}"
    claim = _claim_text(lab_claim)
    if _words(claim) < MIN_WORDS:
        return f"lab_claim {lab_claim!r} is too short to judge: quote a whole sentence of at least {MIN_WORDS} words. {copy}"
    if any(claim in _normal(text) for text in _said_by(messages, "assistant")):
        return None
    for role, who in (("user", "you wrote it, in your own message"), ("system", "it is the assistant's instructions")):
        if any(claim in _normal(text) for text in _said_by(messages, role)):
            return f"lab_claim is not something the assistant said: {who}. {copy}"
    return f"lab_claim does not occur in any reply of the assistant in {path.name}, word for word. {copy}"


def check_lab_claim(lab_claim, lab_section, *, lesson: str, sections, path=TRANSCRIPT_NAME) -> tuple[bool, str]:
    """(True, a confirmation) if ``lab_claim`` is a sentence the assistant said in this lesson's
    transcript and ``lab_section`` names one of ``sections``; else (False, what is wrong and what to do).

    Never raises: a graded cell fails on its assertion, with this message, not on a traceback.
    """
    try:
        path = Path(path)
        try:
            messages = _read(path, lesson)
        except LabTranscriptError as exc:
            return False, f"Lab claim not checked: {exc}"
        problems = [p for p in (_claim_problem(lab_claim, messages, path, lesson),
                                _section_problem(lab_section, sections)) if p]
        if problems:
            return False, "Lab claim not accepted: " + " Also: ".join(problems)
        return True, (f"Lab claim found in the assistant's replies in {path.name}, and section "
                      f"{str(lab_section).strip()} exists. Your judgement below is graded by hand.")
    except Exception as exc:  # a graded cell must fail by assertion, never by traceback
        return False, f"Lab claim could not be checked ({type(exc).__name__}: {exc}). Save the notebook and run this cell again."
