"""What runs where: a notebook's code cells as a plan, each hidden test graded outside the student's kernel when it can be.

A hidden test that reads only answers (names the source notebook's solution regions assign,
such as ``q01 = "C"``) is a *data test*: the kernel runs the test cell's visible part, the
answers it names leave the kernel as plain data, and the hidden lines run in the trusted
grader. The hidden lines never enter the student's process. A hidden test that calls the
student's code (a lesson exercise's function) is a *code test*: it has to run where that code
lives, in the sandboxed kernel.

``predict`` foresees what nbgrader's sanitising will make of a submission, so kernels can
run before nbgrader has loaded; the plan's fingerprint tells whether the guess was right.
"""

import ast
import builtins
import hashlib
import json
import re
from dataclasses import dataclass, field, replace

from ..selfcheck import LETTERS

__all__ = [
    "HIDDEN", "CAPTURE", "split_hidden", "strip_hidden_tests", "free_names", "SourceInfo", "analyse_source", "Step",
    "Plan", "predict", "build_plan",
]

HIDDEN = re.compile(r"^[ \t]*#+[ \t]*BEGIN HIDDEN TESTS[^\n]*\n(.*?)^[ \t]*#+[ \t]*END HIDDEN TESTS[^\n]*(?:\n|$)",
                    re.S | re.M)
_TOP_MARKER = re.compile(r"^#+[ \t]*(BEGIN|END) HIDDEN TESTS", re.M)
_SOLUTION = re.compile(r"^[ \t]*#+[ \t]*BEGIN SOLUTION[^\n]*\n(.*?)^[ \t]*#+[ \t]*END SOLUTION", re.S | re.M)
CAPTURE = "_ossllm_capture_"  # the function the sandbox's kernel defines before any student code runs
_BUILTINS = frozenset(dir(builtins))
# nbgrader's OverwriteCells puts a deleted grade cell back with this note first (its default text)
_MISSING_NOTE = "This cell (id:{cell_id}) was missing from the submission. It was added back by nbgrader.\n\n"


def strip_hidden_tests(source: str) -> str:
    """A test cell's source as students see it: the hidden-test regions removed."""
    return HIDDEN.sub("", source).rstrip("\n")


def split_hidden(source: str) -> tuple[str, str, bool]:
    """(visible part, hidden code, whether the hidden code can run after the visible part on its own).

    It can when every region is at the top level and nothing but comments follows the last one:
    then running the visible part, then the hidden lines, is what running the cell does.
    """
    regions = list(HIDDEN.finditer(source))
    hidden = "\n".join(m.group(1).rstrip("\n") for m in regions)
    visible = strip_hidden_tests(source)
    tail = source[regions[-1].end():] if regions else ""
    separable = bool(regions) and len(_TOP_MARKER.findall(source)) == 2 * len(regions) and not any(
        line.strip() and not line.strip().startswith("#") for line in tail.splitlines())
    if separable and len(regions) > 1:  # visible code between two regions would run out of order
        between = source[regions[0].end():regions[-1].start()]
        separable = not any(ln.strip() and not ln.strip().startswith("#") for ln in HIDDEN.sub("", between).splitlines())
    if separable:
        try:
            ast.parse(visible + "\npass")
            ast.parse(hidden)
        except SyntaxError:
            separable = False
    return visible, hidden, separable


def free_names(code: str) -> set[str]:
    """Names ``code`` reads but never binds (builtins excepted): what it needs from the notebook."""
    tree = ast.parse(code)
    bound, loaded = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (loaded if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.alias):
            bound.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return loaded - bound - _BUILTINS


def _meta(cell) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def _is_test(meta) -> bool:
    return bool(meta.get("grade")) and not meta.get("solution")


