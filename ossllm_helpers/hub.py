"""Download GGUF files from the Hugging Face Hub, with errors that say what to do.

Everything goes through ``huggingface_hub.hf_hub_download``, so files land in
the ordinary Hub cache (shared with llama-cpp-python's ``Llama.from_pretrained``,
transformers and the ``hf`` CLI), a second call reuses the cached file, and a
transfer that breaks off is resumed with an HTTP Range request. On top of it:
quant names (``"Q4_K_M"``) resolved against the repository's files, a free-disk
check before the transfer starts, the offline model pack, and typed errors.

``huggingface_hub`` reads ``HF_ENDPOINT`` and ``HF_HUB_OFFLINE`` once, when it
is imported: change them before the first import (or restart the kernel).
"""

import os
import re
import shutil
from pathlib import Path

from .errors import (
    FileNotInRepoError,
    GatedRepoError,
    NotEnoughDiskError,
    OfflineNotCachedError,
    OssllmError,
    RepoNotFoundError,
)

__all__ = [
    "download",
    "fetch",
    "list_gguf_files",
    "quant_of",
    "is_offline",
    "DISK_HEADROOM",
]

# Refuse a download that would leave less than this free: a full disk breaks more than the download.
DISK_HEADROOM = 200_000_000

# Quant names as llama.cpp and the usual GGUF publishers spell them in file names:
# Q4_K_M, Q4_1, Q8_0, Q4_0_4_8, IQ4_XS, IQ2_XXS, TQ1_0, F16, BF16, F32, MXFP4 ...
_QUANT_RE = re.compile(
    r"(?<![a-z0-9])(i?q[1-8](?:_[a-z0-9]+)*|tq[12]_0|bf16|fp16|fp32|f16|f32|mxfp4(?:_moe)?)(?=[-._]|$)",
    re.IGNORECASE,
)
_SHARD_RE = re.compile(r"-(\d{5})-of-(\d{5})\.gguf$", re.IGNORECASE)
_COMMIT_RE = re.compile(r"^[0-9a-f]{40}$")


def quant_of(filename: str) -> str | None:
    """The quantisation named in a GGUF file name, upper-cased; None if it names none.

    >>> quant_of("gemma-3-270m-q4_k_m.gguf"), quant_of("SmolLM2-135M-Instruct.Q4_1.gguf")
    ('Q4_K_M', 'Q4_1')
    """
    stem = os.path.basename(str(filename))
    stem = _SHARD_RE.sub("", stem)
    stem = re.sub(r"\.gguf$", "", stem, flags=re.IGNORECASE)
    found = _QUANT_RE.findall(stem)
    if not found:
        return None
    quant = found[-1].upper()  # the quant is the last such token; earlier ones are part of the model name
    return {"FP16": "F16", "FP32": "F32"}.get(quant, quant)


def is_offline() -> bool:
    """True when huggingface_hub is in offline mode (HF_HUB_OFFLINE as it read it at import)."""
    from huggingface_hub import constants

    check = getattr(constants, "is_offline_mode", None)
    return bool(check()) if callable(check) else bool(constants.HF_HUB_OFFLINE)


def _endpoint() -> str:
    from huggingface_hub import constants

    return constants.ENDPOINT


def _cache_root(cache_dir) -> Path:
    from huggingface_hub import constants

    return Path(cache_dir if cache_dir is not None else constants.HF_HUB_CACHE).expanduser()


def _is_gguf(name: str) -> bool:
    return name.lower().endswith(".gguf")


def _is_weights(name: str) -> bool:
    # Vision projectors (mmproj) are GGUF too, but not a language model to chat with.
    return _is_gguf(name) and "mmproj" not in os.path.basename(name).lower()


def _human(n: int | None) -> str:
    if n is None:
        return "size unknown"
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{n} bytes"


# ---------------------------------------------------------------- errors


