"""Quiz: answer obfuscation, schema checks, scoring, the widget, the release build."""

import copy
import json
from pathlib import Path

import pytest

from ossllm_helpers.errors import QuizFormatError
from ossllm_helpers.quiz import (
    Quiz,
    answer_hash,
    build_quizzes,
    check_quizzes_current,
    dump_quiz,
    encode_quiz,
    load_quiz,
    markdown_html,
    validate_quiz,
)

ROOT = Path(__file__).resolve().parents[1]

PLAIN = {
    "lesson": "lesson01",
    "title": "Check your understanding",
    "salt": "5eed0f00c0ffee42",
    "questions": [
        {
            "id": "q1",
            "prompt": "Which file format does **llama.cpp** load?",
            "multiple": False,
            "options": [
                {"text": "GGUF", "correct": True, "feedback": "llama.cpp reads GGUF: one file with weights and metadata."},
                {"text": "ONNX", "correct": False, "feedback": "ONNX is an exchange format for graph runtimes."},
                {"text": "safetensors", "correct": False, "feedback": "safetensors holds tensors for PyTorch-style loaders."},
                {"text": "pickle", "correct": False, "feedback": "Pickle files can run code when loaded; avoid them."},
            ],
        },
        {
            "id": "q2",
            "prompt": "Which of these licences allow commercial use?",
            "multiple": True,
            "options": [
                {"text": "Apache-2.0", "correct": True, "feedback": "Apache-2.0 is permissive, with a patent grant."},
                {"text": "MIT", "correct": True, "feedback": "MIT is permissive."},
                {"text": "CC BY-NC 4.0", "correct": False, "feedback": "NC means non-commercial."},
                {"text": "Research-only", "correct": False, "feedback": "A research-only licence rules out products."},
            ],
        },
        {
            "id": "q3",
            "prompt": "What does `Q4_K_M` name?",
            "multiple": False,
            "options": [
                {"text": "A quantisation type", "correct": True, "feedback": "About 4.8 bits per weight, k-quant, medium."},
                {"text": "A model family", "correct": False, "feedback": "Families are names like Llama or Qwen."},
                {"text": "A licence", "correct": False, "feedback": "Licences are named by ids like Apache-2.0."},
            ],
        },
    ],
}


def _all_feedback(plain):
    return [o["feedback"] for q in plain["questions"] for o in q["options"]]


def _keys(obj):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield k
            yield from _keys(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _keys(v)


@pytest.fixture
def quiz():
    return Quiz(encode_quiz(copy.deepcopy(PLAIN)), source="quiz.json", user="ada")


def write(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data) if not isinstance(data, str) else data, encoding="utf-8")
    return path


# ---------------------------------------------------------------- pure logic


def test_single_answer_round_trip(quiz):
    right = quiz.check("q1", 0)
    assert right.correct and right.message == "Correct."
    assert right.feedback == [("GGUF", PLAIN["questions"][0]["options"][0]["feedback"])]
    wrong = quiz.check("q1", "ONNX")
    assert not wrong.correct and wrong.message.startswith("Not quite")
    assert wrong.feedback == [("ONNX", "ONNX is an exchange format for graph runtimes.")]


def test_multiple_answer_needs_exactly_the_correct_set(quiz):
    assert quiz.check("q2", [1, 0]).correct
    assert quiz.check("q2", ["Apache-2.0", "MIT"]).correct
    assert not quiz.check("q2", [0]).correct  # a subset is not enough
    assert not quiz.check("q2", [0, 1, 2]).correct  # nor a superset
    both = quiz.check("q2", [0, 2])
    assert not both.correct and both.chosen == [0, 2]
    assert dict(both.feedback) == {"Apache-2.0": "Apache-2.0 is permissive, with a patent grant.",
                                   "CC BY-NC 4.0": "NC means non-commercial."}
    # feedback is listed in the order the student saw the options
    shown = [text for _, text in quiz.shown_options("q2")]
    assert [text for text, _ in both.feedback] == [t for t in shown if t in ("Apache-2.0", "CC BY-NC 4.0")]


def test_every_wrong_single_answer_is_wrong(quiz):
    for i in range(1, 4):
        assert not quiz.check("q1", i).correct


