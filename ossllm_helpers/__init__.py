"""Helpers for the course module "The Open-Source LLM Ecosystem".

One line in a lab cell does one job: fetch a model from the Hugging Face Hub,
look inside a GGUF file, chat with a model on your own machine, take a quiz.
Heavy imports (llama-cpp-python, ipywidgets) happen only when first used.
"""

import importlib
import os

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    # errors
    "OssllmError": "errors",
    "RepoNotFoundError": "errors",
    "GatedRepoError": "errors",
    "FileNotInRepoError": "errors",
    "OfflineNotCachedError": "errors",
    "NotEnoughDiskError": "errors",
    "NotGGUFError": "errors",
    "ModelTooLargeError": "errors",
    "UnknownModelError": "errors",
    "QuizFormatError": "errors",
    "CatalogError": "errors",
    "UnknownLicenceError": "errors",
    "ChatServerError": "errors",
    "PromptTooLongError": "errors",
    "GradingError": "errors",
    "LessonSourceError": "errors",
    # catalog
    "Model": "catalog",
    "load_catalog": "catalog",
    "get_model": "catalog",
    "licence_tier": "catalog",
    # hub
    "download": "hub",
    "fetch": "hub",
    "list_gguf_files": "hub",
    "quant_of": "hub",
    "is_offline": "hub",
    # offline model pack
    "install_pack": "pack",
    "OFFLINE_MODELS": "pack",
    # GGUF
    "inspect": "gguf",
    "estimate_memory": "gguf",
    "available_memory": "gguf",
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
