"""The hostile suite: one class of crafted attackers and ordinary classmates, graded once through the real command line.

Every attack in ``hostile/attacks.py`` must end with the attacker scored at what its real
answers earn (by the key, an oracle independent of the grader), every classmate scored as
their own answers earn, the course folder, gradebook and classmates' files untouched, no
output saying ``BREACH``, and the run ending with its CSV and report. Limits are tight so
the class takes about a minute on 2 cores.
"""

import csv
import hashlib
import json
import os
import resource
import secrets
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest

from crafted import submissions as craft
from hostile.attacks import ALL, ATTACKS, BYSTANDERS
from hostile.sandbox_check import require_sandbox
from ossllm_helpers.course import nbgrader_env

pytestmark = [pytest.mark.notebooks, pytest.mark.grading]

ROOT = Path(__file__).resolve().parents[1]
SECRET = "ossllm-secret-" + secrets.token_hex(8)
VICTIM = "zz-late"
LIMITS = ["--timeout", "2", "--notebook-timeout", "15", "--cpu", "10", "--memory", "512", "--processes", "48",
          "--output", "64", "--disk", "32", "--jobs", "2"]


def _grade(*args, env=None, check=True) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "ossllm_helpers", "grade", *args], capture_output=True, text=True,
                            env=env or nbgrader_env())
    if check:
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def make_course(root: Path) -> Path:
    root.mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", root)
    shutil.copytree(ROOT / "source" / "module_test", root / "source" / "module_test")
    _grade("release", "--course", str(root))
    return root