def _network_errors() -> tuple[type[BaseException], ...]:
    errs: list[type[BaseException]] = [ConnectionError, TimeoutError]
    from huggingface_hub import errors as hf_errors

    errs.append(hf_errors.OfflineModeIsEnabled)
    # huggingface_hub's HTTP client has changed over versions (requests, httpx, httpx2): accept each one's errors.
    clients = (("httpx2", ("TransportError",)), ("httpx", ("TransportError",)), ("requests", ("ConnectionError", "Timeout")))
    for mod, names in clients:
        try:
            module = __import__(mod)
        except ImportError:
            continue
        errs.extend(getattr(module, n) for n in names if hasattr(module, n))
    return tuple(errs)


def _catalog_hint(repo_id: str) -> str:
    import difflib

    from .catalog import load_catalog

    models = [m for m in load_catalog() if m.repo_id]
    exact = [m for m in models if m.repo_id.lower() == repo_id.lower()]
    if exact:
        return (
            f"The course catalog lists this repository for {exact[0].key!r}: if the Hub has since renamed or "
            "removed it, search the Hub for another GGUF build of the same model. "
        )
    names = {m.repo_id.lower(): m for m in models}
    names.update({m.key: m for m in models})
    close = difflib.get_close_matches(repo_id.lower(), list(names), n=3, cutoff=0.6)
    picks = []
    for c in close:
        m = names[c]
        if m.key not in [p.key for p in picks]:
            picks.append(m)
    if picks:
        return "Close matches in the course catalog: " + "; ".join(
            f"{m.repo_id} (oh.fetch({m.key!r}))" for m in picks
        ) + ". "
    return "The course catalog lists models that exist: `python -m ossllm_helpers models` or oh.load_catalog(). "


def _repo_not_found(repo_id: str) -> RepoNotFoundError:
    from huggingface_hub import get_token

    looks_like_key = "/" not in repo_id
    msg = f"No repository {repo_id!r} on the Hugging Face Hub ({_endpoint()}), or it is private. "
    if looks_like_key:
        msg += "A Hub id has the form owner/name, as in the model page's address. "
        try:
            from .catalog import get_model

            model = get_model(repo_id)
            msg += f"{repo_id!r} is a course catalog key: use oh.fetch({model.key!r}). "
        except OssllmError:
            pass
    msg += _catalog_hint(repo_id)
    msg += "Check the spelling (it is case-sensitive) on the model page."
    if get_token() is None:
        msg += " If the repository is private, set HF_TOKEN to a token that can read it."
    return RepoNotFoundError(msg)


def _gated(repo_id: str, token) -> GatedRepoError:
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
        f"1) Log in at {_endpoint()}/{repo_id}, read the licence and accept it. "
        "2) Create a read token in your account settings (Access Tokens). "
        "3) Give it to this machine: set the HF_TOKEN environment variable (on Colab: a secret named HF_TOKEN), "
        "run `hf auth login` in a terminal (`huggingface-cli login` with older huggingface_hub), or in a notebook "
        "run `from huggingface_hub import login; login()`. Then run this again."
    )


def _status(err) -> int:
    response = getattr(err, "response", None)
    return getattr(response, "status_code", 0) or 0


def _hub_trouble(err) -> OssllmError:
    return OssllmError(
        f"The Hub ({_endpoint()}) answered with an error ({_status(err) or 'no status'}): {str(err).strip().splitlines()[0]} "
        "If it is a server error (5xx), try again in a few minutes; a file already in the cache is used "
        "when the Hub is down."
    )


def _listing(files: dict[str, int | None]) -> str:
    gguf = sorted(f for f in files if _is_weights(f))
    if not gguf:
        shown = ", ".join(sorted(files)[:8]) + (" ..." if len(files) > 8 else "")
        return (
            f"It has no GGUF files at all (its files: {shown or 'none'}): it probably holds the original "
            "weights. Look for a repository of the same model whose name ends in -GGUF."
        )
    lines = ", ".join(f"{f} ({quant_of(f) or 'no quant in name'}, {_human(files[f])})" for f in gguf)
    quants = sorted({q for q in map(quant_of, gguf) if q})
    return f"Its GGUF files: {lines}. Quants: {', '.join(quants) or 'none named'}."


