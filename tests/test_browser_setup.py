"""How the browser tier behaves without Chromium: skipped with one line on a contributor's machine, failed under CI."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run_tier(tmp_path, **env):
    environ = {k: v for k, v in os.environ.items() if k != "CI"}
    environ.update(OSSLLM_CHROMIUM=str(tmp_path / "no-chromium-here"), **env)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-m", "browser", "-k", "lab_enter", "-p", "no:cacheprovider", "-q", "-rs",
         "tests/test_browser.py"],
        cwd=ROOT, env=environ, capture_output=True, text=True, timeout=300,
    )


def test_without_chromium_the_tier_is_skipped_with_one_line(tmp_path):
    run = _run_tier(tmp_path)
    assert run.returncode in (0, 5), run.stdout + run.stderr  # 5: nothing left to run
    hints = [line for line in run.stdout.splitlines() if "Chromium" in line]
    assert len(hints) == 1, run.stdout
    assert hints[0].startswith("SKIPPED") and "apt-get install chromium" in hints[0]


def test_under_ci_a_missing_chromium_fails_the_run(tmp_path):
    run = _run_tier(tmp_path, CI="true")
    assert run.returncode == 1, run.stdout + run.stderr
    assert "browser tier cannot run under CI: Chromium not found" in run.stdout