@dataclass
class SourceInfo:
    """What grading needs to know of the source notebook: its answers and how each hidden test runs."""

    answers: dict = field(default_factory=dict)  # answer name: "letter", "number" or None (no form to check)
    tests: dict = field(default_factory=dict)  # test grade_id: "data" or "code"
    points: dict = field(default_factory=dict)  # grade_id: points, from the nbgrader metadata
    cells: list = field(default_factory=list)  # the source's nbgrader cells, in order: (grade_id, cell)


def _constant(node):
    """The value of a constant expression (a literal, or arithmetic on literals), else raise ValueError."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _constant(node.operand)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow)):
        a, b = _constant(node.left), _constant(node.right)
        ops = {ast.Add: lambda: a + b, ast.Sub: lambda: a - b, ast.Mult: lambda: a * b, ast.Div: lambda: a / b,
               ast.Pow: lambda: a ** b}
        return ops[type(node.op)]()
    raise ValueError("not a constant")


def _solution_assignments(source: str) -> dict:
    """{name: value node} for the top-level ``name = ...`` lines inside the cell's solution regions."""
    lines = set()
    for m in _SOLUTION.finditer(source):
        first = source.count("\n", 0, m.start(1)) + 1
        lines.update(range(first, first + m.group(1).count("\n") + 1))
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {}
    found = {}
    for node in tree.body:
        if node.lineno in lines and isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                if isinstance(t, ast.Name):
                    found[t.id] = node.value
    return found


def analyse_source(source_nb: dict) -> SourceInfo:
    """Answers, hidden-test kinds and points of a source notebook (plain JSON)."""
    info, defined = SourceInfo(), set()
    for cell in source_nb["cells"]:
        meta = _meta(cell)
        if meta.get("grade_id"):
            info.cells.append((meta["grade_id"], cell))
            if meta.get("grade"):
                info.points[meta["grade_id"]] = float(meta.get("points", 0) or 0)
        if cell["cell_type"] != "code":
            continue
        try:
            tree = ast.parse(cell["source"])
        except SyntaxError:
            continue
        for node in ast.walk(tree):  # a name a def, class or import binds is code, never an answer
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                defined.add(node.name)
            elif isinstance(node, ast.alias):
                defined.add((node.asname or node.name).split(".")[0])
        if meta.get("solution"):
            for name, value in _solution_assignments(cell["source"]).items():
                try:
                    v = _constant(value)
                except (ValueError, ArithmeticError, TypeError):
                    v = None
                kind = ("letter" if isinstance(v, str) and v.strip().upper() in LETTERS else
                        "number" if isinstance(v, (int, float)) and not isinstance(v, bool) else None)
                info.answers[name] = kind
    for name in defined:
        info.answers.pop(name, None)
    for gid, cell in info.cells:
        meta = _meta(cell)
        if cell["cell_type"] != "code" or not _is_test(meta) or not HIDDEN.search(cell["source"]):
            continue
        _, hidden, separable = split_hidden(cell["source"])
        data = separable and free_names(hidden) <= set(info.answers)
        info.tests[gid] = "data" if data else "code"
    return info


@dataclass(frozen=True)
class Step:
    """One code cell to run: ``code`` goes to the kernel; a data test's ``hidden`` lines never do.

    A data test whose visible part does nothing (a docstring) is not sent at all: its answers are
    captured right after the cell before it, which is the state the test would have seen, and the
    kernel runs one cell fewer. ``captures`` lists what to capture after this step: (test's cell
    index, names).
    """

    index: int
    grade_id: str | None
    kind: str  # "code", "data_test" or "code_test"
    code: str
    names: tuple = ()  # the answers a data test reads, captured after its visible part
    hidden: str = ""
    captures: tuple = ()


@dataclass
class Plan:
    notebook: str
    steps: list
    extra: str = ""  # what else decides the run's outcome: the staged files, the limits

    @property
    def fingerprint(self) -> str:
        body = json.dumps([[s.index, s.grade_id, s.kind, s.code, list(s.names), s.hidden, [list(c) for c in s.captures]]
                           for s in self.steps])
        return hashlib.sha256((body + "\0" + self.extra).encode()).hexdigest()


