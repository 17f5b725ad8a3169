"""Download GGUF files from the Hub into its cache with huggingface_hub: quant names, a disk check, typed errors.

Everything goes through ``huggingface_hub.hf_hub_download``, so files land in
the ordinary Hub cache (shared with llama-cpp-python's ``Llama.from_pretrained``,
transformers and the ``hf`` CLI), a second call reuses the cached file, and a
transfer that breaks off is resumed with an HTTP Range request. A ``dry_run``
first says what would be transferred, so the disk is checked before any byte
moves. Offline (``HF_HUB_OFFLINE``, or no answer to the one short probe) the
cache answers alone; when the Hub answers with an error, a cached copy is used
and a ``HubFallbackWarning`` says how to stay offline.
"""

import os
import shutil
import warnings
from pathlib import Path

from ..constants import DISK_HEADROOM
from ..errors import (
    DownloadInterruptedError,
    FileNotInRepoError,
    GatedRepoError,
    HubFallbackWarning,
    NotEnoughDiskError,
    OfflineNotCachedError,
    RepoNotFoundError,
)
from .advice import (
    STAY_OFFLINE, gated, hub_unavailable, not_cached, repo_not_found, status_of, status_words, valid_repo_id,
)
from .cache import cache_root, cached_files, cached_path
from .names import human, not_in_repo, pick, split_quant
from .probe import endpoint, offline_reason
from .remote import NoAnswer, network_errors, repo_info

__all__ = ["download"]


def download(
    repo_id: str,
    filename: str | None = None,
    *,
    quant: str | None = None,
    revision: str | None = None,
    cache_dir=None,
    local_files_only: bool | None = None,
    token=None,
    progress: bool = True,
    force_download: bool = False,
) -> str:
    """Download a GGUF file from the Hugging Face Hub into the Hub cache; return its local path.

    Args:
        repo_id: The Hub repository, ``owner/name`` (e.g. ``"bartowski/Llama-3.2-1B-Instruct-GGUF"``).
        filename: The file in the repository. A quant name here (``"Q4_K_M"``) is
            taken as ``quant``. With neither, the repository's only GGUF file, or else its Q4_K_M.
        quant: A quantisation such as ``"Q4_K_M"``, ``"Q8_0"`` or ``"IQ4_XS"`` (any case),
            matched against the repository's GGUF file names. A model split into
            shards is downloaded whole and the first shard's path returned.
        revision: Branch, tag or commit id; default the main branch.
        cache_dir: The Hub cache folder; default ``huggingface_hub``'s (``HF_HUB_CACHE``, under ``HF_HOME``).
        local_files_only: Only look in the cache. Default: true when offline.
        token: A Hub access token for gated or private repositories; default ``HF_TOKEN`` or ``hf auth login``'s.
        progress: Show a progress bar (a widget in Jupyter, text in a terminal).
        force_download: Download again even if cached (to replace a damaged file). A cached file
            whose size differs from the Hub's is replaced without asking.

    Raises:
        RepoNotFoundError, GatedRepoError, FileNotInRepoError: the Hub's refusals, with what exists.
        OfflineNotCachedError: offline (or the Hub unreachable) and the file is not cached.
        HubUnavailableError: the Hub (or a proxy) answered with an error and the file is not cached.
        DownloadInterruptedError: the transfer broke off; the same call resumes it.
        NotEnoughDiskError: the download would not fit on the disk; nothing was downloaded.
        InvalidArgumentError: ``filename`` and ``quant`` disagree, or one is not a string.
    """
    repo_id = valid_repo_id(repo_id)
    filename, quant = split_quant(filename, quant)
    reason = "local_files_only=True was passed" if local_files_only else offline_reason()
    if reason is not None:
        if force_download:
            raise OfflineNotCachedError(
                f"force_download=True needs the Hub, and {reason}. Connect and run this again "
                "(for the course's offline models, oh.install_pack(force=True) restores them from their packages).",
                repo_id=repo_id, filename=filename, reason=reason,
            )
        return _from_cache(repo_id, filename, quant, revision, cache_dir, reason=reason)
    try:
        listing = repo_info(repo_id, revision, token)
    except (RepoNotFoundError, GatedRepoError, FileNotInRepoError) as refusal:
        # A repository renamed, removed or gated since the file was fetched: the cached copy still serves.
        found = _cached(repo_id, filename, quant, revision, cache_dir)
        if found is None:
            raise
        _warn(f"The Hub refused {repo_id} ({type(refusal).__name__}); using the cached {Path(found).name}.")
        return found
    except NoAnswer as no:
        return _from_cache(repo_id, filename, quant, revision, cache_dir, reason=_why(no.error), hub_error=no.error)
    names = pick(repo_id, listing.files, filename, quant)
    plans = [_plan(repo_id, name, revision, cache_dir, token, force_download, listing.files) for name in names]
    _check_disk(repo_id, plans, cache_root(cache_dir))
    tqdm_class = None if progress else _quiet_tqdm_class()
    paths = [_fetch(repo_id, name, revision, cache_dir, token, force, tqdm_class, listing.files)
             for name, force, _ in plans]
    return paths[0]


