"""A lab's files: lab.json (validated) and lab_transcript.json (written safely, checked by graded cells).

``lab_complete`` and ``lab_status`` say whether a transcript has enough real
exchanges (``labclaims`` checks a claim a student quotes from it).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..constants import TRANSCRIPT_NAME
from ..errors import QuizFormatError
from ..quiz import read_lesson_json
from ..schemas import first_problem

__all__ = [
    "load_lab",
    "count_exchanges",
    "lab_complete",
    "lab_status",
    "read_history",
    "write_transcript",
]

def load_lab(path="lab.json") -> dict:
    """Read and validate lab.json; QuizFormatError names the file and the problem."""
    path = Path(path)
    data = read_lesson_json(path, "lab")
    problem = first_problem(data, "lab")  # the course's one schema validator
    if problem is not None:
        where, what, _count = problem
        raise QuizFormatError(
            f"{path}: {where}: {what}. "
            "Fix the file to match ossllm_helpers/data/lab.schema.json (see CONTRIBUTING.md, 'Lesson data files')."
        )
    return data


def _content(msg) -> str:
    if not isinstance(msg, dict) or not isinstance(msg.get("content"), str):
        return ""
    return msg["content"].strip()


def count_exchanges(messages) -> int:
    """User messages directly answered by the assistant, both non-empty."""
    if not isinstance(messages, list):
        return 0
    return sum(
        1 for a, b in zip(messages, messages[1:])
        if isinstance(a, dict) and isinstance(b, dict) and a.get("role") == "user" and b.get("role") == "assistant"
        and _content(a) and _content(b)
    )


def _read(path: Path, lesson) -> tuple[dict | None, str]:
    """The transcript's data, or None and why not."""
    if not path.is_file():
        return None, f"no {path.name} in {path.resolve().parent}"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, f"{path.name} cannot be read ({exc})"
    if not isinstance(data, dict) or not isinstance(data.get("messages"), list):
        return None, f"{path.name} is not a lab transcript (no list of messages)"
    if lesson is not None and data.get("lesson") != lesson:
        return None, f"{path.name} is for lesson {data.get('lesson')!r}, not {lesson!r}: run the lab in the {lesson} notebook"
    return data, ""


def _assess(path, lesson, minimum) -> tuple[bool, str]:
    path = Path(path)
    todo = f"Run the lab cell and talk to the assistant (at least {minimum} exchanges), then save the notebook."
    data, why = _read(path, lesson)
    if data is None:
        return False, f"Lab not complete: {why}. {todo}"
    n = count_exchanges(data["messages"])
    if n < minimum:
        return False, f"Lab not complete: {n} of {minimum} exchanges so far. Talk to the assistant {minimum - n} more time(s)."
    return True, f"Lab complete: {n} exchanges with the assistant ({minimum} needed)."


def lab_complete(path=TRANSCRIPT_NAME, *, lesson=None, minimum=3) -> bool:
    """True if the transcript exists, is for ``lesson`` and has ``minimum`` real exchanges; never raises."""
    try:
        return _assess(path, lesson, minimum)[0]
    except Exception:  # a graded cell must fail by assertion, not by traceback
        return False


def lab_status(path=TRANSCRIPT_NAME, *, lesson=None, minimum=3) -> str:
    """One sentence: complete, or why not and what to do."""
    try:
        return _assess(path, lesson, minimum)[1]
    except Exception as exc:
        return f"Lab not complete: {path} could not be checked ({exc})."


# ---------------------------------------------------------------- reading and writing


def read_history(path: Path, lesson: str) -> list[dict] | None:
    """Earlier user/assistant messages of this lesson (extra keys kept), or None if absent or unusable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(data, dict) or data.get("lesson") != lesson or not isinstance(data.get("messages"), list):
        return None
    return [dict(m) for m in data["messages"]
            if isinstance(m, dict) and m.get("role") in ("user", "assistant") and isinstance(m.get("content"), str)]


def _aside_name(path: Path) -> Path:
    """lab_transcript.old.json, or .old-2.json, .old-3.json ... : never one that exists."""
    candidate = path.with_name(f"{path.stem}.old{path.suffix}")
    n = 2
    while candidate.exists():
        candidate = path.with_name(f"{path.stem}.old-{n}{path.suffix}")
        n += 1
    return candidate


def write_transcript(path: Path, data: dict, *, move_aside: bool = False) -> Path:
    """Write ``data`` atomically; with ``move_aside`` an unusable file there is first kept under a new name."""
    if move_aside and path.exists():
        os.replace(path, _aside_name(path))
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)  # a crash mid-write never leaves half a transcript
    return path
