"""The maintainer's check: every downloadable catalog entry against the Hub, what drifted, and what it can fill in.

For each model with GGUF files it asks the Hub whether the repository still
exists, whether each listed file is there and of the listed size, which
licence the repository states and whether it is gated. A difference is
drift (fix the catalog, or the course); a fact the catalog leaves empty
(a size, gating) is reported as a fill-in, which ``fill`` writes into the
data file.
"""

import difflib
import json
from dataclasses import dataclass
from importlib import resources

from .catalog import Model, catalog_json, load_catalog
from .errors import GatedRepoError, HubUnavailableError, OfflineNotCachedError, RepoNotFoundError
from .hub.probe import endpoint, offline_reason
from .hub.remote import NoAnswer, repo_info

__all__ = ["Finding", "check_catalog", "fill", "DRIFT", "FILL", "NOTE"]

DRIFT, FILL, NOTE = "drift", "fill", "note"


@dataclass(frozen=True)
class Finding:
    """One difference between the catalog and the Hub: ``kind`` is drift, fill or note."""

    key: str
    kind: str
    what: str
    field: str | None = None  # for a fill: "size:<quant>" or "gated"
    value: object = None  # for a fill: the Hub's value

    def __str__(self) -> str:
        return f"{self.kind.upper():5}  {self.key}: {self.what}"


def _downloadable(models) -> list[Model]:
    return [m for m in models if m.repo_id and m.files]


def check_catalog(models=None, *, token=None) -> list[Finding]:
    """Compare every downloadable entry with the Hub; raises OfflineNotCachedError when the Hub cannot be asked."""
    reason = offline_reason()
    if reason is not None:
        raise OfflineNotCachedError(
            f"The catalog check needs the Hub, and {reason}. Run it online (unset HF_HUB_OFFLINE).", reason=reason
        )
    findings: list[Finding] = []
    for model in _downloadable(models if models is not None else load_catalog()):
        findings += _check_one(model, token)
    return findings


def _check_one(model: Model, token) -> list[Finding]:
    key, repo = model.key, model.repo_id
    try:
        info = repo_info(repo, token=token)
    except RepoNotFoundError:
        return [Finding(key, DRIFT, f"repository {repo} not found on the Hub (renamed, removed or made private)")]
    except GatedRepoError:
        return [Finding(key, DRIFT, f"repository {repo} refuses even its file list: gated or private now")]
    except NoAnswer as no:
        raise HubUnavailableError(
            f"The Hub ({endpoint()}) did not answer for {repo} ({type(no.error).__name__}: {no.error}); "
            "nothing was checked. Try again later.",
            repo_id=repo,
        ) from no.error
    out = []
    for f in model.files:
        if f.filename not in info.files:
            close = difflib.get_close_matches(f.filename, [n for n in info.files if n.endswith(".gguf")], n=1, cutoff=0.6)
            hint = f" (closest now: {close[0]})" if close else ""
            out.append(Finding(key, DRIFT, f"{f.quant} file {f.filename} is no longer in {repo}{hint}"))
            continue
        size = info.files[f.filename]
        if f.size is None and size is not None:
            out.append(Finding(key, FILL, f"size of {f.filename}: {size} bytes on the Hub", f"size:{f.quant}", size))
        elif size is not None and size != f.size:
            out.append(Finding(key, DRIFT, f"size of {f.filename}: catalog {f.size}, Hub {size}"))
    if info.licence is None:
        out.append(Finding(key, NOTE, f"{repo} states no licence on the Hub; the catalog says {model.licence}"))
    elif info.licence != model.licence:
        out.append(Finding(key, DRIFT, f"licence: catalog {model.licence}, Hub {info.licence}"))
    if model.gated is None:
        out.append(Finding(key, FILL, f"gated: {str(info.gated).lower()} on the Hub", "gated", info.gated))
    elif model.gated != info.gated:
        out.append(Finding(key, DRIFT, f"gated: catalog {str(model.gated).lower()}, Hub {str(info.gated).lower()}"))
    return out


def fill(findings, path=None) -> int:
    """Write the fill-ins (sizes, gating the catalog leaves empty) into catalog.json; the number written."""
    target = path or resources.files("ossllm_helpers").joinpath("data", "catalog.json")
    doc = catalog_json() if path is None else json.loads(open(path, encoding="utf-8").read())
    entries = {e["key"]: e for e in doc["models"]}
    written = 0
    for f in findings:
        if f.kind != FILL or f.key not in entries:
            continue
        entry = entries[f.key]
        if f.field == "gated":
            entry["gated"] = f.value
        elif f.field and f.field.startswith("size:"):
            entry["files"][f.field.split(":", 1)[1]]["size"] = f.value
        else:
            continue
        written += 1
    if written:
        with open(target, "w", encoding="utf-8") as out:
            out.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    return written
