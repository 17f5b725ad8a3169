"""The command line: one tree of subcommands, and a message (never a traceback) for every bad input."""

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ossllm_helpers import cli
from ossllm_helpers.course import assignments, course_root
from ossllm_helpers.doctor import checks

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = {"doctor", "models", "fetch", "inspect", "search", "chat", "pack", "catalog", "quiz", "release",
            "start-here", "grade"}


def run_cli(*args, stdin=None, timeout=120):
    """`python -m ossllm_helpers ARGS` in a fresh process, offline; (exit status, stdout, stderr)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "ossllm_helpers", *args], input=stdin, capture_output=True,
                          text=True, timeout=timeout, env=env, cwd=ROOT)
    return proc.returncode, proc.stdout, proc.stderr


def _row(rows, name):
    return next(r for r in rows if r[0] == name)


# ---------------------------------------------------------------- the tree


def test_the_tree_has_every_command_and_only_those():
    parser = cli.build_parser()
    (sub,) = [a for a in parser._actions if a.dest == "command"]
    assert set(sub.choices) == COMMANDS


@pytest.mark.parametrize("command", sorted(COMMANDS - {"grade"}))
def test_every_command_answers_help_under_the_one_front_door(command):
    code, out, err = run_cli(command, "--help")
    assert code == 0, err
    assert out.startswith(f"usage: python -m ossllm_helpers {command}")


def test_an_unknown_command_is_a_usage_error():
    code, out, err = run_cli("grde")
    assert code == 2 and "invalid choice: 'grde'" in err and "Traceback" not in err


# ---------------------------------------------------------------- bad input: a message, never a traceback


@pytest.mark.parametrize("args, says", [
    (["inspect", "x.gguf", "--n-ctx", "-5"], "argument --n-ctx: must be at least 1 (got -5)"),
    (["inspect", "x.gguf", "--n-ctx", "lots"], "argument --n-ctx: 'lots' is not a whole number"),
    (["chat", "--temperature", "warm"], "argument --temperature: 'warm' is not a number"),
    (["search", "--limit", "0"], "argument --limit: must be at least 1"),
])
def test_malformed_arguments_are_usage_errors(args, says):
    code, out, err = run_cli(*args)
    assert code == 2 and says in err and "Traceback" not in err


def test_inspect_a_file_that_is_not_gguf(tmp_path):
    page = tmp_path / "model.gguf"
    page.write_text("<!DOCTYPE html><html>Sign in</html>")
    code, out, err = run_cli("inspect", str(page))
    assert code == 1 and err.startswith("error: ") and "a web page" in err and "force_download=True" in err
    assert "Traceback" not in err


def test_chat_temperature_out_of_range_is_a_message():
    # A server URL: nothing is loaded, so this is Chat's own check, as the command line reports it.
    code, out, err = run_cli("chat", "tutor", "--base-url", "http://127.0.0.1:9/v1", "--temperature", "9")
    assert code == 1 and err.startswith("error: ") and "temperature" in err and "9" in err
    assert "Traceback" not in err


def test_chat_save_writes_the_transcript_when_the_chat_fails(tmp_path):
    with __import__("socket").socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/v1"
    saved = tmp_path / "t.json"
    code, out, err = run_cli("chat", "tutor", "--base-url", dead, "--save", str(saved), stdin="hello\n")
    assert code == 1 and "error: " in err and "Traceback" not in err
    assert f"transcript saved to {saved}" in err
    assert isinstance(json.loads(saved.read_text()), dict)


def test_fetch_unknown_key_is_a_clear_error(capsys):
    assert cli.main(["fetch", "no-such-model"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: No model 'no-such-model'") and "python -m ossllm_helpers models" in err


def test_fetch_force_offline_says_it_needs_the_hub(capsys):
    assert cli.main(["fetch", "bartowski/Llama-3.2-1B-Instruct-GGUF", "--quant", "Q4_K_M", "--force"]) == 1
    assert "force_download=True needs the Hub" in capsys.readouterr().err


# ---------------------------------------------------------------- chat --save on Ctrl-C and on an over-long message


def _wait_for_prompts(proc, n, seen="", seconds=120):
    """Read the chat's stdout until its `you> ` prompt has appeared n times in all; never blocks past the deadline."""
    deadline = time.monotonic() + seconds
    while seen.count("you> ") < n:
        left = deadline - time.monotonic()
        assert left > 0, f"only {seen.count('you> ')} prompts in {seen!r}"
        ready, _, _ = select.select([proc.stdout], [], [], left)
        if ready:
            chunk = os.read(proc.stdout.fileno(), 4096).decode(errors="replace")
            assert chunk, f"the chat ended early: {seen!r}"
            seen += chunk
    return seen


