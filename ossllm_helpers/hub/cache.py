"""The Hugging Face cache as the course reads it: where it is, and which files of a repository it holds.

Reading goes through huggingface_hub's public cache API (``scan_cache_dir``,
``try_to_load_from_cache``); ``repo_folder`` is the one place that names a
repository's folder, for the offline pack, the only part of the course that
writes into the cache by hand.
"""

from pathlib import Path

__all__ = ["cache_root", "repo_folder", "cached_files", "cached_path"]


def cache_root(cache_dir=None) -> Path:
    """The Hub cache folder: ``cache_dir`` if given, else huggingface_hub's (``HF_HUB_CACHE``, under ``HF_HOME``)."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    from huggingface_hub import constants  # deferred: huggingface_hub takes a while to import

    return Path(constants.HF_HUB_CACHE).expanduser()


def repo_folder(cache: Path, repo_id: str) -> Path:
    """The folder of a model repository inside the cache (``models--owner--name``)."""
    from huggingface_hub.file_download import repo_folder_name

    return Path(cache) / repo_folder_name(repo_id=repo_id, repo_type="model")


def _revision(repo, revision: str | None):
    wanted = revision or "main"
    for rev in repo.revisions:
        if wanted in rev.refs or rev.commit_hash == wanted:
            return rev
    if revision is None and repo.revisions:  # no refs/main (a copied cache): take the newest snapshot
        return max(repo.revisions, key=lambda r: r.last_modified)
    return None


def cached_files(repo_id: str, revision: str | None = None, cache_dir=None) -> dict[str, int]:
    """File name to size of the files of ``repo_id`` in the cache, at ``revision`` (default: main)."""
    from huggingface_hub import scan_cache_dir
    from huggingface_hub.errors import CacheNotFound

    root = cache_root(cache_dir)
    try:
        info = scan_cache_dir(root)
    except CacheNotFound:
        return {}
    for repo in info.repos:
        if repo.repo_type == "model" and repo.repo_id == repo_id:
            rev = _revision(repo, revision)
            if rev is None:
                return {}
            snapshot = Path(rev.snapshot_path)
            return {Path(f.file_path).relative_to(snapshot).as_posix(): f.size_on_disk for f in rev.files}
    return {}


def cached_path(repo_id: str, filename: str, revision: str | None = None, cache_dir=None) -> str | None:
    """The cached file's path, or None when it is not in the cache."""
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo_id, filename, cache_dir=cache_root(cache_dir), revision=revision)
    return found if isinstance(found, str) else None
