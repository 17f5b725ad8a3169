"""The model catalog: every model the course names or uses, read from ``data/catalog.json``.

The data file is validated against ``data/catalog.schema.json`` when it is first
loaded, and cross-checked (unique keys, known licences, tiers that agree with
the licence table), so a typo in the data fails loudly instead of teaching a
wrong licence.
"""

import difflib
import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from .errors import CatalogError, FileNotInRepoError, UnknownLicenceError, UnknownModelError

__all__ = [
    "GGUFFile",
    "Model",
    "Licence",
    "CatalogError",
    "UnknownLicenceError",
    "TIERS",
    "load_catalog",
    "get_model",
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
    offline: bool = False
    active_params_b: float | None = None
    experts_total: int | None = None
    experts_active: int | None = None
    notes: str = ""

    @property
    def is_instruct(self) -> bool:
        return self.variant == "instruct"

    @property
    def is_moe(self) -> bool:
        return self.experts_total is not None

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
                "(all of them: [m.key for m in oh.load_catalog() if m.files])."
            )
        want = (quant or self.default_quant).upper()
        for f in self.files:
            if f.quant == want:
                return f
        raise FileNotInRepoError(
            f"The catalog lists no {want} file for {self.key}; it lists {', '.join(self.quants)}. "
            f"Pass one of those as quant=, or call oh.download({self.repo_id!r}, quant={want!r}) "
            "to look for it in the repository itself."
        )


def _read_json(name: str):
    text = resources.files("ossllm_helpers").joinpath("data", name).read_text(encoding="utf-8")
    return json.loads(text)


def _schema_check(doc) -> None:
    schema = _read_json("catalog.schema.json")
    try:
        import fastjsonschema  # compiles the schema in a tenth of a second
    except ImportError:
        fastjsonschema = None
    if fastjsonschema is not None:
        try:
            fastjsonschema.compile(schema)(doc)
        except fastjsonschema.JsonSchemaValueException as err:
            raise CatalogError(
                f"ossllm_helpers/data/catalog.json does not match its schema: {err.message}. Fix the data file."
            ) from None
        return
    # jsonschema gives the same answer; its import is slow (seconds) where optional format checkers are installed.
    import jsonschema

    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(doc), key=lambda e: list(e.path))
    if errors:
        where = "/".join(str(p) for p in errors[0].absolute_path) or "(top level)"
        raise CatalogError(
            f"ossllm_helpers/data/catalog.json does not match its schema at {where}: {errors[0].message}. "
            f"Fix the data file ({len(errors)} problem(s) in all)."
        )


def _validate(doc) -> None:
    _schema_check(doc)
    table = doc["licences"]
    seen = set()
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


@lru_cache(maxsize=1)
def _load() -> tuple[tuple[Model, ...], dict[str, Licence]]:
    doc = _read_json("catalog.json")
    _validate(doc)
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
                offline=bool(e.get("offline", False)),
                active_params_b=e.get("active_params_b"),
                experts_total=experts.get("total"),
                experts_active=experts.get("active"),
                notes=e.get("notes", ""),
            )
        )
    return tuple(models), table


def load_catalog() -> list[Model]:
    """Every catalog model, in catalog order (offline models first, then by size)."""
    return list(_load()[0])


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
        raise UnknownModelError(f"A model key is a string such as 'smollm2-135m-instruct', not {key!r}.")
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
        "List every key with [m.key for m in oh.load_catalog()] or `python -m ossllm_helpers models`; "
        "for a model outside the catalog, use oh.download(repo_id, quant=...) with its Hub id."
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
