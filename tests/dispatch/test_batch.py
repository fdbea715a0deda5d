"""Batches of coverage studies on Dask: a LocalCluster and a scheduler started here, with
a small real OSM extract (Kyoto station, buildings as the population proxy) and a broken
input, against the single-process path."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from dispatch.batch import BatchError, read_batch, region_files, run_batch
from tests.services import free_port

ROOT = Path(__file__).resolve().parents[2]
KYOTO = ROOT / "tests" / "data" / "osm" / "kyoto_station_2017.osm.bz2"
#: Columns that say where and how fast a task ran, not what it computed.
RUN_COLUMNS = {"seconds", "worker", "traceback", "sim_wall_s", "plan_wall_s"}


def _batch(tmp: Path, fleet: str = "[0, 1]") -> Path:
    (tmp / "broken.osm").write_text("this is not OSM", encoding="utf-8")
    f = tmp / "regions.toml"
    f.write_text(f"""
[[region]]
name = "kyoto-station"
osm = "{KYOTO}"

[[region]]
name = "broken"
osm = "broken.osm"

[scenarios]
fleet = {fleet}
drones = [0]
seeds = [0, 1]

[options]
stop_m = 400
""", encoding="utf-8")
    return f


def _results(rows: list[dict]) -> dict[str, dict]:  # type: ignore[type-arg]
    return {r["key"]: {k: v for k, v in r.items() if k not in RUN_COLUMNS} for r in rows}


def test_the_batch_file_is_read_and_bad_fields_named(tmp_path: Path) -> None:
    batch = read_batch(_batch(tmp_path))
    assert [r.name for r in batch.regions] == ["kyoto-station", "broken"]
    assert batch.regions[1].osm == str(tmp_path / "broken.osm")  # relative to the file
    assert batch.thresholds.stop_m == 400
    # A URL is kept as given; a file:// URL is read in place (others are copied once).
    url = tmp_path / "url.toml"
    url.write_text(f"[[region]]\nname = 'k'\nosm = 'file://{KYOTO}'\n", encoding="utf-8")
    (region,) = read_batch(url).regions
    assert region.osm == f"file://{KYOTO}"
    assert region_files(region).osm == KYOTO
    nofly = tmp_path / "nofly.toml"
    nofly.write_text(f"[[region]]\nname = 'k'\nosm = '{KYOTO}'\nno_fly = ['did.geojson']\n",
                     encoding="utf-8")
    (region,) = read_batch(nofly).regions
    assert region_files(region).no_fly == (tmp_path / "did.geojson",)
    tasks = batch.tasks()
    assert len(tasks) == 2 * (1 + 2 * 2) and len({t.key() for t in tasks}) == len(tasks)
    bad = tmp_path / "bad.toml"
    for text, message in (
        ("[[region]]\nosm = 'x.osm'\n", "region[0].name: must be a non-empty string"),
        ("[[region]]\nname = 'a'\nosmm = 'x'\n", "region[0]: unknown field(s) osmm"),
        ("[[region]]\nname = 'a'\n[scenarios]\nfleet = [-1]\n", "scenarios.fleet"),
        ("[[region]]\nname = 'a'\n[options]\nstop_mm = 3\n", "options: unknown field(s) stop_mm"),
        ("[[region]]\nname = 'a'\n[options]\nstop_m = -3\n", "options: stop_m: must be"),
        ("[[region]]\nname = 'a'\n[[region]]\nname = 'a'\n", "appear twice"),
        ("[[region]]\nname = 'a'\ngtfs = ['b.zip']\n", "need osm"),
        ("[[region]]\nname = 'a'\nno_fly = ['did.geojson']\n", "need osm"),
        ("nope = [", "not a TOML file"),
    ):
        bad.write_text(text, encoding="utf-8")
        with pytest.raises(BatchError, match=message.replace("[", r"\[").replace("(", r"\(")
                           .replace(")", r"\)")):
            read_batch(bad)


def test_a_local_cluster_gives_one_result_one_error_and_a_rerun_skips(tmp_path: Path) -> None:
    batch = read_batch(_batch(tmp_path))
    out = tmp_path / "out"
    said: list[str] = []
    run = run_batch(batch, out, workers=2, progress=said.append)
    assert run.where.startswith("LocalCluster") and run.ran == len(run.rows) == 10
    good = [r for r in run.rows if r["region"] == "kyoto-station"]
    bad = [r for r in run.rows if r["region"] == "broken"]
    assert all(r["status"] == "ok" for r in good), [r.get("error") for r in good]
    assert {r["error"] for r in bad} == {
        f"MapDataError: {tmp_path / 'broken.osm'}: not a readable OSM XML file "
        "(ParseError: syntax error: line 1, column 0)"}
    access = next(r for r in good if r["kind"] == "access")
    assert access["population_total"] > 0 and (out / access["map"]).exists()
    served = {(r["fleet"], r["seed"]): r["served"] for r in good if r["kind"] == "scenario"}
    assert served[(0, 0)] == 0 and served[(1, 0)] > 0
    # Tasks ran on two worker processes, none in this one.
    assert len({r["worker"] for r in run.rows}) == 2
    assert f"{os.uname().nodename}:{os.getpid()}" not in {r["worker"] for r in run.rows}
    assert any("[10/10]" in line for line in said)
    # A re-run skips the finished tasks and tries the failed ones again.
    again = run_batch(batch, out, local=True)
    assert (again.skipped, again.ran, again.failed) == (5, 5, 5)
    assert _results(again.rows) == _results(run.rows)
    # The same task function in this process gives the same results.
    local = run_batch(batch, tmp_path / "local", local=True)
    assert local.where == "local" and _results(local.rows) == _results(run.rows)


def test_the_command_runs_against_a_scheduler_started_here(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    dask = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
    scheduler = subprocess.Popen([*dask, "--host", "127.0.0.1", "--port", str(port),
                                  "--no-dashboard"], env=env, cwd=ROOT,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    worker = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker",
                               f"tcp://127.0.0.1:{port}", "--nworkers", "1", "--nthreads",
                               "1", "--no-dashboard"], env=env, cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        from distributed import Client

        deadline = time.monotonic() + 60
        while True:
            try:
                with Client(f"tcp://127.0.0.1:{port}", timeout="5s") as c:
                    c.wait_for_workers(1, timeout=30)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        from typer.testing import CliRunner

        from api.cli import app

        out = tmp_path / "out"
        res = CliRunner().invoke(app, ["coverage-batch", str(_batch(tmp_path, "[1]")),
                                       "--out", str(out), "--scheduler",
                                       f"tcp://127.0.0.1:{port}"])
        assert res.exit_code == 1, res.output  # the broken region failed
        assert "failed: broken: MapDataError" in res.stderr
        assert f"running on scheduler tcp://127.0.0.1:{port}" in res.stderr
        table = pd.read_parquet(out / "results.parquet")
        assert len(table) == len(pd.read_csv(out / "results.csv")) == 6
        ok = table[table["region"] == "kyoto-station"]
        assert (ok["status"] == "ok").all() and ok["worker"].nunique() == 1
        summary = (out / "summary.md").read_text(encoding="utf-8")
        assert "## kyoto-station" in summary and "## Failed" in summary
        assert "![kyoto-station](regions/kyoto-station/coverage.png)" in summary
    finally:
        for p in (worker, scheduler):
            p.terminate()
        for p in (worker, scheduler):
            p.wait(timeout=30)


def test_bad_flags_and_files_get_one_line(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from api.cli import app

    f = _batch(tmp_path)
    for args, message in ((["--workers", "0"], "--workers: must be at least 1"),
                          (["--local", "--scheduler", "tcp://x:1"], "choose one"),
                          (["--scheduler", "x:1"], "is not a scheduler address")):
        res = CliRunner().invoke(app, ["coverage-batch", str(f), *args])
        assert res.exit_code == 2 and message in res.stderr, res.output
    res = CliRunner().invoke(app, ["coverage-batch", str(tmp_path / "none.toml")])
    assert res.exit_code == 2 and "file not found" in res.stderr
    port = free_port()
    res = CliRunner().invoke(app, ["coverage-batch", str(f), "--out", str(tmp_path / "o"),
                                   "--scheduler", f"tcp://127.0.0.1:{port}"])
    assert res.exit_code == 2 and f"--scheduler tcp://127.0.0.1:{port}" in res.stderr
