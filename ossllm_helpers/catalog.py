"""The model catalog: every model the course names or uses, read from ``data/catalog.json``.

The data file is cross-checked when it is first loaded (unique keys, known
licences, tiers that agree with the licence table, one model per tutor rank)
and checked against ``data/catalog.schema.json`` by the tests and by
``python -m ossllm_helpers catalog check``, so a typo in the data fails loudly
instead of teaching a wrong licence. CONTRIBUTING.md describes the fields.
"""

import difflib
import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from .constants import CLI
from .errors import CatalogError, FileNotInRepoError, UnknownLicenceError, UnknownModelError
from .schemas import first_problem

__all__ = [
    "GGUFFile",
    "Model",
    "Licence",
    "CatalogError",
    "UnknownLicenceError",
    "TIERS",
    "load_catalog",
    "get_model",
    "tutor_ladder",
    "catalog_json",
    "licence_tier",
    "licences",
]

TIERS = ("permissive", "restricted", "research-only")


@dataclass(frozen=True)
class GGUFFile:
    quant: str
    filename: str
    size: int | None  # bytes; None where not known


@dataclass(frozen=True)
class Licence:
    id: str
    name: str
    tier: str | None  # None for "other": the model entry decides
    url: str | None
    summary: str


@dataclass(frozen=True)
class Model:
    key: str
    name: str
    family: str
    organisation: str
    params_b: float
    architecture: str | None
    variant: str  # "base" or "instruct"
    licence: str
    licence_name: str
    tier: str
    licence_url: str | None
    source_repo: str | None
    repo_id: str | None
    files: tuple[GGUFFile, ...]
    context_length: int | None
    released: str
    offline: bool = False  # the offline pack ships it (the entry has a "pack")
    active_params_b: float | None = None
    experts_total: int | None = None
    experts_active: int | None = None
    notes: str = ""
    gated: bool | None = None  # None: not known (the catalog check fills it in)
    tutor_rank: int | None = None  # a rung of the lab tutor's ladder, 1 the smallest; None: not a tutor

    @property
    def is_instruct(self) -> bool:
        return self.variant == "instruct"

    @property
    def is_moe(self) -> bool:
        """A mixture of experts: the catalog gives its experts, or fewer active parameters than parameters."""
        active = self.active_params_b
        return self.experts_total is not None or (active is not None and active < self.params_b)

    @property
    def quants(self) -> tuple[str, ...]:
        return tuple(f.quant for f in self.files)

    @property
    def default_quant(self) -> str | None:
        """Q4_K_M where the catalog lists it, else the first listed quant."""
        if not self.files:
            return None
        return "Q4_K_M" if "Q4_K_M" in self.quants else self.files[0].quant

    def file(self, quant: str | None = None) -> GGUFFile:
        """The catalog's GGUF file for ``quant`` (default: ``default_quant``)."""
        if not self.files:
            raise FileNotInRepoError(
                f"The catalog lists no GGUF file for {self.name!r} ({self.key}): the course discusses it "
                "but does not run it. Pick a model that has files, for example "
                f"{', '.join(repr(k) for k in _runnable_keys()[:4])} "
                "(all of them: [m.key for m in oh.load_catalog() if m.files]).",
                repo_id=self.repo_id,
            )
        want = (quant or self.default_quant).upper()
        for f in self.files:
            if f.quant == want:
                return f
        raise FileNotInRepoError(
            f"The catalog lists no {want} file for {self.key}; it lists {', '.join(self.quants)}. "
            f"Pass one of those as quant=, or call oh.download({self.repo_id!r}, quant={want!r}) "
            "to look for it in the repository itself.",
            repo_id=self.repo_id,
        )


@lru_cache(maxsize=1)
def _catalog_text() -> str:
    return resources.files("ossllm_helpers").joinpath("data", "catalog.json").read_text(encoding="utf-8")


def catalog_json() -> dict:
    """The catalog data file as JSON, not validated: for readers that must work before the course is installed."""
    return json.loads(_catalog_text())


def _schema_check(doc) -> None:
    problem = first_problem(doc, "catalog")
    if problem is not None:
        at, message, count = problem
        raise CatalogError(
            f"ossllm_helpers/data/catalog.json does not match its schema at {at}: {message}. "
            f"Fix the data file ({count} problem(s) in all).",
            where=at,
        )


def _validate(doc) -> None:
    """The whole check: the schema, then what a schema cannot say (tests and `catalog check` run it)."""
    _schema_check(doc)
    _cross_check(doc)


def _cross_check(doc) -> None:
    table = doc["licences"]
    seen = set()
    ranks: dict[int, str] = {}
    for entry in doc["models"]:
        key = entry["key"]
        if key in seen:
            raise CatalogError(f"catalog.json lists the key {key!r} twice: keys must be unique.")
        seen.add(key)
        lic = table.get(entry["licence"])
        if lic is None:
            raise CatalogError(
                f"catalog.json: {key} has licence {entry['licence']!r}, which the licence table does not define. "
                "Add it to 'licences' or fix the id."
            )
        if lic["tier"] is not None and lic["tier"] != entry["tier"]:
            raise CatalogError(
                f"catalog.json: {key} says tier {entry['tier']!r} but licence {entry['licence']!r} is "
                f"{lic['tier']!r} in the licence table. Make them agree."
            )
        experts = entry.get("experts")
        if experts and experts["active"] > experts["total"]:
            raise CatalogError(f"catalog.json: {key} has more active experts than experts.")
        _check_rung(entry, ranks)
        if "pack" in entry and len(entry["files"]) != 1:
            raise CatalogError(f"catalog.json: {key} has a pack, which ships one file, but lists {len(entry['files'])}.")


