"""``hakobu region info`` through typer's test runner."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from api.commands.region import register
from maps.region import Region


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.callback()
    def _root() -> None:
        """Test root."""

    return app


def test_region_info_json(kumamoto: Region, region_cache: Path) -> None:
    # the session fixture filled region_cache, so this is a warm load
    result = CliRunner().invoke(
        _app(), ["region", "info", "--json", "--cache-dir", str(region_cache)]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert data["nodes"] == kumamoto.road.n_nodes
    assert data["stops"] == len(kumamoto.stops) and data["hospitals"] == 90
    assert data["population"] == int(kumamoto.population["total"].sum())


def test_region_info_text(kumamoto: Region, region_cache: Path) -> None:
    result = CliRunner().invoke(_app(), ["region", "info", "--cache-dir", str(region_cache)])
    assert result.exit_code == 0
    assert f"{kumamoto.road.n_nodes:,} nodes" in result.stdout


def test_region_info_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.osm"
    bad.write_text("not xml")
    result = CliRunner().invoke(_app(), ["region", "info", "--osm", str(bad)])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "--osm" in lines[0] and "bad.osm" in lines[0], result.stderr
    assert "Traceback" not in result.output
