"""The one JSON-schema validator: every data file the course ships (catalog, quiz, lab) is checked here.

Schemas live in ``ossllm_helpers/data/<name>.schema.json`` and declare their
draft; ``jsonschema`` picks the matching validator and ``best_match`` the
problem most worth reporting first.
"""

import json
from functools import lru_cache
from importlib import resources

__all__ = ["schema", "first_problem", "where"]


@lru_cache(maxsize=None)
def schema(name: str) -> dict:
    """The schema ``data/<name>.schema.json`` (``name`` is ``"catalog"``, ``"quiz"`` or ``"lab"``)."""
    text = resources.files(__package__).joinpath("data", f"{name}.schema.json").read_text(encoding="utf-8")
    return json.loads(text)


@lru_cache(maxsize=None)
def _validator(name: str):
    import jsonschema  # deferred: about a second to import, needed only when a file is checked

    doc = schema(name)
    return jsonschema.validators.validator_for(doc)(doc)


def where(path_parts) -> str:
    """A JSON path as people read it: ``models[3].files.Q4_K_M``; ``top level`` for the document itself."""
    out = ""
    for p in path_parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "top level"


def first_problem(doc, name: str) -> tuple[str, str, int] | None:
    """None if ``doc`` matches the schema; else (where, what is wrong, how many problems in all)."""
    import jsonschema

    errors = list(_validator(name).iter_errors(doc))
    if not errors:
        return None
    best = jsonschema.exceptions.best_match(errors)
    return where(best.absolute_path), best.message, len(errors)
