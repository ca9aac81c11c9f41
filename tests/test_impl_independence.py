"""impl never imports model: the oracle must stay independent of the code it judges."""

from __future__ import annotations

import ast
from pathlib import Path

IMPL = Path(__file__).resolve().parent.parent / "impl"


def _imported_modules(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


def test_impl_sources_exist() -> None:
    assert len(list(IMPL.glob("*.py"))) >= 10


def test_impl_never_imports_model() -> None:
    offenders = []
    for path in sorted(IMPL.rglob("*.py")):
        text = path.read_text()
        mods = _imported_modules(path)
        if any(m == "model" or m.startswith("model.") for m in mods):
            offenders.append(path.name)
        if "import model" in text or "from model" in text:
            offenders.append(path.name)
        if "importlib" in text and "model" in text:
            offenders.append(path.name)
    assert offenders == []


def test_impl_imports_only_stdlib_pyarrow_numpy_and_itself() -> None:
    import sys

    allowed = {"pyarrow", "numpy", "impl"}
    for path in sorted(IMPL.rglob("*.py")):
        for mod in _imported_modules(path):
            top = mod.split(".")[0]
            assert top in allowed or top in sys.stdlib_module_names or top == "__future__", (
                f"{path.name} imports {mod}"
            )
