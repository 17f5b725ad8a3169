"""The lab's graded judgement: lab_claims lists what the assistant said; check_lab_claim accepts only that.

Fast tier: transcripts are written to tmp_path in the lab widget's format
({"lesson", "messages": [{"role", "content"}, ...]}). The attacks come first.
"""

import json

import pytest

import ossllm_helpers as oh
from ossllm_helpers.errors import LabTranscriptError
from ossllm_helpers.labclaims import MIN_WORDS, check_lab_claim, lab_claims

SECTIONS = ["1", "2", "3", "4", "5"]
SYSTEM = "You are the tutor of lesson 3. Mixtral 8x7B has 46.7B parameters in total and 12.9B active per token."
REPLY_1 = ("Mixtral 8x7B has **56 billion** parameters, because it has eight experts of 7B each.\n\n"
           "- Only two experts run for each token.\n- The router picks them at every layer.")
REPLY_2 = "Sliding-window attention keeps the cache at 4,096 tokens. It says \u201cthe window rolls\u201d as it goes."
USER_1 = "I think every expert sees every token, is that right?"


def transcript(tmp_path, lesson="lesson03", messages=None, name="lab_transcript.json"):
    if messages is None:
        messages = [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": USER_1},
            {"role": "assistant", "content": REPLY_1},
            {"role": "user", "content": "And sliding windows?"},
            {"role": "assistant", "content": REPLY_2},
        ]
    path = tmp_path / name
    path.write_text(json.dumps({"lesson": lesson, "model": "smollm2-135m-instruct", "messages": messages}))
    return path


def check(claim, section="3", tmp_path=None, path=None, lesson="lesson03"):
    return check_lab_claim(claim, section, lesson=lesson, sections=SECTIONS, path=path)


# ---------------------------------------------------------------- attacks


def test_a_claim_the_student_wrote_is_rejected(tmp_path):
    path = transcript(tmp_path)
    ok, msg = check("Mixtral 8x7B runs on a phone at full precision.", path=path)
    assert not ok
    assert "does not occur in any reply of the assistant" in msg and "oh.lab_claims(lesson='lesson03')" in msg


def test_a_near_copy_with_a_changed_word_is_rejected(tmp_path):
    path = transcript(tmp_path)
    ok, _ = check("Mixtral 8x7B has 46.7 billion parameters, because it has eight experts of 7B each.", path=path)
    assert not ok


def test_quoting_the_students_own_message_is_rejected_and_said_so(tmp_path):
    path = transcript(tmp_path)
    ok, msg = check("I think every expert sees every token", path=path)
    assert not ok and "you wrote it, in your own message" in msg


def test_quoting_the_system_prompt_is_rejected_and_said_so(tmp_path):
    path = transcript(tmp_path)
    ok, msg = check("Mixtral 8x7B has 46.7B parameters in total and 12.9B active per token.", path=path)
    assert not ok and "assistant's instructions" in msg


def test_a_transcript_of_another_lesson_is_rejected(tmp_path):
    path = transcript(tmp_path, lesson="lesson02")
    ok, msg = check("Only two experts run for each token.", path=path)
    assert not ok and "'lesson02', not of 'lesson03'" in msg and "Run the lab in the lesson03 notebook" in msg


@pytest.mark.parametrize("claim, says", [
    (None, "lab_claim is still None"),
    (42, "must be text in quotes (a str), not int 42"),
    (["Only two experts run for each token."], "not list"),
    (b"Only two experts run for each token.", "not bytes"),
    ("", "too short"),
    ("Only two.", "too short"),
    ("   ", "too short"),
])
def test_wrong_claim_types_and_empty_claims_say_what_to_do(tmp_path, claim, says):
    ok, msg = check(claim, path=transcript(tmp_path))
    assert not ok and says in msg and "Copy one sentence the assistant said" in msg


@pytest.mark.parametrize("section, says", [
    (None, "lab_section is still None"),
    (True, "must be a section number"),
    (3.0, "must be a section number"),
    ([3], "must be a section number"),
    (9, "not a section of this lesson"),
    ("three", "not a section of this lesson"),
    ("", "not a section of this lesson"),
])
def test_wrong_sections_are_rejected_and_listed(tmp_path, section, says):
    ok, msg = check("Only two experts run for each token.", section=section, path=transcript(tmp_path))
    assert not ok and says in msg and "1, 2, 3, 4, 5" in msg


def test_both_wrong_reports_both(tmp_path):
    ok, msg = check("My own sentence about experts and tokens.", section=None, path=transcript(tmp_path))
    assert not ok and "does not occur" in msg and "lab_section is still None" in msg


def test_missing_transcript_says_so(tmp_path):
    ok, msg = check("Only two experts run for each token.", path=tmp_path / "lab_transcript.json")
    assert not ok and "No lab_transcript.json in" in msg and "Run the lab" in msg


