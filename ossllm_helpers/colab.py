"""The first cells of every notebook: the Colab badge and the setup cell.

The repository URL lives here and nowhere else; tests check that every
notebook's header matches what these functions produce.
"""

__all__ = ["REPO_URL", "BRANCH", "colab_url", "badge_markdown", "setup_cell_source"]

REPO_URL = "https://github.com/ossllm/ossllm"
BRANCH = "main"


def colab_url(notebook_path: str) -> str:
    """Colab's address for a notebook of this repository (path from the repo root)."""
    slug = REPO_URL.removeprefix("https://github.com/")
    return f"https://colab.research.google.com/github/{slug}/blob/{BRANCH}/{notebook_path}"


def badge_markdown(notebook_path: str) -> str:
    """The 'Open in Colab' link shown at the top of a notebook."""
    return (
        f"[![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
        f"({colab_url(notebook_path)})"
    )


def setup_cell_source() -> str:
    """Source of the setup cell: installs the helpers on Colab only, then imports them."""
    return f'''# Setup. On Colab this installs the course helpers first (a few minutes: llama-cpp-python compiles).
# Elsewhere the README's set-up has already installed them.
import subprocess, sys
OSSLLM_REPO = "{REPO_URL}"
if "google.colab" in sys.modules:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", f"ossllm-helpers @ git+{{OSSLLM_REPO}}@{BRANCH}"], check=True)
import ossllm_helpers as oh
oh.setup_notebook()'''