def _check_rung(entry: dict, ranks: dict) -> None:
    rank = entry.get("tutor_rank")
    if rank is None:
        return
    key = entry["key"]
    if entry["variant"] != "instruct" or not entry["files"]:
        raise CatalogError(
            f"catalog.json: {key} has tutor_rank {rank} but a tutor must be an instruct model with GGUF files."
        )
    if rank in ranks:
        raise CatalogError(f"catalog.json: {key} and {ranks[rank]} both have tutor_rank {rank}: each rank once.")
    ranks[rank] = key


@lru_cache(maxsize=1)
def _load() -> tuple[tuple[Model, ...], dict[str, Licence]]:
    doc = catalog_json()
    # The shipped file is schema-checked by the tests; at run time only the cheap checks run (the schema
    # validator's import alone takes about a second), and the schema explains any entry that will not load.
    try:
        _cross_check(doc)
        return _build(doc)
    except (KeyError, TypeError, AttributeError, ValueError) as err:
        _validate(doc)  # names the field and what is wrong with it
        if isinstance(err, CatalogError):
            raise
        raise CatalogError(f"ossllm_helpers/data/catalog.json cannot be read ({type(err).__name__}: {err}).") from err


def _build(doc) -> tuple[tuple[Model, ...], dict[str, Licence]]:
    table = {
        lid: Licence(id=lid, name=v["name"], tier=v["tier"], url=v["url"], summary=v["summary"])
        for lid, v in doc["licences"].items()
    }
    models = []
    for e in doc["models"]:
        lic = table[e["licence"]]
        experts = e.get("experts") or {}
        models.append(
            Model(
                key=e["key"],
                name=e["name"],
                family=e["family"],
                organisation=e["organisation"],
                params_b=float(e["params_b"]),
                architecture=e["architecture"],
                variant=e["variant"],
                licence=e["licence"],
                licence_name=lic.name,
                tier=e["tier"],
                licence_url=e.get("licence_url") or lic.url,
                source_repo=e["source_repo"],
                repo_id=e["repo_id"],
                files=tuple(GGUFFile(q, f["filename"], f["size"]) for q, f in e["files"].items()),
                context_length=e["context_length"],
                released=e["released"],
                offline="pack" in e,
                active_params_b=e.get("active_params_b"),
                experts_total=experts.get("total"),
                experts_active=experts.get("active"),
                notes=e.get("notes", ""),
                gated=e.get("gated"),
                tutor_rank=e.get("tutor_rank"),
            )
        )
    return tuple(models), table


def load_catalog() -> list[Model]:
    """Every catalog model, in catalog order (offline models first, then by size)."""
    return list(_load()[0])


def tutor_ladder() -> list[Model]:
    """The lab tutor's ladder: the models with a tutor_rank, weakest (rank 1) first."""
    return sorted((m for m in _load()[0] if m.tutor_rank is not None), key=lambda m: m.tutor_rank)


def licences() -> dict[str, Licence]:
    """The licence table: id to name, tier, URL and a one-line summary."""
    return dict(_load()[1])


def _runnable_keys() -> list[str]:
    return [m.key for m in _load()[0] if m.files]


def _close_keys(wanted: str, keys: list[str], n: int = 4) -> list[str]:
    # Whole-key similarity misses short queries ("smolm2", "llama3"): also score the key's start.
    def score(key: str) -> float:
        head = key[: len(wanted) + 2]
        return max(difflib.SequenceMatcher(None, wanted, x).ratio() for x in (key, head, key.split("-")[0]))

    scored = sorted(((score(k), k) for k in keys), key=lambda t: -t[0])
    return [k for s, k in scored if s >= 0.7][:n]


def get_model(key: str) -> Model:
    """The catalog entry for ``key`` (case-insensitive); UnknownModelError lists close keys."""
    if not isinstance(key, str) or not key.strip():
        raise UnknownModelError(f"A model key is a string such as 'smollm2-135m-instruct', not {key!r}.", key=key)
    models = _load()[0]
    wanted = key.strip().lower()
    for m in models:
        if m.key == wanted:
            return m
    # People paste the Hub id or the display name: accept those too.
    for m in models:
        if wanted in {(m.repo_id or "").lower(), (m.source_repo or "").lower(), m.name.lower()}:
            return m
    close = _close_keys(wanted, [m.key for m in models])
    hint = f"Did you mean {', '.join(repr(k) for k in close)}? " if close else ""
    raise UnknownModelError(
        f"No model {key!r} in the course catalog. {hint}"
        f"List every key with [m.key for m in oh.load_catalog()] or `{CLI} models`; "
        "for a model outside the catalog, use oh.download(repo_id, quant=...) with its Hub id.",
        key=key,
    )


def licence_tier(licence_id: str) -> str:
    """The tier of a licence id: 'permissive', 'restricted' or 'research-only'.

    Ids are the catalog's (Hugging Face Hub licence ids where the Hub has one),
    matched case-insensitively.
    """
    table = _load()[1]
    lid = licence_id.strip().lower() if isinstance(licence_id, str) else licence_id
    lic = table.get(lid)
    if lic is not None and lic.tier is not None:
        return lic.tier
    known = sorted(k for k, v in table.items() if v.tier is not None)
    if lic is not None:  # "other": the tier depends on the model, not the id
        raise UnknownLicenceError(
            f"{licence_id!r} says only that a model has its own licence, so it has no tier of its own: "
            "read that licence, or use the tier of the model's catalog entry (oh.get_model(key).tier)."
        )
    close = difflib.get_close_matches(str(lid), known, n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(repr(k) for k in close)}?" if close else ""
    raise UnknownLicenceError(
        f"Unknown licence id {licence_id!r}.{hint} Known ids: {', '.join(known)}. "
        "For any other licence, read its text: who may use it commercially, and on what conditions?"
    )
