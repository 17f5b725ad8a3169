"""Course models by name: ``fetch(key)`` and ``download(repo_id)`` join the catalog, the offline pack and the Hub.

The Hub layer knows nothing of the course; here a catalog key becomes a Hub
repository and file, an offline model is placed from its package before the
cache is asked, and a Hub error gains what the course knows (a near-miss of
a catalog repository, the package that ships an offline model).
"""

import difflib

from .catalog import get_model, load_catalog
from .constants import CLI, FRONT_DOOR
from .errors import OfflineNotCachedError, OssllmError, RepoNotFoundError
from .hub import download as hub_download
from .hub.advice import repo_not_found
from .pack import install_pack, pack_status, packed_for

__all__ = ["download", "fetch"]


def _catalog_hint(repo_id: str) -> str:
    models = [m for m in load_catalog() if m.repo_id]
    exact = [m for m in models if m.repo_id.lower() == repo_id.lower()]
    if exact:
        return (
            f"The course catalog lists this repository for {exact[0].key!r}: if the Hub has since renamed or "
            "removed it, search the Hub for another GGUF build of the same model. "
        )
    names = {m.repo_id.lower(): m for m in models}
    names.update({m.key: m for m in models})
    picks = []
    for close in difflib.get_close_matches(repo_id.lower(), list(names), n=3, cutoff=0.6):
        if names[close].key not in [p.key for p in picks]:
            picks.append(names[close])
    if picks:
        return "Close matches in the course catalog: " + "; ".join(
            f"{m.repo_id} (oh.fetch({m.key!r}))" for m in picks
        ) + ". "
    return f"The course catalog lists models that exist: `{CLI} models` or oh.load_catalog(). "


def _key_hint(repo_id: str) -> str:
    if "/" in repo_id:
        return ""
    try:
        model = get_model(repo_id)
    except OssllmError:
        return ""
    return f"{repo_id!r} is a course catalog key: use oh.fetch({model.key!r}). "


def _place_packed(repo_id: str, filename, cache_dir, force: bool) -> bool:
    """Place an offline model from its package (again, if ``force``); True when the pack placed it."""
    packed = packed_for(repo_id, filename if filename and filename.endswith(".gguf") else None)
    if packed is None or not pack_status().get(packed.key):
        return False
    install_pack(cache_dir, keys=[packed.key], force=force)
    return True


def download(repo_id: str, filename: str | None = None, **kw) -> str:
    """Download a GGUF file from the Hub into its cache; see ``ossllm_helpers.hub.download`` for every argument.

    On top of the Hub layer: the course's offline models come from their
    packages (no network needed), and errors name what the catalog and the
    pack know.
    """
    if isinstance(repo_id, str) and kw.get("revision") is None:
        if _place_packed(repo_id.strip(), filename, kw.get("cache_dir"), bool(kw.get("force_download"))):
            kw["force_download"] = False  # a fresh copy from the package: the Hub's blob is the same bytes
    try:
        return hub_download(repo_id, filename, **kw)
    except RepoNotFoundError as err:
        if err.repo_id is None or getattr(err, "malformed", False):
            raise
        raise repo_not_found(err.repo_id, _key_hint(err.repo_id) + _catalog_hint(err.repo_id)) from err
    except OfflineNotCachedError as err:
        packed = packed_for(err.repo_id or "")
        if packed is None or pack_status().get(packed.key):
            raise
        raise OfflineNotCachedError(
            f"{err} It is one of the course's offline models: `{FRONT_DOOR} up` installs it, or run "
            f"`{packed.pip_install}` and then `{CLI} pack`.",
            repo_id=err.repo_id, filename=err.filename, reason=getattr(err, "reason", None),
        ) from err


def fetch(key: str, *, quant: str | None = None, **kw) -> str:
    """Download a course catalog model by its key (e.g. ``"qwen2.5-0.5b-instruct"``); see ``download``.

    ``quant`` defaults to the catalog's choice (Q4_K_M where listed). A quant the
    catalog does not list is looked for in the repository itself. Pass
    ``force_download=True`` to replace a damaged cached copy.
    """
    model = get_model(key)
    if not model.files:
        model.file()  # raises FileNotInRepoError saying the model is discussed, not run
    want = (quant or model.default_quant).upper()
    listed = {f.quant: f for f in model.files}
    if want in listed:
        return download(model.repo_id, listed[want].filename, **kw)
    return download(model.repo_id, quant=want, **kw)
