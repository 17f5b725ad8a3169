"""The course folder: assignments, and regenerating release/ with nbgrader."""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .errors import CourseFolderError, ReleaseError

__all__ = ["course_root", "assignments", "generate_release", "nbgrader_env"]


def nbgrader_env(**extra) -> dict:
    """Environment for running nbgrader: it calls the `alembic` command, so this venv's bin goes first on PATH."""
    bindir = str(Path(sys.executable).parent)
    return {**os.environ, "PATH": bindir + os.pathsep + os.environ.get("PATH", ""), **extra}


def course_root() -> Path:
    """The folder holding nbgrader_config.py (the repository root)."""
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "nbgrader_config.py").is_file() and (folder / "source").is_dir():
            return folder
    package_parent = Path(__file__).resolve().parents[1]
    if (package_parent / "nbgrader_config.py").is_file():
        return package_parent
    raise CourseFolderError(
        "No course folder found (nbgrader_config.py beside source/): run this from your clone of the course."
    )


def assignments(root: Path | None = None) -> list[str]:
    """Assignment names in source/, in order: lesson01 … lesson08, module_test."""
    root = Path(root or course_root())
    return sorted(p.name for p in (root / "source").iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


def generate_release(root: Path | None = None, names: list[str] | None = None, *, quiet: bool = True) -> list[Path]:
    """Rebuild source notebooks from their text, quiz.json files, then release/<assignment>/ with nbgrader."""
    from .lessons import build_all
    from .quiz import build_quizzes

    root = Path(root or course_root())
    for path in build_all(root, names):
        if not quiet:
            print(f"built {path.relative_to(root)} from its text source")
    build_quizzes(root / "source")
    names = names or assignments(root)
    out = []
    # A throwaway gradebook: releasing must not leave instructor state in the clone.
    with tempfile.TemporaryDirectory(prefix="ossllm-release-") as tmp:
        db = f"sqlite:///{Path(tmp) / 'gradebook.db'}"
        for name in names:
            target = root / "release" / name
            if target.exists():
                shutil.rmtree(target)
            cmd = [
                sys.executable, "-m", "nbgrader", "generate_assignment", name, "--force",
                f"--CourseDirectory.root={root}", f"--CourseDirectory.db_url={db}",
            ]
            result = subprocess.run(cmd, cwd=root, capture_output=True, text=True, env=nbgrader_env())
            if result.returncode != 0 or not target.is_dir():
                raise ReleaseError(
                    f"nbgrader generate_assignment {name} failed:\n{result.stdout}\n{result.stderr}\n"
                    f"Fix source/{name} as the message above says (often a cell's nbgrader metadata or an "
                    "unclosed ### BEGIN SOLUTION), then run ./course release again.",
                    assignment=name,
                )
            # A transcript left by running the source notebook in place is the author's, not the student's.
            for stray in target.glob("lab_transcript*.json"):
                stray.unlink()
            out.append(target)
            if not quiet:
                print(f"released {name} -> {target.relative_to(root)}")
    return out