def test_bad_selections_are_rejected(quiz):
    with pytest.raises(ValueError, match="takes one answer"):
        quiz.check("q1", [0, 1])
    with pytest.raises(ValueError, match="no option"):
        quiz.check("q1", "JSON")
    with pytest.raises(ValueError, match="options 0..3"):
        quiz.check("q1", 7)
    with pytest.raises(KeyError, match="q9"):
        quiz.check("q9", 0)
    empty = quiz.check("q1", None)
    assert not empty.correct and empty.message == "Choose an option first."
    assert quiz.attempts["q1"] == 0  # an empty check is not an attempt


def test_encoded_file_holds_no_answer_key_or_feedback():
    encoded = encode_quiz(copy.deepcopy(PLAIN))
    text = dump_quiz(encoded)
    assert "correct" not in set(_keys(encoded))
    assert '"correct"' not in text
    for fb in _all_feedback(PLAIN):
        assert fb not in text
        assert fb.split(":")[0] not in text  # not even the start of it
    # same correct index in q1 and q3, yet different hashes: salted per question
    h1, h3 = encoded["questions"][0]["answer_sha256"], encoded["questions"][2]["answer_sha256"]
    assert h1 != h3
    assert h1 == answer_hash(PLAIN["salt"], "q1", [0])
    assert h1 != answer_hash("00000000", "q1", [0])
    # option texts are kept for display, in order
    assert [o["text"] for o in encoded["questions"][0]["options"]] == ["GGUF", "ONNX", "safetensors", "pickle"]
    assert validate_quiz(encoded, source="x") == "encoded"


def test_encoding_is_deterministic_and_salt_dependent():
    a = dump_quiz(encode_quiz(copy.deepcopy(PLAIN)))
    b = dump_quiz(encode_quiz(copy.deepcopy(PLAIN)))
    assert a == b
    other = copy.deepcopy(PLAIN)
    other["salt"] = "abcdef0123456789"
    c = dump_quiz(encode_quiz(other))
    assert c != a
    assert json.loads(c)["questions"][0]["answer_sha256"] != json.loads(a)["questions"][0]["answer_sha256"]


def test_long_and_non_ascii_feedback_survives():
    plain = copy.deepcopy(PLAIN)
    long_fb = "Längere Rückmeldung – " + "über 32 Bytes hinaus, " * 10 + "🙂"
    plain["questions"][0]["options"][1]["feedback"] = long_fb
    q = Quiz(encode_quiz(plain))
    assert q.check("q1", 1).feedback[0][1] == long_fb


def test_plain_quiz_is_encoded_when_loaded_directly():
    q = Quiz(copy.deepcopy(PLAIN))
    assert "correct" not in set(_keys(q.data))
    assert q.check("q3", 0).correct


# ---------------------------------------------------------------- scoring and retry


def test_score_counts_latest_result_and_retry_is_allowed(quiz):
    assert quiz.score_text == "0 / 3 correct"
    quiz.check("q1", 2)
    assert quiz.score == 0 and quiz.attempts["q1"] == 1
    quiz.check("q1", 0)  # retry
    assert quiz.score == 1 and quiz.attempts["q1"] == 2
    quiz.check("q2", [0, 1])
    assert quiz.score_text == "2 / 3 correct"
    quiz.check("q2", [0])  # changing a right answer to a wrong one loses the point
    assert quiz.score_text == "1 / 3 correct"
    quiz.check("q2", [0, 1])
    quiz.check("q3", 0)
    assert quiz.score_text == "3 / 3 correct"


# ---------------------------------------------------------------- schema and file errors


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (lambda d: d.pop("salt"), "'salt' is a required property"),
        (lambda d: d["questions"][0].pop("multiple"), "'multiple' is a required property"),
        (lambda d: d["questions"][0]["options"][0].update(correct="yes"), "is not of type 'boolean'"),
        (lambda d: d["questions"][1]["options"][0].update(explanation="x"), "explanation"),
        (lambda d: d.update(salt="not hex!"), "does not match"),
        (lambda d: d["questions"][0]["options"].__setitem__(slice(1, None), []), "too short"),
        (lambda d: d["questions"][0]["options"][1].update(correct=True), "exactly one"),
        (lambda d: [o.update(correct=False) for o in d["questions"][1]["options"]], "no option is marked correct"),
        (lambda d: d["questions"][2].update(id="q1"), "duplicate question id"),
        (lambda d: d["questions"][0]["options"][1].update(feedback="Not quite: ONNX is ..."), "verdict"),
        (lambda d: d["questions"][0]["options"][0].update(feedback="Correct! GGUF."), "verdict"),
    ],
)
def test_plain_schema_errors_name_the_file_and_problem(tmp_path, mutate, expected):
    data = copy.deepcopy(PLAIN)
    mutate(data)
    path = write(tmp_path / "lesson01" / "quiz.answers.json", data)
    with pytest.raises(QuizFormatError) as err:
        load_quiz(path)
    assert str(path) in str(err.value)
    assert expected in str(err.value)