def _inert(code: str) -> bool:
    """True for code that does nothing when run: docstrings, constants, ``pass``, comments."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return False
    return all(isinstance(n, ast.Pass) or (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))
               for n in tree.body)


def build_plan(notebook: str, cells: list, info: SourceInfo, extra: str = "") -> Plan:
    """The steps for a sanitised notebook's cells (plain JSON cells or nbformat nodes)."""
    steps = []
    for i, cell in enumerate(cells):
        if cell["cell_type"] != "code":
            continue
        source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        gid = _meta(cell).get("grade_id")
        kind = info.tests.get(gid)
        if kind == "data" and HIDDEN.search(source):
            visible, hidden, separable = split_hidden(source)
            if separable:
                names = tuple(sorted(free_names(hidden)))
                ran = [j for j, s in enumerate(steps) if s.code]
                if _inert(visible) and ran:  # captured after the last cell that runs: nothing to run here
                    steps[ran[-1]] = replace(steps[ran[-1]], captures=steps[ran[-1]].captures + ((i, names),))
                    steps.append(Step(i, gid, "data_test", "", names, hidden))
                    continue
                # `pass` keeps the kernel from showing the visible part's last expression, as the full cell would
                steps.append(Step(i, gid, "data_test", visible + "\npass", names, hidden))
                continue
        if not source.strip():
            continue  # nbclient skips a blank cell
        steps.append(Step(i, gid, "code_test" if kind else "code", source))
    return Plan(notebook, steps, extra)


def predict(submitted: dict, info: SourceInfo, *, restore_missing: bool = True) -> list | None:
    """The cells nbgrader's sanitising (DeduplicateIds, OverwriteCells) will leave, or None if it will fail.

    Only a forecast: the plan built from nbgrader's real result is compared with it by fingerprint.
    """
    source = {gid: cell for gid, cell in info.cells}
    order = [gid for gid, _ in info.cells]
    cells = [{"cell_type": c["cell_type"], "source": c.get("source", ""),
              "metadata": {"nbgrader": dict(_meta(c))} if _meta(c) else {}} for c in submitted["cells"]]
    seen = set()
    for cell in reversed(cells):  # DeduplicateIds: the last copy of a cell keeps its identity
        meta = _meta(cell)
        if meta.get("grade") or meta.get("solution") or meta.get("locked"):
            if meta.get("grade_id") in seen:
                cell["metadata"] = {}
            seen.add(meta.get("grade_id"))
    for cell in cells:  # OverwriteCells: type and locked text come from the source
        meta = _meta(cell)
        gid = meta.get("grade_id")
        if gid is None:
            continue
        if gid not in source:
            del meta["grade_id"]
            continue
        src = source[gid]
        cell["cell_type"] = src["cell_type"]
        if _meta(src).get("locked"):
            cell["source"] = src["source"]
    if restore_missing:
        index = {(_meta(c).get("grade_id")): i for i, c in enumerate(cells)
                 if _meta(c).get("grade") or _meta(c).get("solution")}
        added = 0
        for gid in [g for g in order if _meta(source[g]).get("grade")]:
            if gid in index:
                continue
            src = source[gid]
            text = _MISSING_NOTE.format(cell_id=gid) + src["source"]
            new = {"cell_type": src["cell_type"], "source": "# " + text if src["cell_type"] == "code" else text,
                   "metadata": {"nbgrader": {"grade": True, "grade_id": gid, "solution": bool(_meta(src).get("solution"))}}}
            pos = order.index(gid)
            if pos == 0:
                cells.insert(0, new)
                index[gid] = 0
            else:
                prev = order[pos - 1]
                if prev not in index:
                    return None  # nbgrader fails here (KeyError): its retry without restoring runs live
                cells.insert(index[prev] + added + 1, new)
                index[gid] = index[prev]
            added += 1
    return cells
