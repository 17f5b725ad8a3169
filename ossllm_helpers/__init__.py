"""Helpers for the course module "The Open-Source LLM Ecosystem".

One line in a lab cell does one job: fetch a model from the Hugging Face Hub,
look inside a GGUF file, chat with a model on your own machine, take a quiz.
Heavy imports (llama-cpp-python, ipywidgets) happen only when first used.
"""

import importlib
import os

from . import errors as _errors

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    # catalog
    "Model": "catalog",
    "load_catalog": "catalog",
    "get_model": "catalog",
    "licence_tier": "catalog",
    "tutor_ladder": "catalog",
    # course models by name: catalog, offline pack and Hub together
    "download": "models",
    "fetch": "models",
    # the Hub
    "list_gguf_files": "hub",
    "hub_search": "hub",
    "quant_of": "hub",
    "is_offline": "hub",
    "online": "hub",
    # offline model pack
    "install_pack": "pack",
    "OFFLINE_MODELS": "pack",
    # GGUF and memory
    "inspect": "gguf",
    "estimate_memory": "gguf",
    "available_memory": "memory",
    "GGUFInfo": "gguf",
    "MemoryEstimate": "gguf",
    "QUANT_BITS": "gguf",
    # chat
    "Chat": "chat",
    # widgets
    "Quiz": "quiz",
    "show_quiz": "quiz",
    "LabChat": "lab",
    "lab_complete": "lab",
    "lab_status": "lab",
    # the lab's graded judgement
    "lab_claims": "labclaims",
    "check_lab_claim": "labclaims",
    "LabTranscriptError": "errors",
}
# every typed error, as errors.py lists them (a cheap import: errors.py needs nothing else)
_EXPORTS.update({name: "errors" for name in _errors.__all__})

__all__ = sorted(_EXPORTS) + ["grading", "setup_notebook", "__version__"]


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'ossllm_helpers' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__


def grading() -> bool:
    """True while nbgrader executes the notebook: load no model, download nothing."""
    return bool(os.environ.get("NBGRADER_EXECUTION"))


def setup_notebook() -> None:
    """Quiet logs and consistent figures for a lesson notebook; says if grading."""
    import logging

    logging.getLogger("llama_cpp").setLevel(logging.ERROR)
    try:
        import matplotlib

        matplotlib.rcParams.update({"figure.figsize": (8, 4), "figure.dpi": 100})
    except ImportError:  # figures are optional in a bare kernel
        pass
    if grading():
        print("Grading run: lab cells will not load models.")