def resolve(answers, src) -> dict:
    """An attack's answers as {name: Python source} (see hostile/attacks.py)."""
    good = craft.solutions(src)
    if answers in (ALL, "NUMBER_TYPES"):
        return dict(good)
    if answers == "HALF":
        names = sorted(good)
        return {n: good[n] for n in names[: len(names) // 2]}
    letters, numbers = craft.letter_questions(src), craft.number_questions(src)
    out = {}
    for key, template in answers.items():
        if key.startswith("letter:"):
            q = letters[int(key.partition(":")[2])]
            out[q] = good[q] if template == "RIGHT" else template
            continue
        names = {"each": sorted(good), "letters": letters, "numbers": numbers}[key]
        out.update({q: template.format(q=q) for q in names})
    return out


def _number_types(src) -> dict:
    """Every number answered as a Decimal, a Fraction or a numpy scalar, in turn."""
    wrap = ['__import__("decimal").Decimal({!r})', '__import__("fractions").Fraction({!r})',
            '__import__("numpy").float64({!r})']
    out = {}
    for i, q in enumerate(craft.number_questions(src)):
        out[q] = wrap[i % 3].format(repr(float(eval(craft.solutions(src)[q], {}))))
    return out


def craft_attack(attack, release_nb, src, port, course) -> nbformat.NotebookNode:
    answers = resolve(attack.answers, src)
    if attack.answers == "NUMBER_TYPES":
        answers.update(_number_types(src))
    nb = craft.with_answers(release_nb, answers)
    code = attack.code.format(course=course, victim=VICTIM, port=port, letters=craft.letter_questions(src),
                              numbers=craft.number_questions(src))
    if code.strip():
        cell = nbformat.v4.new_code_cell(code)
        if attack.at == "end":
            nb.cells.append(cell)
        else:
            setup = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == "setup")
            nb.cells.insert(setup + 1, cell)
    tests = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id", "").endswith("_test")]
    if attack.notebook == "metadata":
        tests[0].metadata["nbgrader"]["points"] = 100
        bonus = nbformat.v4.new_code_cell("pass")
        bonus.metadata["nbgrader"] = {"grade": True, "grade_id": "bonus", "points": 100, "locked": False,
                                      "solution": False, "schema_version": 3}
        nb.cells.append(bonus)
    elif attack.notebook == "edited-test":
        tests[0].source = f'{craft.letter_questions(src)[0]} = "A"'
    elif attack.notebook == "markdown-script":
        nb.cells.append(nbformat.v4.new_markdown_cell("<script>document.title='BREACH'</script> **mine**"))
        raw = nbformat.v4.new_raw_cell("<script>document.title='BREACH'</script>")
        raw.metadata["format"] = "text/html"
        nb.cells.append(raw)
    elif attack.notebook == "slow-cells":
        nb.cells += [nbformat.v4.new_code_cell("import time\ntime.sleep(1.6)") for _ in range(12)]
    elif attack.notebook == "duplicate":
        nb = craft.duplicated_cell(nb, src)
    return nb


def expected_score(attack, src) -> float:
    if attack.answers == "NUMBER_TYPES":
        return craft.earned(src, craft.solutions(src))  # accepted (and reported)
    return craft.earned(src, resolve(attack.answers, src))


class Listener:
    """A TCP server on the grader's loopback: no kernel may reach it."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self.accepted = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, addr = self.sock.accept()
            except OSError:
                return
            self.accepted.append(addr)
            conn.close()


def _digest(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _outputs_text(nb) -> str:
    return json.dumps([c.get("outputs", []) for c in nb.cells])


def _printed(nb) -> str:
    """What the student's code printed (tracebacks quote its source, which may name BREACH)."""
    return "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "stream")


@pytest.fixture(scope="session")
def hostile(tmp_path_factory):
    require_sandbox()
    tmp = tmp_path_factory.mktemp("hostile")
    course = make_course(tmp / "course")
    release_nb = nbformat.read(course / "release" / "module_test" / "module_test.ipynb", as_version=4)
    src = nbformat.read(course / "source" / "module_test" / "module_test.ipynb", as_version=4)
    listener = Listener()
    inbox = tmp / "inbox"
    for name, answers in BYSTANDERS.items():
        craft.write_notebook(craft.with_answers(release_nb, resolve(answers, src)), inbox / f"{name}.ipynb")
    for attack in ATTACKS:
        if attack.notebook == "link":
            inbox.mkdir(exist_ok=True)
            (inbox / f"{attack.name}.ipynb").symlink_to(course / "source" / "module_test" / "module_test.ipynb")
        else:
            craft.write_notebook(craft_attack(attack, release_nb, src, listener.port, course), inbox / f"{attack.name}.ipynb")
    roster = tmp / "roster.txt"
    roster.write_text("\n".join([*BYSTANDERS, *(a.name for a in ATTACKS)]) + "\n")
    env = nbgrader_env(OSSLLM_TEST_SECRET=SECRET)
    _grade("collect", "--course", str(course), "--from", str(inbox), "--roster", str(roster), env=env)
    # a link planted beside a submission (as a student with an account on the server could): never staged
    (course / "submitted" / "symlinks" / "module_test" / "gradebook-link.db").symlink_to(course / "gradebook.db")
    source_before = _digest(course / "source")
    victim_before = (course / "submitted" / VICTIM / "module_test" / "module_test.ipynb").read_bytes()
    started = time.perf_counter()
    run = _grade("autograde", "--course", str(course), *LIMITS, env=env)
    seconds = time.perf_counter() - started
    feedback = _grade("feedback", "--course", str(course), env=env)
    export = _grade("export", "--course", str(course), "--roster", str(roster), env=env)
    rows = {r["student"]: r for r in csv.DictReader(open(course / "grades.csv"))}
    graded = {p.parts[-3]: nbformat.read(p, as_version=4)
              for p in (course / "autograded").glob("*/module_test/module_test.ipynb")}
    pages = {p.parts[-3]: p.read_text() for p in (course / "feedback").glob("*/module_test/module_test.html")}
    with sqlite3.connect(course / "gradebook.db") as db:
        credits = db.execute("select count(*) from grade where extra_credit is not null and extra_credit != 0").fetchone()[0]
    return {"course": course, "src": src, "rows": rows, "graded": graded, "pages": pages, "credits": credits,
            "report": (course / "grading" / "report.txt").read_text(), "listener": listener, "seconds": seconds,
            "source_before": source_before, "victim_before": victim_before, "output": run.stdout + feedback.stdout
            + export.stdout, "max_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}


@pytest.mark.parametrize("attack", ATTACKS, ids=lambda a: a.name)
def test_attacker_scores_what_its_answers_earn(hostile, attack):
    row = hostile["rows"][attack.name]
    if attack.not_graded:
        assert row["passed"] == "not graded" and row["score"] == "", row
        assert "not graded" in row["problems"]
    else:
        assert row["passed"] != "not graded", row
        assert float(row["score"]) == expected_score(attack, hostile["src"]), (attack.doc, row)
    for kind in attack.problems:
        assert kind in row["problems"], (attack.name, row["problems"])


def test_there_are_at_least_thirty_attacks():
    assert len(ATTACKS) >= 30 and len({a.name for a in ATTACKS}) == len(ATTACKS)


def test_classmates_score_what_their_answers_earn(hostile):
    for name, answers in BYSTANDERS.items():
        row = hostile["rows"][name]
        assert float(row["score"]) == craft.earned(hostile["src"], resolve(answers, hostile["src"])), row
        assert row["problems"] == "" or "blank submission" not in row["problems"], row


def test_the_run_ends_with_its_csv_and_report(hostile):
    everyone = {*BYSTANDERS, *(a.name for a in ATTACKS)}
    assert set(hostile["rows"]) == everyone
    assert all(name in hostile["report"] for name in everyone)
    assert "grades:" in hostile["output"]


def test_no_attack_reached_anything(hostile):
    for student, nb in hostile["graded"].items():
        assert "BREACH" not in _printed(nb), student
    assert "refused" in _printed(hostile["graded"]["read-gradebook"])  # the attacks did run and try
    assert hostile["listener"].accepted == []
    assert hostile["credits"] == 0  # no extra credit anywhere, now or from a process left behind
    assert _digest(hostile["course"] / "source") == hostile["source_before"]
    victim = hostile["course"] / "submitted" / VICTIM / "module_test" / "module_test.ipynb"
    assert victim.read_bytes() == hostile["victim_before"]
    assert not Path("/tmp/ossllm-pwned").exists()


def test_the_grader_environment_stays_outside(hostile):
    env_out = _outputs_text(hostile["graded"]["environment"])
    assert "HOME" in env_out  # the attack ran and printed an environment: the sandbox's own
    assert SECRET not in env_out and "OSSLLM_TEST_SECRET" not in env_out
    for student, nb in hostile["graded"].items():
        assert SECRET not in _outputs_text(nb), student


def test_memory_and_output_stay_bounded(hostile):
    flood = hostile["rows"]["output-flood"]["problems"]
    assert "output" in flood
    for name in ("output-flood", "huge-message"):
        assert len(_outputs_text(hostile["graded"][name])) < 200_000
    assert hostile["max_rss_mb"] < 1500, hostile["max_rss_mb"]


def test_markers_are_escaped_and_feedback_goes_out(hostile):
    text = _outputs_text(hostile["graded"]["markers"])
    assert "BEGIN HIDDEN TESTS" not in text and "BEGIN_HIDDEN_TESTS" in text
    assert "markers" in hostile["pages"]  # its page was not withheld, and nobody else's either
    assert "feedback withheld" not in hostile["report"]


def test_report_lines_cannot_be_forged(hostile):
    lines = hostile["report"].splitlines()
    forged = [ln for ln in lines if ln.startswith(VICTIM) and "0/28" in ln]
    assert forged == [] and "\\n" in hostile["rows"]["forged-report"]["problems"]


def test_no_live_html_reaches_formgrader_or_feedback(hostile):
    nb = hostile["graded"]["xss"]
    assert "<script" not in _outputs_text(nb) and "text/html" not in _outputs_text(nb)
    assert not any("<script" in c.source for c in nb.cells if c.cell_type == "markdown")
    assert not any({"format", "raw_mimetype"} & set(c.metadata) for c in nb.cells if c.cell_type == "raw")
    assert "<script>document.title" not in hostile["pages"]["xss"]


def test_limits_hit_are_reported_and_named(hostile):
    rows = hostile["rows"]
    forks = int(_printed(hostile["graded"]["fork-bomb"]).split("forks:")[1].split()[0])
    assert 0 < forks < 48  # the process limit (LIMITS) held
    assert "memory" in rows["memory-processes"]["problems"]
    assert "timeout" in rows["fork-bomb"]["problems"]  # the bomb ran, its cell was stopped, the class went on
    assert "ran over 15 s" in rows["slow-cells"]["problems"]
    assert "ignored the interrupt" in rows["ignore-interrupt"]["problems"]
    assert "MemoryError" in rows["memory"]["problems"]
    assert "ignored file" in rows["symlinks"]["problems"]  # the link planted beside the submission


def test_converted_and_unreadable_answers_are_named(hostile):
    rows = hostile["rows"]
    for q in craft.number_questions(hostile["src"]):
        assert q in rows["decimal-answers"]["problems"]
    assert "too large" in rows["huge-answer"]["problems"] and "nested too deep" in rows["huge-answer"]["problems"]


def test_without_the_sandbox_the_suite_catches_the_attacks(tmp_path):
    """The suite can fail: with --unsafe (no sandbox) the potent attacks do raise their scores."""
    course = make_course(tmp_path / "course")
    release_nb = nbformat.read(course / "release" / "module_test" / "module_test.ipynb", as_version=4)
    src = nbformat.read(course / "source" / "module_test" / "module_test.ipynb", as_version=4)
    inbox = tmp_path / "inbox"
    potent = [a for a in ATTACKS if a.potent and "extra" not in a.name]
    assert len(potent) >= 2
    for attack in potent:
        craft.write_notebook(craft_attack(attack, release_nb, src, 9, course), inbox / f"{attack.name}.ipynb")
    env = {**nbgrader_env(), "PATH": os.path.dirname(sys.executable)}  # no bwrap on PATH: no sandbox here
    refused = _grade("all", "--course", str(course), "--from", str(inbox), "--timeout", "5", check=False, env=env)
    assert refused.returncode == 1 and "--unsafe" in refused.stderr and "Traceback" not in refused.stderr
    _grade("all", "--course", str(course), "--from", str(inbox), "--timeout", "5", "--unsafe", env=env)
    rows = {r["student"]: r for r in csv.DictReader(open(course / "grades.csv"))}
    full = craft.earned(src, craft.solutions(src))
    for attack in potent:
        assert float(rows[attack.name]["score"]) == full > expected_score(attack, src)
        assert "unsafe" in rows[attack.name]["problems"]
    assert "[no sandbox]" in (course / "grading" / "report.txt").read_text()
