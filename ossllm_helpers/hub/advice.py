"""The Hub's failures turned into the course's typed errors, each with the next step to take."""

from pathlib import Path

from ..constants import CLI
from ..errors import (
    GatedRepoError,
    HubUnavailableError,
    InvalidArgumentError,
    OfflineNotCachedError,
    RepoNotFoundError,
)
from .probe import endpoint

__all__ = [
    "valid_repo_id",
    "repo_not_found",
    "gated",
    "not_cached",
    "hub_unavailable",
    "status_of",
    "status_words",
    "STAY_OFFLINE",
]

STAY_OFFLINE = (
    "To work with cached models only, without asking the Hub, set HF_HUB_OFFLINE=1 before Python starts "
    "(in a notebook: restart the kernel after setting it)."
)

_STATUS_WORDS = {
    401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 407: "Proxy Authentication Required",
    429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
    504: "Gateway Timeout",
}


def status_of(err) -> int | None:
    response = getattr(err, "response", None)
    return getattr(response, "status_code", None) or None


def status_words(status: int) -> str:
    """``407 Proxy Authentication Required``: the status and its name, where it has a common one."""
    return f"{status} {_STATUS_WORDS.get(status, '')}".strip()


def valid_repo_id(repo_id) -> str:
    """``repo_id`` stripped, or a typed error saying what a Hub id looks like."""
    from huggingface_hub.utils import validate_repo_id

    example = "'Qwen/Qwen2.5-0.5B-Instruct-GGUF'"
    if not isinstance(repo_id, str) or not repo_id.strip():
        raise InvalidArgumentError(
            f"repo_id must be a Hub id such as {example}, not {repo_id!r}.", argument="repo_id", value=repo_id
        )
    repo_id = repo_id.strip()
    try:
        validate_repo_id(repo_id)
    except ValueError as err:
        raise RepoNotFoundError(
            f"{repo_id!r} is not a valid Hub id ({err}). A Hub id is owner/name as in the model page's "
            f"address, such as {example}; for a course model, use oh.fetch(key).",
            repo_id=repo_id, malformed=True,
        ) from None
    return repo_id


def repo_not_found(repo_id: str, hint: str = "") -> RepoNotFoundError:
    from huggingface_hub import get_token

    msg = f"No repository {repo_id!r} on the Hugging Face Hub ({endpoint()}), or it is private. "
    if "/" not in repo_id:
        msg += "A Hub id has the form owner/name, as in the model page's address. "
    msg += hint
    msg += "Check the spelling (it is case-sensitive) on the model page."
    if get_token() is None:
        msg += " If the repository is private, set HF_TOKEN to a token that can read it."
    return RepoNotFoundError(msg, repo_id=repo_id)


def gated(repo_id: str, token) -> GatedRepoError:
    from huggingface_hub import get_token

    have = token if isinstance(token, str) else get_token()
    who = (
        "A token was sent, but its account has not been granted access yet (some repositories review "
        "each request by hand; the model page says when you are in)."
        if have
        else "No Hugging Face token was found on this machine."
    )
    return GatedRepoError(
        f"{repo_id} is a gated repository: its licence must be accepted before download. {who} "
        f"1) Log in at {endpoint()}/{repo_id}, read the licence and accept it. "
        "2) Create a read token in your account settings (Access Tokens). "
        "3) Give it to this machine: set the HF_TOKEN environment variable (on Colab: a secret named HF_TOKEN), "
        "run `hf auth login` in a terminal (`huggingface-cli login` with older huggingface_hub), or in a notebook "
        "run `from huggingface_hub import login; login()`. Then run this again.",
        repo_id=repo_id,
    )


def not_cached(repo_id: str, what: str, cache: Path, reason: str, cached: dict | None = None,
               filename: str | None = None) -> OfflineNotCachedError:
    """Offline (or the Hub unreachable) and the wanted file is not in the cache."""
    if "HF_HUB_OFFLINE" in reason or "local_files_only" in reason:
        todo = (
            "To download it: connect to the internet, unset HF_HUB_OFFLINE (huggingface_hub reads it at import: "
            "restart the kernel after changing it), and run this again."
        )
    else:
        todo = f"Check the internet connection (and any proxy), then run this again; `{CLI} doctor` checks the network."
    msg = f"{what} of {repo_id} is not in the Hugging Face cache ({cache}) and {reason}, so nothing can be downloaded. {todo}"
    if cached:
        msg += " Cached files of this repository: " + ", ".join(sorted(cached)) + "."
    return OfflineNotCachedError(msg, repo_id=repo_id, filename=filename, reason=reason)


def hub_unavailable(repo_id: str, err, what: str, filename: str | None = None) -> HubUnavailableError:
    """The Hub (or a proxy) answered with an error and the wanted file is not cached."""
    status = status_of(err)
    answered = status_words(status) if status else type(err).__name__
    first = (str(err).strip().splitlines() or [""])[0][:200]
    # The Hub's own refusals (no such repository, gated, no such file) carry an error code and become their
    # own typed errors before this: a bare 401/403/404/407 comes from something in between.
    if status in (401, 403, 404, 407):
        why = (
            "The answer did not come from the Hub itself: a proxy or firewall in between refused the request. "
            "Set HTTPS_PROXY (with its credentials, if it asks for them) as your network's administrator says, "
            "or point HF_ENDPOINT at a mirror you can reach."
        )
    elif status and status >= 500:
        why = "The Hub is having trouble: try again in a few minutes."
    else:
        why = f"Its message: {first}"
    return HubUnavailableError(
        f"The Hub ({endpoint()}) answered {answered} for {repo_id}, and {what} is not in the cache to use instead. "
        f"{why} {STAY_OFFLINE}",
        repo_id=repo_id, filename=filename, status=status,
    )

