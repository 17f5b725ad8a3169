"""The Hugging Face Hub, as the course uses it: downloads into the Hub cache, listings, search, and offline detection.

Built on huggingface_hub's public API and knowing nothing of the course's
catalog or offline pack (``ossllm_helpers.models`` joins the three).
``names``: what a GGUF file name says; ``probe``: whether the Hub answers;
``cache``: what the cache holds; ``remote``: what the Hub says; ``advice``:
typed errors with the next step; ``download``: the transfer itself.

``huggingface_hub`` reads ``HF_ENDPOINT`` and ``HF_HUB_OFFLINE`` once, when it
is imported: change them before the first import (or restart the kernel).
"""

from .cache import cache_root, cached_files, cached_path, repo_folder
from .download import download
from .names import quant_of
from .probe import is_offline, offline_reason, online
from .remote import RepoInfo, hub_search, list_gguf_files, repo_info

__all__ = [
    "download",
    "list_gguf_files",
    "hub_search",
    "repo_info",
    "RepoInfo",
    "quant_of",
    "is_offline",
    "online",
    "offline_reason",
    "cache_root",
    "cached_files",
    "cached_path",
    "repo_folder",
]