def _not_in_repo(repo_id: str, wanted: str, files: dict[str, int | None]) -> FileNotInRepoError:
    advice = " Pass one of those as quant= or filename=." if any(map(_is_weights, files)) else ""
    return FileNotInRepoError(f"{repo_id} has no {wanted}. {_listing(files)}{advice}")


def _pack_model(repo_id: str, filename: str | None):
    from .pack import OFFLINE_MODELS

    for model in OFFLINE_MODELS.values():
        if model.repo_id.lower() == repo_id.lower() and filename in (None, model.filename):
            return model
    return None


def _not_cached(repo_id: str, what: str, cache: Path, *, offline: bool, cached: dict | None = None) -> OfflineNotCachedError:
    if offline:
        why = (
            "offline mode is on (HF_HUB_OFFLINE=1, or local_files_only=True), so nothing can be downloaded. "
            "To download it: connect to the internet, unset HF_HUB_OFFLINE (huggingface_hub reads it at import: "
            "restart the kernel after changing it), and run this again."
        )
    else:
        why = (
            f"the Hub ({_endpoint()}) could not be reached. Check the internet connection (and any proxy), "
            "then run this again."
        )
    msg = f"{what} of {repo_id} is not in the Hugging Face cache ({cache}) and {why}"
    packed = _pack_model(repo_id, None)
    if packed is not None and not cached:
        msg += (
            f" It is one of the course's offline models: `./course up` installs it, or run "
            f"`{packed.pip_install}` and then oh.install_pack()."
        )
    if cached:
        msg += " Cached files of this repository: " + ", ".join(sorted(cached)) + "."
    return OfflineNotCachedError(msg)


# ---------------------------------------------------------------- listing


def _remote_files(repo_id: str, revision, token) -> tuple[dict[str, int | None], dict[str, str]]:
    """File name to size, and LFS file name to sha256 (the name of its blob in the cache)."""
    from huggingface_hub import HfApi
    from huggingface_hub import errors as hf_errors

    try:
        info = HfApi().model_info(repo_id, revision=revision, token=token, files_metadata=True)
    except hf_errors.GatedRepoError:
        raise _gated(repo_id, token) from None
    except hf_errors.RevisionNotFoundError as err:
        raise FileNotInRepoError(
            f"{repo_id} exists but has no revision {revision!r}. Leave revision=None for the main branch, "
            "or pass a branch, tag or commit id listed on the model page's 'Files and versions' tab."
        ) from err
    except hf_errors.RepositoryNotFoundError as err:
        raise _repo_not_found(repo_id) from err
    return {s.rfilename: (s.lfs.size if s.lfs else s.size) for s in (info.siblings or [])}, {
        s.rfilename: s.lfs.sha256 for s in (info.siblings or []) if s.lfs
    }


def _snapshot_dir(cache: Path, repo_id: str, revision) -> Path | None:
    repo_dir = cache / ("models--" + repo_id.replace("/", "--"))
    rev = revision or "main"
    ref = repo_dir / "refs" / rev
    commit = ref.read_text().strip() if ref.is_file() else rev if _COMMIT_RE.match(rev) else None
    if commit and (repo_dir / "snapshots" / commit).is_dir():
        return repo_dir / "snapshots" / commit
    if revision is None and (repo_dir / "snapshots").is_dir():  # no refs/main: take the newest snapshot
        snaps = sorted((repo_dir / "snapshots").iterdir(), key=lambda p: p.stat().st_mtime, reverse=True)
        return snaps[0] if snaps else None
    return None


def _cached_files(cache: Path, repo_id: str, revision) -> dict[str, int | None]:
    snap = _snapshot_dir(cache, repo_id, revision)
    if snap is None:
        return {}
    out = {}
    for path in snap.rglob("*"):
        if path.is_file():  # follows the symlink into blobs/; a dangling link is not a cached file
            out[path.relative_to(snap).as_posix()] = path.stat().st_size
    return out


