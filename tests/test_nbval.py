"""nbval over source/ and notebooks/: a second run of each executed notebook reproduces its outputs.

Notebooks are committed without outputs, so each is first executed (nbruns.executed);
nbval then re-runs that copy and compares every output, after tests/nbval_sanitize.cfg
has blanked what legitimately varies (widget reprs, addresses, progress bars, paths).
Cells whose output is a measurement, or is printed into an Output widget (which
nbclient records as widget state but nbval as cell output), carry the
nbval-ignore-output tag.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from nbruns import KERNEL_ENV, ROOT, executed  # noqa: F401  (executed is a fixture)

FOLDERS = sorted(
    str(p.parent.relative_to(ROOT)) for p in (ROOT / "source").glob("*/*.ipynb")
) + ["notebooks"]
SANITIZE = Path(__file__).with_name("nbval_sanitize.cfg")

pytestmark = pytest.mark.notebooks


@pytest.mark.parametrize("folder", FOLDERS)
def test_nbval_reproduces_outputs(folder, executed, tmp_path):
    """nbval re-executes the notebook and finds the same outputs, sanitised."""
    if folder == "notebooks":
        targets = []
        for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
            # Each companion notebook is executed in its own copy of the folder.
            dest = executed_companion(nb, tmp_path)
            targets.append(dest)
    else:
        targets = [executed(folder)]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval", *map(str, targets), "--nbval-sanitize-with", str(SANITIZE),
         "-p", "no:cacheprovider", "-q", "--rootdir", str(targets[0].parent), "-c", os.devnull],
        cwd=targets[0].parent, capture_output=True, text=True, env={**os.environ, **KERNEL_ENV},
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]


def executed_companion(nb: Path, tmp_path: Path) -> Path:
    import shutil

    from nbruns import execute_copy

    src = tmp_path / f"src-{nb.stem}"
    src.mkdir()
    shutil.copy(nb, src / nb.name)
    return execute_copy(src, tmp_path / f"run-{nb.stem}")
