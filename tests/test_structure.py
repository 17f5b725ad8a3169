"""The package's seams: imports run one way, no sibling imported inside a function without a reason,
modules stay small and say their concern, and no unmarked test needs the model pack."""

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "ossllm_helpers"

# The modules this structure covers (the Hub, the catalog, the pack and what sits beside them).
OWNED = sorted(
    [PKG / f"{name}.py" for name in ("catalog", "catalog_check", "cli", "constants", "doctor", "errors", "memory",
                                     "models", "pack", "schemas")]
    + list((PKG / "hub").glob("*.py")) + list((PKG / "gguf").glob("*.py"))
)
# What each layer may import of ours: the Hub knows nothing of the course; the catalog nothing of Hub or pack.
FORBIDDEN = {
    "hub": {"catalog", "pack", "models", "gguf", "chat", "lab", "cli", "doctor"},
    "catalog": {"hub", "pack", "models", "gguf", "chat", "lab", "cli", "doctor"},
    "pack": {"models", "gguf", "chat", "lab", "cli", "doctor"},
    "gguf": {"hub", "catalog", "pack", "models", "chat", "lab", "cli"},
}
_PACKAGE_MODULES = {p.stem for p in PKG.glob("*.py")} | {p.name for p in PKG.iterdir() if (p / "__init__.py").is_file()}


def _ours(node, module: Path) -> list[str]:
    """The package's own modules an import statement names ("hub", "catalog", ...)."""
    depth = len(module.relative_to(PKG).parts) - 1  # 0 for ossllm_helpers/x.py, 1 for ossllm_helpers/hub/x.py
    if isinstance(node, ast.ImportFrom):
        if node.level == 0:
            parts = (node.module or "").split(".")
            return [parts[1]] if parts[0] == "ossllm_helpers" and len(parts) > 1 else []
        if node.level == depth + 1:  # relative to the package root
            if node.module:
                return [node.module.split(".")[0]]
            return [a.name for a in node.names]
        if node.level <= depth:  # inside the same subpackage
            return [module.relative_to(PKG).parts[0]]
    if isinstance(node, ast.Import):
        return [a.name.split(".")[1] for a in node.names if a.name.startswith("ossllm_helpers.")]
    return []


def _layer(module: Path) -> str:
    return module.relative_to(PKG).parts[0].removesuffix(".py")


@pytest.mark.parametrize("module", OWNED, ids=lambda p: str(p.relative_to(PKG)))
def test_imports_run_one_way(module):
    tree = ast.parse(module.read_text())
    layer = _layer(module)
    for node in ast.walk(tree):
        for name in _ours(node, module):
            assert name not in FORBIDDEN.get(layer, set()), f"{module.name} ({layer}) imports {name}"


@pytest.mark.parametrize("module", OWNED, ids=lambda p: str(p.relative_to(PKG)))
def test_no_sibling_imported_inside_a_function(module):
    tree = ast.parse(module.read_text())
    for func in ast.walk(tree):
        if isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(func):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    inside = [n for n in _ours(node, module) if n in _PACKAGE_MODULES]
                    assert not inside, f"{module.name}:{node.lineno} imports {inside} inside {func.name}()"


@pytest.mark.parametrize("module", OWNED, ids=lambda p: str(p.relative_to(PKG)))
def test_modules_are_small_and_say_their_concern(module):
    text = module.read_text()
    assert len(text.splitlines()) <= 400, f"{module.name}: {len(text.splitlines())} lines"
    doc = ast.get_docstring(ast.parse(text))
    assert doc and doc.split("\n")[0].rstrip().endswith("."), f"{module.name} opens without a one-sentence concern"


def test_the_layers_do_not_import_each_other_back_and_forth():
    """hub -> (nothing of the course); catalog -> (nothing); pack -> catalog, hub; models -> all three."""
    graph = {}
    for module in OWNED:
        layer = _layer(module)
        names = {n for node in ast.walk(ast.parse(module.read_text())) for n in _ours(node, module)}
        graph.setdefault(layer, set()).update(names - {layer})
    for a, targets in graph.items():
        for b in targets:
            assert a not in graph.get(b, set()), f"{a} and {b} import each other"


def test_nothing_unmarked_needs_the_model_pack(request):
    """Every collected test that uses an offline-model fixture carries the `model` marker (or a slower tier)."""
    tiers = {line.split(":", 1)[0].strip() for line in request.config.getini("markers")}
    pack_fixtures = {"model_dir", "smollm2_gguf", "gemma_gguf", "pack_cache"}
    unmarked = [
        item.nodeid for item in request.session.items
        if pack_fixtures & set(getattr(item, "fixturenames", ()))
        and not {m.name for m in item.iter_markers()} & tiers
    ]
    assert unmarked == []
