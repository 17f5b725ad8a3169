"""Lab retrieval: on the real released lesson texts, the top passage comes from the section that answers the question.

The question set (tests/data/lab_questions.json: each lab's starters and five more
per lesson) names each answer's section by a phrase of its title, so rewording or
renumbering the rest of a lesson leaves it valid.
"""

import json
from pathlib import Path

import pytest

from ossllm_helpers.lab import LessonIndex, lesson_sections
from ossllm_helpers.lab.retrieval import format_context, lesson_text_folder

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = json.loads((ROOT / "tests" / "data" / "lab_questions.json").read_text(encoding="utf-8"))["lessons"]
# The bar: 90%. BM25 over the lessons of 2026-11-30 reaches 58 of 64 (90.6%), the same for k1 from 0.9
# to 1.5 and b from 0.6 to 0.9; the misses are questions whose words belong to a neighbouring section
# ("release" against "give away"). A lesson rewrite can move it by a question either way.
FLOOR = 0.90


def _top_section(index, question):
    top = index.search(question, k=1)
    return top[0].title if top else None


def test_top_passage_comes_from_the_answering_section():
    hits, misses = 0, []
    for lesson, questions in QUESTIONS.items():
        index = LessonIndex.from_folder(ROOT / "release" / lesson)
        titles = lesson_sections(ROOT / "release" / lesson).values()
        for q in questions:
            # the set stays valid: its section phrase names exactly one content section of the lesson
            assert sum(q["section"].lower() in t.lower() for t in titles) == 1, (lesson, q["section"], list(titles))
            got = _top_section(index, q["q"])
            if got and q["section"].lower() in got.lower():
                hits += 1
            else:
                misses.append(f"{lesson}: {q['q']!r} -> {got!r}, want {q['section']!r}")
    total = sum(map(len, QUESTIONS.values()))
    assert total == 64 and all(len(qs) >= 8 for qs in QUESTIONS.values())
    print(f"retrieval: {hits}/{total} = {hits / total:.1%}; misses:\n" + "\n".join(misses))
    assert hits / total >= FLOOR, "\n".join(misses)


def test_every_lab_starter_is_in_the_question_set():
    for lab in sorted((ROOT / "source").glob("lesson*/lab.json")):
        starters = json.loads(lab.read_text(encoding="utf-8"))["starters"]
        asked = {q["q"] for q in QUESTIONS[lab.parent.name]}
        assert set(starters) <= asked, f"{lab}: add its starters to tests/data/lab_questions.json"


def test_a_lab_in_source_reads_the_released_text_never_the_source(tmp_path):
    course = tmp_path / "course"
    (course / "source" / "lesson09").mkdir(parents=True)
    (course / "nbgrader_config.py").write_text("")
    source_nb = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": "## 1. Secrets\n\nThe answer key is 42."}]}
    (course / "source" / "lesson09" / "lesson09.ipynb").write_text(json.dumps(source_nb))
    assert lesson_text_folder(course / "source" / "lesson09") is None  # no release yet: no passages at all
    assert len(LessonIndex.from_folder(course / "source" / "lesson09")) == 0
    (course / "release" / "lesson09").mkdir(parents=True)
    released = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": "## 1. Public\n\nThe released text."}]}
    (course / "release" / "lesson09" / "lesson09.ipynb").write_text(json.dumps(released))
    index = LessonIndex.from_folder(course / "source" / "lesson09")
    assert [p.text for p in index.passages] == ["The released text."]


def test_answer_cells_and_back_matter_are_not_indexed(tmp_path):
    cells = [
        {"cell_type": "markdown", "metadata": {}, "source": "## 1. Memory\n\nThe KV cache grows with the context."},
        {"cell_type": "markdown", "metadata": {"nbgrader": {"solution": True, "grade": True}},
         "source": "Model answer: the KV cache holds 128 KiB per token."},
        {"cell_type": "code", "metadata": {}, "source": "KV_SECRET = 'code is never indexed'"},
        {"cell_type": "markdown", "metadata": {}, "source": "## Key terms\n\n| KV cache | keys and values |"},
        {"cell_type": "markdown", "metadata": {}, "source": "## 2. Lab 2: talk\n\nAsk the assistant."},
        {"cell_type": "markdown", "metadata": {}, "source": "## Sources\n\n- a paper"},
    ]
    (tmp_path / "lesson.ipynb").write_text(json.dumps({"cells": cells}))
    index = LessonIndex.from_folder(tmp_path)
    assert [(p.section, p.text) for p in index.passages] == [("1", "The KV cache grows with the context.")]
    assert lesson_sections(tmp_path) == {"1": "Memory"}


def test_questions_with_no_word_in_the_lesson_get_no_passage():
    index = LessonIndex.from_folder(ROOT / "release" / "lesson07")
    assert index.search("zyzzyva quokka") == [] and index.search("") == [] and index.search("what is it?") == []
    found = index.search("Will an 8B model at Q4_K_M fit in 8 GB?", k=2)
    assert 1 <= len(found) <= 2
    context = format_context(found)
    assert context.count("[§") == len(found) and context.endswith("Question:")


@pytest.mark.parametrize("lesson", sorted(QUESTIONS))
def test_each_released_lesson_has_passages_in_every_content_section(lesson):
    index = LessonIndex.from_folder(ROOT / "release" / lesson)
    assert {p.section for p in index.passages} == set(lesson_sections(ROOT / "release" / lesson))
    assert all(5 <= len(p.text.split()) <= 240 for p in index.passages)