@pytest.mark.parametrize("text, says", [
    ("{not json", "cannot be read"),
    ('{"lesson": "lesson03"}', "not a lab transcript"),
    ('["a", "list"]', "not a lab transcript"),
    ('{"lesson": "lesson03", "messages": "hello"}', "not a lab transcript"),
])
def test_corrupt_transcript_says_so_without_a_traceback(tmp_path, text, says):
    path = tmp_path / "lab_transcript.json"
    path.write_text(text)
    ok, msg = check("Only two experts run for each token.", path=path)
    assert not ok and says in msg


def test_binary_garbage_transcript(tmp_path):
    path = tmp_path / "lab_transcript.json"
    path.write_bytes(b"\xff\xfe\x00garbage")
    ok, msg = check("Only two experts run for each token.", path=path)
    assert not ok and "cannot be read" in msg


def test_malformed_messages_are_skipped_not_fatal(tmp_path):
    messages = [None, 3, {"role": "assistant"}, {"role": "assistant", "content": 7},
                {"role": "assistant", "content": "The router picks two experts for each token."}]
    path = transcript(tmp_path, messages=messages)
    assert check("The router picks two experts for each token.", path=path)[0]
    assert lab_claims(path, lesson="lesson03") == ["The router picks two experts for each token."]


def test_a_transcript_folder_instead_of_a_file(tmp_path):
    folder = tmp_path / "lab_transcript.json"
    folder.mkdir()
    ok, msg = check("Only two experts run for each token.", path=folder)
    assert not ok and "No lab_transcript.json" in msg


# ---------------------------------------------------------------- what is accepted


@pytest.mark.parametrize("claim", [
    "Only two experts run for each token.",                        # a list item, as rendered
    "Only two experts run for each token",                         # without its full stop
    '"Only two experts run for each token."',                      # in quotes
    "  only TWO experts   run\nfor each token. ",                  # case and spacing
    "Mixtral 8x7B has 56 billion parameters, because it has eight experts of 7B each.",  # bold marks dropped
    "Mixtral 8x7B has **56 billion** parameters",                  # or kept
    'It says "the window rolls" as it goes.',                      # straight quotes for curly ones
    "It says \u201cthe window rolls\u201d as it goes.",
])
def test_copies_from_the_rendered_chat_are_accepted(tmp_path, claim):
    ok, msg = check(claim, section=3, path=transcript(tmp_path))
    assert ok, msg
    assert "graded by hand" in msg


@pytest.mark.parametrize("section", [3, "3", " 3 ", "3.", "§3"])
def test_section_forms(tmp_path, section):
    assert check("Only two experts run for each token.", section=section, path=transcript(tmp_path))[0]


def test_sections_given_as_ints(tmp_path):
    ok, msg = check_lab_claim("Only two experts run for each token.", 2, lesson="lesson03", sections=[1, 2],
                              path=transcript(tmp_path))
    assert ok, msg


def test_lab_claims_lists_the_assistants_sentences(tmp_path):
    claims = lab_claims(transcript(tmp_path), lesson="lesson03")
    assert claims == [
        "Mixtral 8x7B has **56 billion** parameters, because it has eight experts of 7B each.",
        "Only two experts run for each token.",
        "The router picks them at every layer.",
        "Sliding-window attention keeps the cache at 4,096 tokens.",
        "It says \u201cthe window rolls\u201d as it goes.",
    ]
    assert USER_1 not in claims and not any("46.7B" in c for c in claims)


def test_every_listed_sentence_passes_the_check(tmp_path):
    path = transcript(tmp_path)
    claims = lab_claims(path, lesson="lesson03")
    assert claims
    for claim in claims:
        assert check(claim, path=path)[0], claim
        assert len(claim.split()) >= MIN_WORDS


def test_lab_claims_skips_repeats_and_short_bits(tmp_path):
    messages = [{"role": "assistant", "content": "Yes. Q4_K_M is the usual starting point. Yes."},
                {"role": "assistant", "content": "Q4_K_M is the usual   starting point."}]
    assert lab_claims(transcript(tmp_path, messages=messages), lesson="lesson03") == [
        "Q4_K_M is the usual starting point."]


def test_abbreviations_do_not_split_sentences(tmp_path):
    messages = [{"role": "assistant", "content": "Use a small model, e.g. the 1.5B one, on a laptop. Then test it."}]
    assert lab_claims(transcript(tmp_path, messages=messages), lesson="lesson03") == [
        "Use a small model, e.g. the 1.5B one, on a laptop."]


@pytest.mark.parametrize("setup", ["missing", "other lesson", "corrupt"])
def test_lab_claims_raises_a_typed_error(tmp_path, setup):
    path = tmp_path / "lab_transcript.json"
    if setup == "other lesson":
        transcript(tmp_path, lesson="lesson05")
    elif setup == "corrupt":
        path.write_text("{")
    with pytest.raises(LabTranscriptError) as info:
        lab_claims(path, lesson="lesson03")
    assert isinstance(info.value, LookupError) and info.value.lesson == "lesson03"
    assert "Run the lab in the lesson03 notebook" in str(info.value)


def test_default_path_is_the_transcript_beside_the_notebook(tmp_path, monkeypatch):
    transcript(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert oh.lab_claims(lesson="lesson03")
    assert oh.check_lab_claim("Only two experts run for each token.", "3", lesson="lesson03", sections=SECTIONS)[0]