def _valid_repo_id(repo_id) -> str:
    from huggingface_hub.utils import validate_repo_id

    example = "'Qwen/Qwen2.5-0.5B-Instruct-GGUF'"
    if not isinstance(repo_id, str) or not repo_id.strip():
        raise RepoNotFoundError(f"repo_id must be a Hub id such as {example}, not {repo_id!r}.")
    repo_id = repo_id.strip()
    try:
        validate_repo_id(repo_id)
    except ValueError as err:
        raise RepoNotFoundError(
            f"{repo_id!r} is not a valid Hub id ({err}). A Hub id is owner/name as in the model page's "
            f"address, such as {example}; for a course model, use oh.fetch(key)."
        ) from None
    return repo_id


def list_gguf_files(repo_id: str, *, revision: str | None = None, token=None, cache_dir=None) -> list[str]:
    """The GGUF files of a Hub repository (from the cache when offline), sorted by name."""
    repo_id = _valid_repo_id(repo_id)
    if is_offline():
        files = _cached_files(_cache_root(cache_dir), repo_id, revision)
    else:
        try:
            files, _ = _remote_files(repo_id, revision, token)
        except _network_errors():
            files = _cached_files(_cache_root(cache_dir), repo_id, revision)
    return sorted(f for f in files if _is_gguf(f))


# ---------------------------------------------------------------- resolving


def _looks_like_quant(name: str) -> bool:
    return "." not in name and "/" not in name and quant_of(name) == name.upper()


def _pick(repo_id: str, files: dict[str, int | None], filename, quant) -> list[str]:
    """The file(s) to download: one file, or every shard of a split GGUF (first shard first)."""
    if filename is not None:
        if filename in files:
            return [filename]
        raise _not_in_repo(repo_id, f"file {filename!r}", files)
    weights = sorted(f for f in files if _is_weights(f))
    if quant is None:
        groups = _group_shards(weights)
        if len(groups) == 1:
            return groups[0]
        quant = "Q4_K_M"
        if not any(quant_of(f) == quant for f in weights):
            raise _not_in_repo(repo_id, "single GGUF file to choose by default (and no Q4_K_M)", files)
    want = quant.upper()
    groups = _group_shards([f for f in weights if quant_of(f) == want])
    if not groups:
        raise _not_in_repo(repo_id, f"{want} GGUF file", files)
    if len(groups) > 1:
        raise FileNotInRepoError(
            f"Several {want} files in {repo_id}: {', '.join(g[0] for g in groups)}. Pass the one you want as filename=."
        )
    return groups[0]


def _group_shards(names: list[str]) -> list[list[str]]:
    groups: dict[str, list[str]] = {}
    for name in sorted(names):
        groups.setdefault(_SHARD_RE.sub("", name), []).append(name)
    return list(groups.values())


def _free_space(cache: Path) -> tuple[Path, int]:
    probe = cache
    while not probe.exists() and probe != probe.parent:  # the cache may not exist yet: measure where it will be
        probe = probe.parent
    return probe, shutil.disk_usage(probe).free


def _check_disk(repo_id, names, files, oids, cache: Path, cache_dir, revision) -> None:
    from huggingface_hub import try_to_load_from_cache

    blobs = cache / ("models--" + repo_id.replace("/", "--")) / "blobs"
    need = 0
    for name in names:
        size = files.get(name)
        if size is None:
            continue
        # An LFS blob is named by its sha256, whatever revision or pack put it there.
        if name in oids and (blobs / oids[name]).is_file():
            continue
        if isinstance(try_to_load_from_cache(repo_id, name, cache_dir=cache_dir, revision=revision), str):
            continue
        need += size
    if not need:
        return
    where, free = _free_space(cache)
    if free < need + DISK_HEADROOM:
        raise NotEnoughDiskError(
            f"Not enough free disk space for {', '.join(names)} from {repo_id}: it needs {_human(need)} "
            f"(plus {_human(DISK_HEADROOM)} to spare) and {where} has {_human(free)} free. "
            "Free some space (list cached models with `hf cache ls`, remove one with `hf cache rm model/<owner>/<name>`), "
            "pick a smaller quant or model, or pass cache_dir= on a disk with room."
        )


