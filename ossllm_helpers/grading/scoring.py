"""In the trusted grader: answers read back as plain data, hidden tests run on them, cell outputs made safe.

``decode`` accepts only well-formed tagged JSON and builds values of exact built-in
types, so nothing a student's process sends can carry code or a custom ``__eq__``. The
hidden lines of a data test then run here, on those values, with the real builtins: a
student who overrode ``abs`` or patched ``str`` inside the kernel changed nothing here.
Student outputs keep plain text and images only (no HTML or script reaches formgrader
or a feedback page), nbgrader's markers in them are escaped, and in a test cell a
student's own ``execute_result`` can never pose as a partial grade.
"""

import ast
import builtins
import contextlib
import io
import json
import re

from ..selfcheck import classify

__all__ = [
    "MISSING", "NotPlain", "decode", "evaluate", "escape_markers", "clean_outputs", "error_output", "apply_run",
    "answer_problems",
]

MISSING = object()  # the name was not defined when the test ran
_MARKER = re.compile(r"(BEGIN|END)([ \t]+)(HIDDEN[ \t]+TESTS|SOLUTION)", re.I)
_INT = re.compile(r"-?[0-9]{1,4300}")
_FLOAT = re.compile(r"-?(inf|nan|[0-9]+\.?[0-9]*(e[-+]?[0-9]+)?|\.[0-9]+(e[-+]?[0-9]+)?)", re.I)
_SPACES = re.compile(r"[ \t]+")
_KEEP_MIME = ("text/plain", "image/png", "image/jpeg")
MAX_CAPTURE = 1 << 20


class NotPlain:
    """An answer that is no plain value (a function, an object of the student's class, ...)."""

    def __init__(self, what: str):
        self.what = what

    def __repr__(self):
        return f"<not a plain value: {self.what}>"


class _Bad(ValueError):
    pass


def _whole(parts) -> None:
    """A container is plain only if all its parts are: else it takes the first part's description."""
    for v in parts:
        if v is MISSING or isinstance(v, NotPlain):
            raise _Bad(v.what if isinstance(v, NotPlain) else "a part that is not a plain value")


def _decode(item, depth=0):
    if depth > 40 or not isinstance(item, list) or not item or not isinstance(item[0], str):
        raise _Bad("malformed")
    tag, rest = item[0], item[1:]
    if tag == "none" and not rest:
        return None
    if tag == "missing" and not rest:
        return MISSING
    if tag == "bool" and len(rest) == 1 and type(rest[0]) is bool:
        return rest[0]
    if tag == "int" and len(rest) == 1 and type(rest[0]) is str and _INT.fullmatch(rest[0]):
        return int(rest[0])
    if tag == "float" and len(rest) == 1 and type(rest[0]) is str and _FLOAT.fullmatch(rest[0]):
        return float(rest[0])
    if tag == "complex" and len(rest) == 2 and all(type(r) is str and _FLOAT.fullmatch(r) for r in rest):
        return complex(float(rest[0]), float(rest[1]))
    if tag == "str" and len(rest) == 1 and type(rest[0]) is str:
        return rest[0]
    if tag == "bytes" and len(rest) == 1 and type(rest[0]) is str:
        return bytes.fromhex(rest[0])
    if tag in ("list", "tuple", "set", "frozenset") and len(rest) == 1 and type(rest[0]) is list:
        items = [_decode(v, depth + 1) for v in rest[0]]
        _whole(items)
        return {"list": list, "tuple": tuple, "set": set, "frozenset": frozenset}[tag](items)
    if tag == "dict" and len(rest) == 1 and type(rest[0]) is list:
        pairs = [(_decode(p[0], depth + 1), _decode(p[1], depth + 1)) for p in rest[0]
                 if type(p) is list and len(p) == 2]
        if len(pairs) != len(rest[0]):
            raise _Bad("malformed")
        _whole([v for kv in pairs for v in kv])
        return dict(pairs)
    if tag == "?" and len(rest) == 1 and type(rest[0]) is str:
        return NotPlain(rest[0][:100])
    raise _Bad(f"unknown tag {tag[:20]!r}")


def decode(text, names) -> tuple[dict, list]:
    """({name: value, MISSING or NotPlain}, notes) from the kernel's capture; unreadable parts are NotPlain."""
    values = {n: NotPlain("missing from what the kernel sent back") for n in names}
    notes = []
    if type(text) is not str or len(text) > MAX_CAPTURE:
        return values, notes
    try:
        data = json.loads(ast.literal_eval(text))  # the kernel shows the JSON text as a Python string literal
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return values, notes
    if type(data) is not dict or type(data.get("values")) is not dict:
        return values, notes
    for name in names:
        try:
            values[name] = _decode(data["values"].get(name))
        except _Bad as exc:
            values[name] = NotPlain(str(exc) if str(exc) != "malformed" else "an answer that could not be read")
        except (ValueError, TypeError, OverflowError, RecursionError):
            values[name] = NotPlain("an answer that could not be read")
    for note in data.get("notes") if type(data.get("notes")) is list else []:
        if type(note) is list and len(note) == 3 and all(type(x) is str for x in note):
            notes.append(tuple(x[:100] for x in note))
    return values, notes[:50]


