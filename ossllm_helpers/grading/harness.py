"""Inside the sandboxed kernel: answers leave as plain data, tagged JSON of exact built-in types.

This code runs in the student's process, so the student may replace or subvert it; that
changes nothing, because it only reports the student's own answers, and the grader
(``scoring.decode``) accepts nothing but well-formed plain data. What it does for honest
students: a number given as a ``Decimal``, a ``Fraction`` or a numpy scalar, or a ``str``
subclass, is sent as the plain value it stands for, with a note saying so.
"""

import decimal
import json
import numbers

__all__ = ["capture", "encode"]

MAX_DEPTH = 16


class _Budget:
    def __init__(self, chars):
        self.left = chars

    def spend(self, n):
        self.left -= n
        if self.left < 0:
            raise OverflowError("too large")


def _base_value(x):
    """(plain value, type name it came from) for a number-like or string-like object, else (None, None)."""
    t = type(x)
    name = f"{t.__module__}.{t.__qualname__}".removeprefix("builtins.").removeprefix("__main__.")
    if isinstance(x, str):  # the text the subclass holds, whatever its methods say
        return str.__str__(x), name
    if isinstance(x, bool):
        return bool(x), name
    if isinstance(x, float):
        return float.__float__(x), name
    if isinstance(x, int):
        return int.__int__(x), name
    if t.__module__ == "numpy" and t.__name__ in ("bool_", "bool"):
        return bool(x), name
    if isinstance(x, numbers.Integral):
        v = int(x)
        return (v, name) if type(v) is int else (None, None)
    if isinstance(x, (numbers.Real, decimal.Decimal)):
        v = float(x)
        return (v, name) if type(v) is float else (None, None)
    return None, None


def encode(x, notes: list, path: str, budget: _Budget, depth: int = 0):
    """``x`` as a tagged JSON value: ["str", "C"], ["float", "61.3125"], ["list", [...]], ... or ["?", type]."""
    t = type(x)
    budget.spend(8)
    if depth > MAX_DEPTH:
        return ["?", "nested too deep"]
    if x is None:
        return ["none"]
    if t is bool:
        return ["bool", x]
    if t is int:
        text = int.__repr__(x)
        budget.spend(len(text))
        return ["int", text]
    if t is float:
        return ["float", float.__repr__(x)]
    if t is complex:
        return ["complex", float.__repr__(x.real), float.__repr__(x.imag)]
    if t is str:
        budget.spend(len(x))
        return ["str", x]
    if t is bytes:
        budget.spend(2 * len(x))
        return ["bytes", x.hex()]
    if t in (list, tuple, set, frozenset):
        items = list(x) if t in (list, tuple) else sorted(x, key=repr) if len(x) < 10_000 else list(x)
        return [t.__name__, [encode(v, notes, f"{path}[{i}]", budget, depth + 1) for i, v in enumerate(items)]]
    if t is dict:
        return ["dict", [[encode(k, notes, f"{path} key", budget, depth + 1), encode(v, notes, f"{path}[{k!r}]", budget, depth + 1)]
                         for k, v in dict.items(x)]]
    try:
        value, was = _base_value(x)
    except Exception:  # a number-like object that will not convert (Decimal('sNaN'), say)
        value, was = None, None
    if was is not None:
        notes.append([path, was, type(value).__name__])
        return encode(value, notes, path, budget, depth)
    return ["?", "a " + f"{t.__module__}.{t.__qualname__}".removeprefix("builtins.").removeprefix("__main__.")]


def capture(namespace, names, limit=65536) -> str:
    """The named answers of ``namespace`` (the notebook's globals) as JSON text: {name: tagged value}."""
    out, notes, budget = {}, [], _Budget(limit)
    for name in names:
        if name not in namespace:
            out[name] = ["missing"]
            continue
        try:
            out[name] = encode(namespace[name], notes, name, budget)
        except OverflowError:
            out[name] = ["?", "too large"]
            budget = _Budget(limit)  # one oversized answer does not cost the others theirs
        except RecursionError:
            out[name] = ["?", "nested too deep"]
    return json.dumps({"values": out, "notes": notes})