@pytest.mark.model
def test_chat_save_survives_ctrl_c_and_an_over_long_message(tmp_path, pack_cache):
    saved = tmp_path / "t.json"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT), "HF_HUB_CACHE": str(pack_cache)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ossllm_helpers", "chat", "smollm2-135m-instruct", "--temperature", "0",
         "--save", str(saved)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ROOT,
        # A background job may run with Ctrl-C ignored, and a child inherits that: give it a terminal's default.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        proc.stdin.write(b"Say hello.\n" + b"word " * 20000 + b"\n")
        proc.stdin.flush()
        # the first prompt, the prompt after the reply, the prompt after the over-long message was refused
        _wait_for_prompts(proc, 3)
        proc.send_signal(signal.SIGINT)
        code = proc.wait(120)
    finally:
        proc.kill()
    err = proc.stderr.read().decode()
    assert code == 130 and "Traceback" not in err, err
    assert "error: " in err and "(interrupted)" in err and f"transcript saved to {saved}" in err
    transcript = json.loads(saved.read_text())
    users = [m for m in transcript["messages"] if m["role"] == "user"]
    assert [m["content"] for m in users] == ["Say hello."]


# ---------------------------------------------------------------- doctor, models, the course folder


def test_doctor_reports_missing_offline_models_with_the_fix():
    """With an empty Hub cache, doctor flags each offline model and names the command that fixes it."""
    rows = checks(network=False)
    row = _row(rows, "offline model smollm2-135m-instruct")
    assert row[1] is False
    assert "python -m ossllm_helpers pack" in row[3]
    assert _row(rows, "llama-cpp-python loads")[1] is True


@pytest.mark.model
def test_doctor_finds_packed_models(capsys):
    """After `pack`, doctor finds both offline models in the Hub cache."""
    assert cli.main(["pack"]) == 0
    rows = checks(network=False)
    for key in ("smollm2-135m-instruct", "gemma-3-270m"):
        name, ok, detail, _ = _row(rows, f"offline model {key}")
        assert ok, detail
        assert detail.endswith(".gguf")


def test_doctor_says_offline_when_hub_offline():
    """HF_HUB_OFFLINE (set for the test session) shows as offline, which is not a failure."""
    _, ok, detail, _ = _row(checks(), "network")
    assert ok and detail.startswith("offline (offline mode is on")


def test_models_lists_the_offline_pair_and_the_tutor_ladder(capsys):
    assert cli.main(["models", "--offline"]) == 0
    out = capsys.readouterr().out.splitlines()[1:]
    assert sorted(line.split()[0] for line in out) == ["gemma-3-270m", "smollm2-135m-instruct"]
    assert cli.main(["models", "--tutors"]) == 0
    rungs = [line.split() for line in capsys.readouterr().out.splitlines()[1:]]
    assert [int(r[5]) for r in rungs] == list(range(1, len(rungs) + 1))
    assert rungs[0][0] == "smollm2-135m-instruct"


def test_catalog_validate(capsys):
    assert cli.main(["catalog", "validate"]) == 0
    assert "matches its schema" in capsys.readouterr().out


@pytest.mark.model
def test_inspect_a_catalog_key_offline(capsys):
    """`inspect <key>` resolves the key through the Hub cache and prints the header and memory estimate."""
    cli.main(["pack"])
    assert cli.main(["inspect", "gemma-3-270m"]) == 0
    out = capsys.readouterr().out
    assert "gemma3" in out and "Q4_K_M" in out


def test_course_root_and_assignments():
    """The course folder is found and its assignments are lesson01..lesson08 then module_test."""
    assert assignments(course_root()) == [f"lesson{i:02d}" for i in range(1, 9)] + ["module_test"]