def test_encoded_schema_errors(tmp_path):
    encoded = encode_quiz(copy.deepcopy(PLAIN))
    encoded["questions"][0]["answer_sha256"] = "abc"
    path = write(tmp_path / "quiz.json", encoded)
    with pytest.raises(QuizFormatError, match=r"quiz\.json.*questions\[0\]\.answer_sha256"):
        load_quiz(path)
    encoded = encode_quiz(copy.deepcopy(PLAIN))
    encoded["questions"][1]["options"][0]["correct"] = True  # a leaked key is refused
    with pytest.raises(QuizFormatError, match="correct"):
        load_quiz(write(tmp_path / "quiz.json", encoded))


def test_invalid_json_and_missing_file(tmp_path):
    path = write(tmp_path / "quiz.json", '{"lesson": "lesson01",\n  "title": }')
    with pytest.raises(QuizFormatError, match=r"quiz\.json: not valid JSON \(line 2"):
        load_quiz(path)
    with pytest.raises(QuizFormatError, match="no such quiz file"):
        load_quiz(tmp_path / "nope" / "quiz.json")


def test_encode_refuses_encoded_input():
    with pytest.raises(QuizFormatError, match="already encoded"):
        encode_quiz(encode_quiz(copy.deepcopy(PLAIN)))


def test_from_file_falls_back_to_the_plain_file(tmp_path):
    write(tmp_path / "quiz.answers.json", PLAIN)
    q = Quiz.from_file(tmp_path / "quiz.json")
    assert q.source.endswith("quiz.answers.json") and q.check("q1", 0).correct


def test_markdown_is_rendered_safely():
    out = markdown_html("Use **GGUF** with `llama.cpp` and *care*\n- one\n- <script>x</script>")
    assert "<b>GGUF</b>" in out and "<code>llama.cpp</code>" in out and "<i>care</i>" in out
    assert "<li>one</li>" in out
    assert "<script>" not in out and "&lt;script&gt;" in out
    assert markdown_html("`**kept**`") == "<code>**kept**</code>"


# ---------------------------------------------------------------- option order


def test_order_is_stable_per_student_and_differs_between_students():
    plain = copy.deepcopy(PLAIN)
    a1, a2 = Quiz(plain, user="ada"), Quiz(plain, user="ada")
    assert a1.order == a2.order  # re-running the cell shows the same order
    for qid, order in a1.order.items():
        assert sorted(order) == list(range(len(plain["questions"][int(qid[1]) - 1]["options"])))
    others = [Quiz(plain, user=f"student{n}").order for n in range(20)]
    assert any(o != a1.order for o in others)
    # the order depends on the question too: q1 and q2 have four options each
    orders = [Quiz(plain, user=f"s{n}").order for n in range(50)]
    assert any(o["q1"] != o["q2"] for o in orders)


def test_order_seed_is_the_login_name(monkeypatch):
    from ossllm_helpers import quiz_view

    monkeypatch.setenv("JUPYTERHUB_USER", "grace")
    assert quiz_view.student_name() == "grace"
    assert Quiz(copy.deepcopy(PLAIN)).order == Quiz(copy.deepcopy(PLAIN), user="grace").order
    monkeypatch.delenv("JUPYTERHUB_USER")
    monkeypatch.setattr(quiz_view.getpass, "getuser", lambda: "linus")
    assert quiz_view.student_name() == "linus"

    def no_login():
        raise OSError("no user name")

    monkeypatch.setattr(quiz_view.getpass, "getuser", no_login)
    assert quiz_view.student_name() == "student"


