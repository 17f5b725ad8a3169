"""The command line: doctor, models, pack, fetch, inspect, release plumbing."""

import subprocess
import sys

import pytest

from ossllm_helpers import cli
from ossllm_helpers.course import assignments, course_root
from ossllm_helpers.doctor import checks


def _row(rows, name):
    return next(r for r in rows if r[0] == name)


def test_doctor_reports_missing_offline_models_with_the_fix():
    """With an empty Hub cache, doctor flags each offline model and names the command that fixes it."""
    rows = checks()
    row = _row(rows, "offline model smollm2-135m-instruct")
    assert row[1] is False
    assert "python -m ossllm_helpers pack" in row[3]
    assert _row(rows, "llama-cpp-python loads")[1] is True


def test_doctor_finds_packed_models(capsys):
    """After `pack`, doctor finds both offline models in the Hub cache."""
    assert cli.main(["pack"]) == 0
    rows = checks()
    for key in ("smollm2-135m-instruct", "gemma-3-270m"):
        name, ok, detail, _ = _row(rows, f"offline model {key}")
        assert ok, detail
        assert detail.endswith(".gguf")


def test_doctor_says_offline_when_hub_offline(capsys):
    """HF_HUB_OFFLINE (set for the test session) shows as offline, which is not a failure."""
    _, ok, detail, _ = _row(checks(), "network")
    assert ok and detail.startswith("offline")


def test_models_lists_the_offline_pair(capsys):
    """`models --offline` prints exactly the two packed models."""
    assert cli.main(["models", "--offline"]) == 0
    out = capsys.readouterr().out.splitlines()[1:]
    assert sorted(line.split()[0] for line in out) == ["gemma-3-270m", "smollm2-135m-instruct"]


@pytest.mark.model
def test_inspect_a_catalog_key_offline(capsys):
    """`inspect <key>` resolves the key through the Hub cache and prints the header and memory estimate."""
    cli.main(["pack"])
    assert cli.main(["inspect", "gemma-3-270m"]) == 0
    out = capsys.readouterr().out
    assert "gemma3" in out and "Q4_K_M" in out


def test_fetch_unknown_key_is_a_clear_error(capsys):
    """An unknown catalog key exits 1 with a message, not a traceback."""
    assert cli.main(["fetch", "no-such-model"]) == 1
    assert "no-such-model" in capsys.readouterr().err


def test_module_entry_point_runs():
    """`python -m ossllm_helpers --help` lists the commands."""
    out = subprocess.run([sys.executable, "-m", "ossllm_helpers", "--help"], capture_output=True, text=True, check=True).stdout
    for command in ("doctor", "models", "fetch", "inspect", "chat", "grade"):
        assert command in out


def test_course_root_and_assignments():
    """The course folder is found and its assignments are lesson01..lesson08 then module_test."""
    assert assignments(course_root()) == [f"lesson{i:02d}" for i in range(1, 9)] + ["module_test"]
