"""The lesson passages a lab question bears on: BM25 over the lesson's released text, section by section.

Only what the student was given is indexed: the Markdown cells of the released
notebook beside ``lab.json`` (or, for a lab run inside the course's ``source/``
folder, of ``release/<lesson>/``), never a text source, a solution cell or a
quiz key. A passage is a few paragraphs of one numbered content section
("## N. Title"); back matter (key terms, quiz, lab, exercises, sources) is left out.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["Passage", "LessonIndex", "lesson_text_folder", "lesson_sections", "format_context"]

_HEADING = re.compile(r"^##\s+(\d+)\.\s+(.+?)\s*$")
_ANY_H2 = re.compile(r"^##\s")
_BACK_MATTER = re.compile(
    r"^(key terms|quiz|lab\b|graded exercises|check yourself|going further|sources|lab completion)", re.I)
_TAG = re.compile(r"<[^>]+>")
_MD_NOISE = re.compile(r"(\*\*|__|`|\$\$?|\\[()\[\]])")
PASSAGE_WORDS = 90  # about 120 tokens: two passages and a question fit any lab's context
# Words that ask rather than say what about, added to bm25s's longer English list.
_QUESTION_WORDS = ["what", "which", "why", "how", "when", "where", "who", "does", "do", "did", "can", "could",
                   "should", "would", "tell", "explain", "mean", "means", "really", "actually", "want", "need",
                   "know", "me", "we", "i", "us", "our", "my"]


@dataclass(frozen=True)
class Passage:
    """A few paragraphs of one lesson section."""

    section: str  # its number, as the heading writes it
    title: str
    text: str

    @property
    def heading(self) -> str:
        return f"§{self.section} {self.title}"

    def excerpt(self, limit: int = 320) -> str:
        return self.text if len(self.text) <= limit else self.text[:limit].rsplit(" ", 1)[0] + " …"

    def record(self) -> dict:
        return asdict(self)


def _plain(markdown: str) -> str:
    """Markdown and inline HTML as running text: tags, emphasis and table rules dropped."""
    text = html.unescape(_TAG.sub(" ", markdown))
    text = re.sub(r"^\s*\|?\s*:?-{3,}.*$", " ", text, flags=re.M)  # table rules
    text = _MD_NOISE.sub("", text).replace("|", " ; ")
    text = re.sub(r"(?<![\w*])\*(?=\S)|(?<=\S)\*(?![\w*])", "", text)  # *emphasis*
    text = re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", text)  # links keep their words
    return re.sub(r"\s+", " ", text).strip(" ;")


def _is_answer_cell(cell: dict) -> bool:
    meta = (cell.get("metadata") or {}).get("nbgrader") or {}
    return bool(meta.get("solution") or meta.get("grade") or meta.get("task"))


def lesson_text_folder(folder) -> Path | None:
    """Where a lab's lesson text is: the folder itself, or release/<lesson> for a lab in the course's source/."""
    folder = Path(folder).resolve()
    if folder.parent.name == "source" and (folder.parent.parent / "nbgrader_config.py").exists():
        released = folder.parent.parent / "release" / folder.name
        return released if released.is_dir() else None  # never the source notebook
    return folder


def _markdown(folder: Path) -> str:
    parts = []
    for nb in sorted(folder.glob("*.ipynb")):
        try:
            cells = json.loads(nb.read_text(encoding="utf-8")).get("cells") or []
        except (OSError, ValueError):
            continue  # a damaged notebook: no passages from it
        for cell in cells:
            if cell.get("cell_type") == "markdown" and not _is_answer_cell(cell):
                src = cell.get("source")
                parts.append("".join(src) if isinstance(src, list) else str(src or ""))
    return "\n\n".join(parts)


def _sections(markdown: str) -> list[tuple[str, str, str]]:
    """(number, title, body) of each numbered content section."""
    out, current, body = [], None, []
    for line in markdown.splitlines():
        if _ANY_H2.match(line):
            if current:
                out.append((*current, "\n".join(body)))
            m = _HEADING.match(line)
            current = (m.group(1), m.group(2)) if m and not _BACK_MATTER.match(m.group(2)) else None
            body = []
        elif current:
            body.append(line)
    if current:
        out.append((*current, "\n".join(body)))
    return out


def lesson_sections(folder=".") -> dict[str, str]:
    """The numbered content sections of the lesson notebook(s) in ``folder``: number to title."""
    where = lesson_text_folder(folder)
    return {} if where is None else {n: t for n, t, _ in _sections(_markdown(where))}


def _chunks(body: str, words: int) -> list[str]:
    """Paragraphs of a section, merged or split to about ``words`` words each."""
    paragraphs = [_plain(p) for p in re.split(r"\n\s*\n", body)]
    out, buf = [], []
    for para in filter(None, paragraphs):
        tokens = para.split()
        if len(tokens) > 2 * words:  # a long table or list: cut it into pieces, a heading before it included
            tokens, buf = buf + tokens, []
        while len(tokens) > 2 * words:
            out.append(" ".join(tokens[:words]))
            tokens = tokens[words:]
        if len(buf) >= words // 4 and len(buf) + len(tokens) > words:  # a heading or a short line stays with what follows
            out.append(" ".join(buf))
            buf = []
        buf += tokens
    if buf:
        out.append(" ".join(buf))
    return out


def _normalise(text: str) -> str:
    # British and American spellings are one word to the index: licence/license, quantisation/quantization.
    text = re.sub(r"licens", "licenc", text.lower())
    return re.sub(r"(\w)iz(e|ed|es|ing|ation|ations)\b", r"\1is\2", text)


class LessonIndex:
    """BM25 (the ``bm25s`` library) over a lesson's passages, which are ranked section first.

    Each passage is indexed with its section's title (counted twice). A question's
    section is the one whose two best passages score highest together, so one
    passing mention elsewhere does not outrank a section about the question;
    the passages returned are that section's best, then the next best anywhere.
    """

    def __init__(self, passages: list[Passage]):
        self.passages = list(passages)
        self._retriever = None
        self._stemmer = _stemmer()
        if self.passages:
            import bm25s  # deferred: numpy and the index take a moment
            from bm25s.stopwords import STOPWORDS_EN_PLUS

            self._stop = list(STOPWORDS_EN_PLUS) + _QUESTION_WORDS
            self._retriever = bm25s.BM25(k1=1.2, b=0.9)
            self._retriever.index(self._tokens([f"{p.title} {p.title} {p.text}" for p in self.passages]),
                                  show_progress=False)

    def _tokens(self, texts: list[str], ids: bool = True):
        import bm25s

        return bm25s.tokenize([_normalise(t) for t in texts], stopwords=self._stop, stemmer=self._stemmer,
                              show_progress=False, return_ids=ids)

    @classmethod
    def from_folder(cls, folder, *, words: int = PASSAGE_WORDS) -> LessonIndex:
        """The index of the lesson text a lab in ``folder`` may use (empty if there is none)."""
        where = lesson_text_folder(folder)
        if where is None:
            return cls([])
        return cls([Passage(n, t, chunk) for n, t, body in _sections(_markdown(where)) for chunk in _chunks(body, words)])

    def __len__(self) -> int:
        return len(self.passages)

    def search(self, question: str, k: int = 2) -> list[Passage]:
        """The ``k`` passages that bear most on ``question``, the best section's best first; none if no word matches."""
        if self._retriever is None or not isinstance(question, str):
            return []
        words = self._tokens([question], ids=False)[0]
        if not words:
            return []
        scores = self._retriever.get_scores(words)
        by_section: dict[str, list[float]] = {}
        for p, s in zip(self.passages, scores):
            by_section.setdefault(p.section, []).append(float(s))
        section_score = {sec: sum(sorted(v)[-2:]) for sec, v in by_section.items()}
        best = max(section_score, key=section_score.get)
        if section_score[best] <= 0:
            return []
        order = sorted(range(len(self.passages)), key=lambda i: (self.passages[i].section != best, -scores[i]))
        return [self.passages[i] for i in order[:k] if scores[i] > 0]


def _stemmer():
    try:
        import Stemmer  # PyStemmer: "licences" and "licence" are one word to the index

        return Stemmer.Stemmer("english")
    except ImportError:
        return None


def format_context(passages: list[Passage]) -> str:
    """The passages as the model reads them before the student's question."""
    if not passages:
        return ""
    lines = ["Passages from this lesson. Base your answer on them; if they do not answer the question, say so."]
    lines += [f"[{p.heading}] {p.text}" for p in passages]
    lines.append("Question:")
    return "\n".join(lines)