def test_file_order_no_longer_matters():
    """Across students the correct option lands in every position about equally often."""
    from ossllm_helpers.quiz_view import display_order

    students, n = 800, 4
    counts = [0] * n
    for s in range(students):
        counts[display_order(f"user{s:04d}", "lesson01", "q1", n).index(0)] += 1
    expected = students / n
    # chi-square with 3 degrees of freedom; 16.3 is the 0.1% critical value
    chi2 = sum((c - expected) ** 2 / expected for c in counts)
    assert chi2 < 16.3, counts
    # and within one student, over many questions, the first file option is not favoured either
    firsts = [display_order("ada", "lesson01", f"q{k}", n)[0] for k in range(400)]
    assert max(firsts.count(i) for i in range(n)) < 140, [firsts.count(i) for i in range(n)]


def test_order_does_not_change_hashes_or_feedback():
    plain = copy.deepcopy(PLAIN)
    encoded = encode_quiz(plain)
    for user in ("ada", "grace", "linus", "x"):
        q = Quiz(encode_quiz(plain), user=user)
        assert q.data == encoded  # the shipped data is untouched
        assert q.check("q1", "GGUF").correct and q.check("q2", ["MIT", "Apache-2.0"]).correct
        assert q.check("q3", 0).feedback == [("A quantisation type", "About 4.8 bits per weight, k-quant, medium.")]


# ---------------------------------------------------------------- widget


def _pick(quiz, qid, *texts):
    """Tick the boxes showing these option texts, as a student would."""
    ui = quiz.controls[qid]
    shown = dict((text, k) for k, (_, text) in enumerate(quiz.shown_options(qid)))
    for text in texts:
        ui["boxes"][shown[text]].value = True


def test_widget_single_answer_with_retry(quiz):
    import ipywidgets as w

    view = quiz.widget
    assert isinstance(view, w.VBox) and "ossllm-quiz" in view._dom_classes
    q1 = quiz.controls["q1"]
    assert all(isinstance(b, w.Checkbox) and not b.value for b in q1["boxes"])
    q1["button"].click()
    assert "Choose an option first" in q1["feedback"].value
    assert quiz.score_label.value == "0 / 3 correct"
    _pick(quiz, "q1", "ONNX")
    q1["button"].click()
    assert "Not quite" in q1["feedback"].value and "exchange format" in q1["feedback"].value
    assert quiz.score_label.value == "0 / 3 correct"
    _pick(quiz, "q1", "GGUF")  # ticking another box clears the first: one answer
    assert sum(b.value for b in q1["boxes"]) == 1
    q1["button"].click()
    assert "Correct." in q1["feedback"].value and "weights and metadata" in q1["feedback"].value
    assert "exchange format" not in q1["feedback"].value
    assert quiz.score_label.value == "1 / 3 correct"
    assert quiz.attempts["q1"] == 2


def test_each_box_selects_its_own_option():
    """Every box, in every student's order, checks the option whose text is beside it."""
    for user in ("ada", "grace", "linus"):
        quiz = Quiz(copy.deepcopy(PLAIN), user=user)
        quiz.widget
        for qid in quiz.question_ids:
            ui = quiz.controls[qid]
            rows = quiz.widget.children[quiz.question_ids.index(qid) + 1].children[1].children
            for k, box in enumerate(ui["boxes"]):
                for other in ui["boxes"]:
                    other.value = False
                box.value = True
                label = rows[k].children[1].value
                verdict = quiz.check(qid, quiz._selection_of(qid))
                assert len(verdict.feedback) == 1
                assert f">{markdown_html(verdict.feedback[0][0])}<" in label


def test_widget_multiple_answer_keeps_several_boxes(quiz):
    quiz.widget  # builds the controls
    q2 = quiz.controls["q2"]
    assert sorted(text for _, text in quiz.shown_options("q2")) == sorted(
        ["Apache-2.0", "MIT", "CC BY-NC 4.0", "Research-only"]
    )
    _pick(quiz, "q2", "Apache-2.0")
    q2["button"].click()
    assert "Not quite" in q2["feedback"].value and "patent grant" in q2["feedback"].value
    _pick(quiz, "q2", "MIT")
    assert sum(b.value for b in q2["boxes"]) == 2  # the first box stays ticked
    q2["button"].click()
    assert "Correct." in q2["feedback"].value and "MIT is permissive" in q2["feedback"].value
    assert quiz.score_label.value == "1 / 3 correct"