def _install_from_pack(repo_id: str, names: list[str], cache: Path, cache_dir, revision) -> None:
    """Place an offline-pack model into the cache before looking for it, if its package is installed."""
    if revision is not None or len(names) != 1:
        return
    packed = _pack_model(repo_id, names[0])
    if packed is None:
        return
    from huggingface_hub import try_to_load_from_cache

    from .pack import install_pack, pack_status

    if isinstance(try_to_load_from_cache(repo_id, names[0], cache_dir=cache_dir), str):
        return
    if pack_status().get(packed.key):
        install_pack(cache, keys=[packed.key])


def _quiet_tqdm_class():
    from huggingface_hub.utils import tqdm as hf_tqdm

    class QuietTqdm(hf_tqdm):
        def __init__(self, *args, **kwargs):
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)

    return QuietTqdm


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
) -> str:
    """Download a GGUF file from the Hugging Face Hub into the Hub cache; return its local path.

    Like ``huggingface_hub.hf_hub_download`` (which does the transfer), but the
    file can be named by its quantisation, and failures come back as errors
    that say what to do.

    Args:
        repo_id: The Hub repository, ``owner/name`` (e.g. ``"bartowski/Llama-3.2-1B-Instruct-GGUF"``).
        filename: The file in the repository. A quant name here (``"Q4_K_M"``) is
            taken as ``quant``. With neither, the repository's only GGUF file, or else its Q4_K_M.
        quant: A quantisation such as ``"Q4_K_M"``, ``"Q8_0"`` or ``"IQ4_XS"`` (any case),
            matched against the repository's GGUF file names. A model split into
            shards is downloaded whole and the first shard's path returned
            (llama.cpp finds the others beside it).
        revision: Branch, tag or commit id; default the main branch.
        cache_dir: The Hub cache folder; default ``huggingface_hub``'s (``HF_HUB_CACHE``, under ``HF_HOME``).
        local_files_only: Only look in the cache. Default: true when ``HF_HUB_OFFLINE`` is set.
        token: A Hub access token for gated or private repositories; default the
            ``HF_TOKEN`` environment variable or the token saved by ``hf auth login``.
        progress: Show a progress bar (a widget in Jupyter, text in a terminal).

    Returns:
        The path of the file inside the cache's snapshot folder (a symlink to
        the blob, where the system supports symlinks). A file already in the
        cache is not downloaded again; the offline models are taken from their
        PyPI packages when those are installed.

    Raises:
        RepoNotFoundError: No such repository (or it is private and no token can read it).
        GatedRepoError: The repository needs its licence accepted and a token.
        FileNotInRepoError: The repository has no such file, quant or revision;
            the message lists its GGUF files and quants.
        OfflineNotCachedError: Offline (or the Hub unreachable) and the file is not cached.
        NotEnoughDiskError: The download would not fit on the disk; nothing was downloaded.
        ValueError: Both ``filename`` and ``quant`` given, and they disagree.
    """
    from huggingface_hub import errors as hf_errors
    from huggingface_hub import hf_hub_download

    repo_id = _valid_repo_id(repo_id)
    if filename is not None and _looks_like_quant(filename):
        if quant is not None and quant.upper() != filename.upper():
            raise ValueError(f"Give the quant once: filename={filename!r} and quant={quant!r} disagree.")
        filename, quant = None, filename
    if filename is not None and quant is not None and quant_of(filename) != quant.upper():
        raise ValueError(f"Pass filename= or quant=, not both: {filename!r} is not a {quant.upper()} file.")

    offline = is_offline() if local_files_only is None else bool(local_files_only)
    cache = _cache_root(cache_dir)

    # Which file(s)? Online, from the repository's listing (which also gives sizes for the disk check).
    reachable = not offline
    files: dict[str, int | None] = {}
    oids: dict[str, str] = {}
    if reachable:
        try:
            files, oids = _remote_files(repo_id, revision, token)
        except _network_errors():
            reachable = False  # hf_hub_download falls back to the cache the same way
        except hf_errors.HfHubHTTPError as err:
            if _status(err) < 500:
                raise _hub_trouble(err) from err
            reachable = False  # the Hub is down: a cached copy still serves
    if reachable:
        names = _pick(repo_id, files, filename, quant)
        _install_from_pack(repo_id, names, cache, cache_dir, revision)
        _check_disk(repo_id, names, files, oids, cache, cache_dir, revision)
    else:
        if filename is not None:
            names = [filename]
        else:
            packed = _pack_model(repo_id, None)
            if revision is None and packed is not None and quant is not None and quant_of(packed.filename) == quant.upper():
                names = [packed.filename]
            else:
                cached = _cached_files(cache, repo_id, revision)
                try:
                    names = _pick(repo_id, cached, None, quant)
                except FileNotInRepoError:
                    what = f"A {quant.upper()} GGUF file" if quant else "A GGUF file"
                    raise _not_cached(repo_id, what, cache, offline=offline, cached=cached) from None
        _install_from_pack(repo_id, names, cache, cache_dir, revision)

    tqdm_class = None if progress else _quiet_tqdm_class()
    paths = []
    for name in names:
        try:
            paths.append(
                hf_hub_download(
                    repo_id,
                    name,
                    revision=revision,
                    cache_dir=cache_dir,
                    local_files_only=not reachable,
                    token=token,
                    tqdm_class=tqdm_class,
                )
            )
        except hf_errors.GatedRepoError:
            raise _gated(repo_id, token) from None
        except hf_errors.RepositoryNotFoundError as err:
            raise _repo_not_found(repo_id) from err
        except hf_errors.RevisionNotFoundError as err:
            raise FileNotInRepoError(
                f"{repo_id} exists but has no revision {revision!r}: leave revision=None for the main branch."
            ) from err
        except hf_errors.LocalEntryNotFoundError as err:
            cached = _cached_files(cache, repo_id, revision)
            raise _not_cached(repo_id, f"The file {name!r}", cache, offline=offline, cached=cached) from err
        except hf_errors.RemoteEntryNotFoundError as err:
            raise _not_in_repo(repo_id, f"file {name!r}", files) from err
        except hf_errors.OfflineModeIsEnabled as err:
            raise _not_cached(repo_id, f"The file {name!r}", cache, offline=True) from err
        except hf_errors.HfHubHTTPError as err:
            raise _hub_trouble(err) from err
        except _network_errors() as err:
            # huggingface_hub already retried with Range requests; the partial file is not kept.
            raise OssllmError(
                f"The download of {name} from {repo_id} broke off ({type(err).__name__}: {err}). "
                "Check the connection and run this again; files that finished are kept in the cache."
            ) from err
    return paths[0]


def fetch(key: str, *, quant: str | None = None, **kw) -> str:
    """Download a course catalog model by its key (e.g. ``"qwen2.5-0.5b-instruct"``); see ``download``.

    ``quant`` defaults to the catalog's choice (Q4_K_M where listed). A quant the
    catalog does not list is looked for in the repository itself.
    """
    from .catalog import get_model

    model = get_model(key)
    if not model.files:
        model.file()  # raises FileNotInRepoError saying the model is discussed, not run
    want = (quant or model.default_quant).upper()
    listed = {f.quant: f for f in model.files}
    if want in listed:
        return download(model.repo_id, listed[want].filename, **kw)
    return download(model.repo_id, quant=want, **kw)
