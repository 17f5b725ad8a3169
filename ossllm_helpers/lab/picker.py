"""The lab's model picker: the tutor models that fit this machine, with size, licence and whether cached."""

from __future__ import annotations

from ..chat.choice import Candidate, ModelChoice, tutor_candidates

__all__ = ["picker_options", "choice_for"]


def picker_options(current: ModelChoice, n_ctx: int, *, candidates: list[Candidate] | None = None) -> list[tuple[str, str]]:
    """(label, model) pairs, strongest first: every fitting tutor, and the current model even if it is not one."""
    cands = tutor_candidates(n_ctx) if candidates is None else candidates
    options = [(c.label, c.key) for c in cands if c.fits]
    if current.model is not None and current.model not in {key for _, key in options}:
        label = current.candidate.label if current.candidate else str(current.model)
        options.insert(0, (f"{label} · now", str(current.model)))
    return options


def choice_for(model: str, candidates: list[Candidate] | None = None) -> ModelChoice:
    """The choice a pick in the picker makes: says what was picked, with its size where known."""
    for c in candidates or []:
        if c.key == model:
            return ModelChoice(c.key, "picker", f"{c.name} {c.quant}: chosen in the picker.", quant=c.quant, candidate=c)
    return ModelChoice(model, "picker", f"{model}: chosen in the picker.")