def test_option_labels_render_markdown_and_wrap(quiz):
    plain = copy.deepcopy(PLAIN)
    plain["questions"][2]["options"][0]["text"] = "The `Q4_K_M` **quantisation** type, " + "long words " * 40
    q = Quiz(plain, user="ada")
    q.widget
    k = [i for i, _ in q.shown_options("q3")].index(0)
    row = q.widget.children[3].children[1].children[k]
    assert "ossllm-quiz-option" in row._dom_classes and row.layout.align_items == "flex-start"
    label = row.children[1]
    assert "<code>Q4_K_M</code>" in label.value and "<b>quantisation</b>" in label.value
    assert "`" not in label.value and "**" not in label.value
    assert "white-space:normal" in label.value and label.layout.min_width == "0"


def test_prompt_markdown_and_kind_in_widget(quiz):
    quiz.widget
    html_text = quiz.widget.children[1].children[0].value
    assert "<b>llama.cpp</b>" in html_text and "Select one." in html_text
    assert "Select all that apply." in quiz.widget.children[2].children[0].value


def test_show_quiz_displays_once(tmp_path, capsys):
    from ossllm_helpers.quiz import show_quiz

    write(tmp_path / "quiz.json", encode_quiz(PLAIN))
    assert show_quiz(tmp_path / "quiz.json") is None  # a returned Quiz would be shown a second time
    assert "<Quiz lesson01: 3 questions, 0 / 3 correct>" in capsys.readouterr().out
    with pytest.raises(QuizFormatError, match="no such quiz file"):
        show_quiz(tmp_path / "other" / "quiz.json")


def test_widget_bundle_is_a_widget_view(quiz):
    bundle = quiz._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle


# ---------------------------------------------------------------- release build


def test_build_and_staleness(tmp_path):
    src = tmp_path / "source"
    write(src / "lesson01" / "quiz.answers.json", PLAIN)
    other = copy.deepcopy(PLAIN)
    other["lesson"] = "lesson02"
    write(src / "lesson02" / "quiz.answers.json", other)
    assert check_quizzes_current(src) == [str(src / "lesson01" / "quiz.json"), str(src / "lesson02" / "quiz.json")]
    written = build_quizzes(src)
    assert written == [src / "lesson01" / "quiz.json", src / "lesson02" / "quiz.json"]
    assert check_quizzes_current(src) == []
    shipped = load_quiz(src / "lesson01" / "quiz.json")
    assert shipped == encode_quiz(PLAIN)
    # an edited answer key makes the shipped file stale
    other["questions"][0]["options"][0]["feedback"] = "Changed explanation."
    write(src / "lesson02" / "quiz.answers.json", other)
    assert check_quizzes_current(src) == [str(src / "lesson02" / "quiz.json")]
    build_quizzes(src)
    assert check_quizzes_current(src) == []


def test_build_refuses_lesson_folder_mismatch(tmp_path):
    wrong = copy.deepcopy(PLAIN)
    wrong["lesson"] = "lesson07"
    write(tmp_path / "lesson03" / "quiz.answers.json", wrong)
    with pytest.raises(QuizFormatError, match="'lesson07' but the file is in folder 'lesson03'"):
        build_quizzes(tmp_path)


def test_command_line(tmp_path, capsys):
    """`python -m ossllm_helpers quiz build|check`: the quiz's commands in the course's one command-line tree."""
    from ossllm_helpers.cli import main

    write(tmp_path / "lesson01" / "quiz.answers.json", PLAIN)
    assert main(["quiz", "check", str(tmp_path)]) == 1
    assert "stale:" in capsys.readouterr().out
    assert main(["quiz", "build", str(tmp_path)]) == 0
    assert main(["quiz", "check", str(tmp_path)]) == 0
    with pytest.raises(SystemExit) as usage:
        main(["quiz"])
    assert usage.value.code == 2


# ---------------------------------------------------------------- the course's own quizzes

LESSON_QUIZZES = sorted((ROOT / "source").glob("*/quiz.answers.json"))


@pytest.mark.parametrize("path", LESSON_QUIZZES, ids=lambda p: p.parent.name)
def test_lesson_quiz_is_valid(path):
    data = load_quiz(path)
    assert "encoding" not in data and data["lesson"] == path.parent.name


@pytest.mark.skipif(not LESSON_QUIZZES, reason="no lesson quizzes written yet")
def test_shipped_quizzes_are_current():
    stale = check_quizzes_current(ROOT / "source")
    assert stale == [], f"run `python -m ossllm_helpers quiz build source` to regenerate: {stale}"
