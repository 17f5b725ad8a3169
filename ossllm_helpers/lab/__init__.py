"""A lesson's lab: an assistant grounded in the lesson's own text, and the checks a graded cell uses.

``widget``: ``LabChat``, the conversation widget; ``retrieval``: the lesson
passages a question bears on; ``picker``: the models to choose from;
``transcript``: lab.json, lab_transcript.json and the graded check
(``lab_complete``, ``lab_status``); ``panel``: the
front-end part of the widget (loaded only with it).
"""

from ..constants import TRANSCRIPT_NAME
from .retrieval import LessonIndex, Passage, lesson_sections
from .transcript import (
    count_exchanges,
    lab_complete,
    lab_status,
    load_lab,
)
from .widget import LabChat

__all__ = [
    "LabChat",
    "lab_complete",
    "lab_status",
    "lesson_sections",
    "load_lab",
    "count_exchanges",
    "LessonIndex",
    "Passage",
    "TRANSCRIPT_NAME",
]