def escape_markers(text: str) -> str:
    """nbgrader's region markers in student output, defused: BEGIN HIDDEN TESTS becomes BEGIN_HIDDEN_TESTS."""
    return _MARKER.sub(lambda m: m[1] + "_" + _SPACES.sub("_", m[3]), text)


def error_output(ename: str, evalue: str) -> dict:
    return {"output_type": "error", "ename": ename, "evalue": evalue, "traceback": [f"{ename}: {evalue}"]}


def evaluate(hidden: str, values: dict, execution_count=None) -> list:
    """Run a data test's hidden lines on the answers; the outputs its cell gets (none when it passes)."""
    unusable = {n: v for n, v in values.items() if isinstance(v, NotPlain)}
    if unusable:
        name, v = sorted(unusable.items())[0]
        return [error_output("TypeError", f"{name} is {v.what}, not a plain value (str, int, float, list, dict, ...), "
                                          "so it cannot be graded")]
    ns = {"__builtins__": builtins, "__name__": "__main__"}
    ns.update({n: v for n, v in values.items() if v is not MISSING})
    tree = ast.parse(hidden)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    out, err = io.StringIO(), io.StringIO()
    outputs, result = [], None
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            exec(compile(tree, "<hidden tests>", "exec"), ns)
            if last is not None:
                result = eval(compile(ast.Expression(last.value), "<hidden tests>", "eval"), ns)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001  (a failing hidden test is the expected case)
        outputs.append(error_output(type(exc).__name__, str(exc)[:1000]))
    for name, buf in (("stdout", out), ("stderr", err)):
        if buf.getvalue():
            outputs.insert(0, {"output_type": "stream", "name": name, "text": buf.getvalue()[:10000]})
    if result is not None and not any(o["output_type"] == "error" for o in outputs):
        outputs.append({"output_type": "execute_result", "execution_count": execution_count, "metadata": {},
                        "data": {"text/plain": repr(result)[:1000]}})
    return outputs


def _text(value, limit=100_000) -> str:
    if isinstance(value, list):
        value = "".join(str(v) for v in value)
    return escape_markers(str(value)[:limit])


def clean_outputs(outputs: list, *, test_cell: bool) -> list:
    """Outputs a student's code produced, reduced to what is safe to store, show and grade."""
    clean = []
    for o in outputs:
        kind = o.get("output_type")
        if kind == "stream" and o.get("name") in ("stdout", "stderr"):
            clean.append({"output_type": "stream", "name": o["name"], "text": _text(o.get("text", ""))})
        elif kind == "error":
            tb = o.get("traceback") if isinstance(o.get("traceback"), list) else []
            clean.append({"output_type": "error", "ename": _text(o.get("ename", ""), 200),
                          "evalue": _text(o.get("evalue", ""), 2000), "traceback": [_text(t, 2000) for t in tb[:200]]})
        elif kind in ("execute_result", "display_data"):
            data = o.get("data") if isinstance(o.get("data"), dict) else {}
            data = {k: _text(v) if k == "text/plain" else str(v) for k, v in data.items() if k in _KEEP_MIME}
            if not data:
                continue
            if kind == "execute_result" and not test_cell:
                clean.append({"output_type": kind, "execution_count": o.get("execution_count"), "metadata": {},
                              "data": data})
            else:  # in a test cell only the grader's own result may count as a partial grade
                clean.append({"output_type": "display_data", "metadata": {}, "data": data})
    return clean


def apply_run(cells: list, plan, result) -> tuple[dict, list]:
    """Give every planned cell its outputs; returns ({answer: value}, problems as (kind, detail))."""
    answers, problems = {}, []
    for step in plan.steps:
        cell = cells[step.index]
        run = result.cells.get(step.index)
        test = step.kind != "code"
        if run is None:
            reason = result.stopped or "the kernel stopped before this cell"
            cell["outputs"] = [error_output("CellNotRun", reason)] if test else []
            cell["execution_count"] = None
            continue
        outputs = clean_outputs(run.outputs, test_cell=test)
        if step.kind == "data_test" and run.status == "ok":
            values, notes = decode(run.captures.get(step.index), step.names)
            for path, was, became in notes:
                problems.append(("converted answer", f"{path} was a {was}; graded as the {became} it holds "
                                                     f"(write a plain {became} next time)"))
            for name, value in values.items():
                if isinstance(value, NotPlain):
                    problems.append(("not a plain value", f"{name} is {value.what}; the question scored 0"))
                answers.setdefault(name, value)
            outputs += evaluate(step.hidden, values, run.execution_count)
        cell["outputs"] = outputs
        cell["execution_count"] = run.execution_count
    return answers, problems


def answer_problems(answers: dict, kinds: dict) -> list:
    """Malformed and missing answers, with the self-check's rules; a blank submission as one line."""
    problems, blank = [], 0
    for name, kind in sorted(kinds.items()):
        value = answers.get(name, MISSING)
        if value is MISSING or value is None:
            blank += 1
            continue
        if kind and not isinstance(value, NotPlain):
            verdict = classify(value, kind)
            if verdict and verdict != "unanswered":
                problems.append(("malformed answer", f"{name}: {verdict.removeprefix('malformed: ')}"))
    if kinds and blank == len(kinds):
        problems.append(("blank submission", "no question answered"))
    return problems
