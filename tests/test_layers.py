"""The layers import one way (maps -> routing -> dispatch -> api) and engines stay behind
their adapters."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ORDER = ("maps", "routing", "dispatch", "api")
_MIGRATIONS = {str(p.relative_to(ROOT))
               for p in (ROOT / "dispatch" / "migrations" / "versions").glob("*.py")}
ADAPTERS = {
    "osmnx": {"maps/osm.py"},
    "ortools": {"routing/ortools_solver.py"},
    "numba": {"routing/kernels.py"},
    # the durable store and its migrations are the only database code
    "sqlalchemy": {"dispatch/store.py", *_MIGRATIONS},
    "alembic": {"dispatch/store.py", "dispatch/migrations/env.py", *_MIGRATIONS},
    # Dask runs the batches of coverage studies
    "distributed": {"dispatch/batch.py"},
}


def _imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def _sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", ORDER)
def test_packages_import_only_earlier_layers(package: str) -> None:
    later = set(ORDER[ORDER.index(package) + 1 :])
    offenders = {
        str(p.relative_to(ROOT)): sorted(_imported_roots(p) & later) for p in _sources(package)
    }
    assert {k: v for k, v in offenders.items() if v} == {}


@pytest.mark.parametrize("engine", sorted(ADAPTERS))
def test_engines_are_imported_by_their_adapter_only(engine: str) -> None:
    users = {
        str(p.relative_to(ROOT))
        for package in ORDER
        for p in _sources(package)
        if engine in _imported_roots(p)
    }
    assert users == ADAPTERS[engine]