def _why(error: BaseException) -> str:
    status = status_of(error)
    if status:  # it answered: say what, not that it could not be reached
        return f"the Hub ({endpoint()}) answered {status_words(status)}"
    return f"the Hub ({endpoint()}) could not be reached ({type(error).__name__})"


def _warn(text: str) -> None:
    warnings.warn(f"{text} {STAY_OFFLINE}", HubFallbackWarning, stacklevel=4)


def _cached(repo_id, filename, quant, revision, cache_dir) -> str | None:
    try:
        names = pick(repo_id, cached_files(repo_id, revision, cache_dir), filename, quant)
    except FileNotInRepoError:
        return None
    paths = [cached_path(repo_id, n, revision, cache_dir) for n in names]
    return paths[0] if all(paths) else None


def _from_cache(repo_id, filename, quant, revision, cache_dir, *, reason: str, hub_error=None) -> str:
    found = _cached(repo_id, filename, quant, revision, cache_dir)
    if found is not None:
        if hub_error is not None:
            _warn(f"{reason[0].upper()}{reason[1:]}; using the cached {Path(found).name}.")
        return found
    what = f"The file {filename!r}" if filename else f"A {quant.upper()} GGUF file" if quant else "A GGUF file"
    if hub_error is not None and status_of(hub_error):
        raise hub_unavailable(repo_id, hub_error, what[0].lower() + what[1:], filename) from hub_error
    cached = cached_files(repo_id, revision, cache_dir)
    raise not_cached(repo_id, what, cache_root(cache_dir), reason, cached, filename)


def _plan(repo_id, name, revision, cache_dir, token, force, files) -> tuple[str, bool, int]:
    """(file, force it, bytes to transfer), from a dry run of hf_hub_download."""
    from huggingface_hub import hf_hub_download

    info = _call(lambda: hf_hub_download(repo_id, name, revision=revision, cache_dir=cache_dir, token=token,
                                          dry_run=True), repo_id, name, files, cache_dir)
    size = info.file_size if info.file_size is not None else files.get(name)
    here = info.local_path if info.is_cached and os.path.exists(info.local_path) else None
    # A cached copy of the wrong size is a broken earlier transfer or a damaged file: fetch it again.
    damaged = here is not None and size is not None and os.path.getsize(here) != size
    force = force or damaged
    return name, force, (size or 0) if (force or info.will_download) else 0


def _check_disk(repo_id: str, plans, cache: Path) -> None:
    need = sum(n for _, _, n in plans)
    if not need:
        return
    where = cache
    while not where.exists() and where != where.parent:  # the cache may not exist yet: measure where it will be
        where = where.parent
    free = shutil.disk_usage(where).free
    if free < need + DISK_HEADROOM:
        names = ", ".join(n for n, _, _ in plans)
        raise NotEnoughDiskError(
            f"Not enough free disk space for {names} from {repo_id}: it needs {human(need)} "
            f"(plus {human(DISK_HEADROOM)} to spare) and {where} has {human(free)} free. "
            "Free some space (list cached models with `hf cache ls`, remove one with `hf cache rm model/<owner>/<name>`), "
            "pick a smaller quant or model, or pass cache_dir= on a disk with room.",
            repo_id=repo_id, filename=plans[0][0], need=need, free=free, path=str(where),
        )


def _fetch(repo_id, name, revision, cache_dir, token, force, tqdm_class, files) -> str:
    from huggingface_hub import hf_hub_download

    return _call(lambda: hf_hub_download(repo_id, name, revision=revision, cache_dir=cache_dir, token=token,
                                          tqdm_class=tqdm_class, force_download=force), repo_id, name, files, cache_dir)


def _call(run, repo_id, name, files, cache_dir):
    """Run a huggingface_hub download call; its failures come back as the course's typed errors."""
    from huggingface_hub import errors as hf_errors

    try:
        return run()
    except hf_errors.GatedRepoError:
        raise gated(repo_id, None) from None
    except hf_errors.RepositoryNotFoundError as err:
        raise repo_not_found(repo_id) from err
    except hf_errors.RevisionNotFoundError as err:
        raise FileNotInRepoError(f"{repo_id} has no such revision: leave revision=None for the main branch.",
                                 repo_id=repo_id, filename=name) from err
    except hf_errors.RemoteEntryNotFoundError as err:
        raise not_in_repo(repo_id, f"file {name!r}", files) from err
    except hf_errors.LocalEntryNotFoundError as err:
        reason = f"the Hub ({endpoint()}) could not be reached"
        raise not_cached(repo_id, f"The file {name!r}", cache_root(cache_dir), reason, filename=name) from err
    except hf_errors.HfHubHTTPError as err:
        raise hub_unavailable(repo_id, err, f"the file {name!r}", name) from err
    except network_errors() as err:
        raise DownloadInterruptedError(
            f"The download of {name} from {repo_id} broke off ({type(err).__name__}: {err}). "
            "Check the connection and run the same call again: it resumes from the part already saved, "
            "and files that finished are kept in the cache.",
            repo_id=repo_id, filename=name,
        ) from err


def _quiet_tqdm_class():
    from huggingface_hub.utils import tqdm as hf_tqdm

    class QuietTqdm(hf_tqdm):
        def __init__(self, *args, **kwargs):
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)

    return QuietTqdm
