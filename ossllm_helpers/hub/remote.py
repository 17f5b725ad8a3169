"""What the Hub says about a repository (files, sizes, licence, gating), and searching it; offline, the cache answers."""

from dataclasses import dataclass

from ..errors import FileNotInRepoError
from .advice import gated, repo_not_found, valid_repo_id
from .cache import cached_files
from .names import is_gguf
from .probe import offline_reason

__all__ = ["RepoInfo", "NoAnswer", "repo_info", "network_errors", "list_gguf_files", "hub_search"]


@dataclass(frozen=True)
class RepoInfo:
    """A repository as the Hub lists it: commit, file sizes (bytes, None where unknown), licence id, gating."""

    repo_id: str
    commit: str | None
    files: dict[str, int | None]
    licence: str | None
    gated: bool


class NoAnswer(Exception):
    """Internal: the Hub could not be asked, or answered with an HTTP error that is none of the typed cases."""

    def __init__(self, error: BaseException):
        super().__init__(str(error))
        self.error = error


def network_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean 'no answer from the network', whichever HTTP client huggingface_hub uses."""
    from huggingface_hub import errors as hf_errors

    errs: list[type[BaseException]] = [ConnectionError, TimeoutError, hf_errors.OfflineModeIsEnabled]
    # huggingface_hub's HTTP client has changed over versions (requests, httpx, httpx2): accept each one's errors.
    for module_name, names in (("httpx2", ("TransportError",)), ("httpx", ("TransportError",)),
                               ("requests", ("ConnectionError", "Timeout"))):
        try:
            module = __import__(module_name)
        except ImportError:
            continue
        errs.extend(getattr(module, n) for n in names if hasattr(module, n))
    return tuple(errs)


def _licence(info) -> str | None:
    card = getattr(info, "card_data", None) or getattr(info, "cardData", None)
    data = card.to_dict() if hasattr(card, "to_dict") else dict(card or {})
    lic = data.get("license")
    if isinstance(lic, list):
        lic = lic[0] if lic else None
    if lic == "other" and data.get("license_name"):
        return str(data["license_name"]).lower()
    if lic:
        return str(lic).lower()
    tags = [t for t in (getattr(info, "tags", None) or []) if t.startswith("license:")]
    return tags[0].split(":", 1)[1].lower() if tags else None


def repo_info(repo_id: str, revision: str | None = None, token=None) -> RepoInfo:
    """Ask the Hub about a repository; typed errors for the Hub's refusals, NoAnswer for anything else."""
    from huggingface_hub import HfApi
    from huggingface_hub import errors as hf_errors

    try:
        info = HfApi().model_info(repo_id, revision=revision, token=token, files_metadata=True)
    except hf_errors.GatedRepoError:
        raise gated(repo_id, token) from None
    except hf_errors.RevisionNotFoundError as err:
        raise FileNotInRepoError(
            f"{repo_id} exists but has no revision {revision!r}. Leave revision=None for the main branch, "
            "or pass a branch, tag or commit id listed on the model page's 'Files and versions' tab.",
            repo_id=repo_id,
        ) from err
    except hf_errors.RepositoryNotFoundError:
        raise repo_not_found(repo_id) from None
    except hf_errors.HfHubHTTPError as err:
        raise NoAnswer(err) from err
    except network_errors() as err:
        raise NoAnswer(err) from err
    siblings = info.siblings or []
    return RepoInfo(
        repo_id=repo_id,
        commit=getattr(info, "sha", None),
        files={s.rfilename: (s.lfs.size if s.lfs else s.size) for s in siblings},
        licence=_licence(info),
        gated=bool(getattr(info, "gated", False)),
    )


def list_gguf_files(repo_id: str, *, revision: str | None = None, token=None, cache_dir=None) -> list[str]:
    """The GGUF files of a Hub repository, sorted by name; offline (or with no answer), those in the cache."""
    repo_id = valid_repo_id(repo_id)
    files: dict = {}
    if offline_reason() is None:
        try:
            files = repo_info(repo_id, revision, token).files
        except NoAnswer:
            files = {}
    if not files:
        files = cached_files(repo_id, revision, cache_dir)
    return sorted(f for f in files if is_gguf(f))


def hub_search(*, search: str | None = None, filter=None, sort: str = "downloads", limit: int = 10,
               quiet: bool = False, **kwargs) -> list:
    """Models on the Hub matching a search (``HfApi.list_models``), at most ``limit`` of them.

    Offline, or when the Hub does not answer, nothing is asked of it: one
    sentence says so (unless ``quiet``) and the result is an empty list, so
    the notebook goes on.
    """
    from huggingface_hub import HfApi
    from huggingface_hub import errors as hf_errors

    reason = offline_reason()
    if reason is not None:
        if not quiet:
            print(f"Offline: {reason}, so the Hub was not searched; work with the models already in the cache.")
        return []
    try:
        return list(HfApi().list_models(search=search, filter=filter, sort=sort, limit=limit, **kwargs))
    except (hf_errors.HfHubHTTPError, *network_errors()) as err:
        if not quiet:
            first = (str(err).strip().splitlines() or [type(err).__name__])[0][:160]
            print(f"The Hub did not answer the search ({first}); nothing listed. Try again later.")
        return []

