"""The referee stands alone: the checker reads the model and the solution types, and
neither of them (nor anything they import) depends on the checker or on an engine."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _routing_imports(module: str) -> set[str]:
    """Every ``routing.*`` module imported anywhere in ``module``'s source: at the top,
    inside functions and under ``TYPE_CHECKING``."""
    path = ROOT / (module.replace(".", "/") + ".py")
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("routing."))
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "routing":
                out.update(f"routing.{a.name}" for a in node.names)
            elif node.module.startswith("routing."):
                out.add(node.module)
    return out


def _closure(module: str) -> set[str]:
    """``module`` and every routing module it reaches through imports."""
    seen: set[str] = set()
    todo = [module]
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        seen.add(m)
        todo.extend(_routing_imports(m) - seen)
    return seen


@pytest.mark.parametrize("module", ["routing.model", "routing.solution"])
def test_model_and_solution_never_reach_the_checker(module: str) -> None:
    assert "routing.check" not in _closure(module)


def test_checker_reads_only_the_model_and_the_solution_types() -> None:
    # No scheduling, construction or engine code: the referee shares nothing with the
    # solvers it judges but the problem and the solution types.
    assert _closure("routing.check") <= {
        "routing.check", "routing.model", "routing.solution", "routing.errors"}


def test_the_kinds_keep_their_old_import_path() -> None:
    # dispatch, api and the literature readers import them from routing.solution.
    from routing import model, solution

    assert solution.StopKind is model.StopKind
    assert solution.ItemKind is model.ItemKind
