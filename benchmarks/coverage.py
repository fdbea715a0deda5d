"""Coverage-gap study (交通空白, ``dispatch.coverage``) on the built-in Kumamoto region:
wall time, a population check against the census mesh, and a networkx reference for the
walking distances.

Run: ``python benchmarks/coverage.py [--quick] [--repeats N] [--json PATH]`` (default JSON:
``benchmarks/results/coverage.json``, ``coverage_quick.json`` with ``--quick``).

Measures, in one run:

* **Region load.** ``load_study_region(RegionFiles())``, as ``run_study`` does (the built-in
  region, from the region cache when it holds it: the table says which), and the feeds
  the study reads (the built-in ``*.gtfs.zip``). Timed on its own, not in the study.
* **Access analysis.** ``access_study(region, feeds, Thresholds())`` with the default
  thresholds, wall time of each of ``--repeats`` calls (default 3, ``--quick`` 1); the
  first call of the process and the best are reported. Target: <= 30 s.
* **Population check.** The study's ``summary["population_total"]`` against the census
  mesh population inside the study area (the map's bounding box ``region.bounds``),
  computed here without the study's code: each 500 m cell's ``total`` weighted by the
  share of the cell's area inside the box (shapely intersection of the cell polygon with
  the box, one cell at a time), (i) from ``region.population`` and (ii) straight from the
  census file ``tblT001101H4930.txt`` (mesh codes decoded here; ``*``, suppressed, read
  as 0 as the loader does). Passes when ``|difference| <= 1`` person per cell.
* **Reference Dijkstra.** The study's walking distances come from
  ``nearest_target(walk, length_m, stop nodes, snap offsets)``: one multi-source Dijkstra
  per source set (counted bus stops; counted stations) on the walk graph searched
  backwards, edge weights ``max(length_m, 1e-9)``, each source entered at its snap
  offset. The inputs are captured from inside one (untimed) ``access_study`` call, and
  rebuilt here from the stops (``counted_stops``, nearest walk node, ``<= max_access_m``)
  to check they are the same. networkx gets the same graph (reversed edges, parallel
  edges reduced to the shortest, weights clamped the same way) plus a virtual node joined
  to every source node at its offset, and ``multi_source_dijkstra_path_length`` runs from
  it (networkx has no per-source start offset; the virtual node is how the study enters
  them too). Reported: the largest absolute difference over all nodes (unreachable nodes
  must agree), and the speed ratio networkx / study on the same search (best of
  ``--repeats`` interleaved calls; networkx's graph build reported apart).
  ``--quick``: the bus-stop source set only. pandana would be the usual peer for
  network access; it is not installed here, so it is not measured.
* **Scenario sweep.** ``run_scenarios`` (``hakobu coverage --fleet 0,2,4,8 --drones 0,4``;
  ``--quick``: fleets 0,2 and drones 0,2): one simulated day per fleet size, one drone day
  plan per drone count, wall time and the rows (``--no-scenarios`` skips it,
  ``--did-policy permit`` lets the drones fly over DIDs).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

# Run as ``python benchmarks/coverage.py`` this folder comes first on sys.path, and its
# ``dispatch.py`` would shadow the ``dispatch`` package.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import networkx as nx
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

import dispatch.coverage as cov
from dispatch.coverage import Thresholds, access_study
from dispatch.coverage_study import load_study_region
from maps.files import RegionFiles
from maps.region import DEFAULT_DATA_DIR, MESH_COLUMNS, Region

RESULTS = _HERE / "results"
TARGET_S = 30.0
#: Largest absolute difference in metres accepted between the two Dijkstras (float sums).
DIST_TOL_M = 1e-6
CENSUS_FILE = DEFAULT_DATA_DIR / "tblT001101H4930.txt"
_F64 = npt.NDArray[np.float64]


# ------------------------------------------------------------------------- load + study
def bench_load() -> tuple[Region, list[Path], dict[str, Any]]:
    said: list[str] = []
    t0 = time.perf_counter()
    region, feeds = load_study_region(RegionFiles(), said.append)
    load_s = time.perf_counter() - t0
    built = any("reading roads" in m for m in said)
    return region, feeds, {
        "load_s": round(load_s, 3),
        "from_cache": not built,
        "cache_dir": os.environ.get("HAKOBU_CACHE_DIR") or "~/.cache/hakobu",
        "feeds": [p.name for p in feeds],
        "walk_nodes": int(region.walk.n_nodes), "walk_edges": len(region.walk.tail),
        "road_nodes": int(region.road.n_nodes),
        "bounds": [float(v) for v in region.bounds],
    }


def bench_study(region: Region, feeds: list[Path], repeats: int
                ) -> tuple[cov.CoverageResult, dict[str, Any]]:
    times = []
    result = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = access_study(region, feeds, Thresholds())
        times.append(time.perf_counter() - t0)
    assert result is not None
    s = result.summary
    return result, {
        "runs_s": [round(t, 3) for t in times],
        "first_s": round(times[0], 3), "best_s": round(min(times), 3),
        "target_s": TARGET_S, "target_met": times[0] <= TARGET_S,
        "cells": s["cells_total"], "population_total": s["population_total"],
        "population_in_gap": s["population_in_gap"], "share_in_gap": s["share_in_gap"],
        "stops_counted": s["stops_counted"], "stations_counted": s["stations_counted"],
    }


# ------------------------------------------------------------------------- population
def _decode_mesh(code: str) -> tuple[float, float, float, float]:
    """JIS X 0410 9-digit 500 m mesh code -> (min_lon, min_lat, max_lon, max_lat)."""
    d = [int(c) for c in code]
    lat = (10 * d[0] + d[1]) / 1.5 + d[4] * 5 / 60 + d[6] * 30 / 3600
    lon = 100 + 10 * d[2] + d[3] + d[5] * 7.5 / 60 + d[7] * 45 / 3600
    if d[8] in (3, 4):
        lat += 15 / 3600
    if d[8] in (2, 4):
        lon += 22.5 / 3600
    return lon, lat, lon + 22.5 / 3600, lat + 15 / 3600


def _weighted(totals: npt.ArrayLike, cells: list[shapely.Geometry], box: shapely.Geometry
              ) -> tuple[float, int]:
    """Sum of ``total x (area inside box / cell area)``; and cells partly outside."""
    total, partly = 0.0, 0
    for t, cell in zip(np.asarray(totals, dtype=float), cells, strict=True):
        share = cell.intersection(box).area / cell.area
        total += float(t) * share
        partly += int(0 < share < 0.999)
    return total, partly


def census_check(region: Region, study_total: int) -> dict[str, Any]:
    box = shapely.geometry.box(*(float(v) for v in region.bounds))
    pop = region.population
    from_region, partly = _weighted(pop["total"].to_numpy(), list(pop.geometry), box)
    raw = pd.read_csv(CENSUS_FILE, encoding="cp932", skiprows=[1], dtype=str,
                      keep_default_na=False)
    col = raw[MESH_COLUMNS["total"]].str.strip()
    suppressed = int((col == "*").sum())
    file_totals = pd.to_numeric(col.replace({"*": "0", "": "0"})).to_numpy(dtype=float)
    file_cells = [shapely.geometry.box(*_decode_mesh(c.strip())) for c in raw["KEY_CODE"]]
    from_file, _ = _weighted(file_totals, file_cells, box)
    n_cells = len(pop)
    diff_region = study_total - from_region
    diff_file = study_total - from_file
    return {
        "study_population_total": study_total,
        "census_in_area_from_region": round(from_region, 2),
        "census_in_area_from_file": round(from_file, 2),
        "diff_region": round(diff_region, 3), "diff_file": round(diff_file, 3),
        "cells": n_cells, "cells_in_file": len(raw), "cells_partly_outside": partly,
        "file_total_suppressed_cells": suppressed,
        "census_whole_cells_total": int(pop["total"].sum()),
        "tolerance": n_cells,
        "ok": bool(abs(diff_region) <= n_cells and abs(diff_file) <= n_cells),
        "within_one_rounding": bool(abs(diff_region) <= 0.5 + 1e-6
                                    and abs(diff_file) <= 0.5 + 1e-6),
    }


# ------------------------------------------------------------------------- reference
def capture_study_calls(region: Region, feeds: list[Path]) -> list[dict[str, Any]]:
    """Run ``access_study`` once (untimed) with ``nearest_target`` wrapped: its inputs and
    outputs as the study used them."""
    calls: list[dict[str, Any]] = []
    original = cov.nearest_target

    def recording(graph: Any, weight: Any, target_nodes: Any, target_offset: Any,
                  **kw: Any) -> _F64:
        out = original(graph, weight, target_nodes, target_offset, **kw)
        calls.append({"graph": graph, "weight": np.array(weight),
                      "nodes": np.array(target_nodes), "offset": np.array(target_offset),
                      "kw": kw, "dist": np.array(out)})
        return out

    cov.nearest_target = recording
    try:
        access_study(region, feeds, Thresholds())
    finally:
        cov.nearest_target = original
    return calls


def rebuild_sources(region: Region, feeds: list[Path]
                    ) -> dict[str, tuple[npt.NDArray[np.int64], _F64]]:
    """The counted bus stops / stations on the walk graph and their snap offsets, as the
    module docstring of ``dispatch.coverage`` describes them."""
    th = Thresholds()
    stops = cov.counted_stops(region.stops, cov.stop_modes(feeds), th.min_departures)
    lat0 = float(np.mean(region.bounds[1::2]))
    node, off = cov._nearest_nodes(region.walk, stops[["lon", "lat"]].to_numpy(), lat0)
    use = stops["counts"].to_numpy()
    station = stops["station"].to_numpy()
    on_graph = off <= th.max_access_m
    return {"bus stops": (node[use & ~station & on_graph], off[use & ~station & on_graph]),
            "stations": (node[use & station & on_graph], off[use & station & on_graph])}


def nx_graph(region: Region) -> nx.DiGraph:
    """The walk graph searched backwards (edge head -> tail), weights as the study clamps
    them, parallel edges reduced to the shortest."""
    walk = region.walk
    w = np.maximum(walk.length_m.astype(np.float64), 1e-9)
    g = nx.DiGraph()
    g.add_nodes_from(range(len(walk.lon)))
    for t, h, x in zip(walk.tail.tolist(), walk.head.tolist(), w.tolist(), strict=True):
        old = g.get_edge_data(h, t)
        if old is None or x < old["weight"]:
            g.add_edge(h, t, weight=x)
    return g


def nx_nearest(g: nx.DiGraph, n: int, nodes: npt.NDArray[np.int64], offset: _F64) -> _F64:
    """Every node's metres to its nearest source with networkx (virtual start node ``n``
    joined to each source node at its clamped offset, the smallest if several)."""
    g.add_node(n)
    for v, o in zip(nodes.tolist(), np.maximum(offset, 1e-9).tolist(), strict=True):
        old = g.get_edge_data(n, v)
        if old is None or o < old["weight"]:
            g.add_edge(n, v, weight=o)
    try:
        d = nx.multi_source_dijkstra_path_length(g, {n}, weight="weight")
    finally:
        g.remove_node(n)
    out = np.full(n, np.inf)
    for k, v in d.items():
        if k != n:
            out[k] = v
    return out


def bench_reference(region: Region, feeds: list[Path], sets: list[str], repeats: int
                    ) -> dict[str, Any]:
    calls = capture_study_calls(region, feeds)
    walk = region.walk
    # the study calls nearest_target for bus stops, stations (walk), then hospitals (road)
    walk_calls = [c for c in calls if c["graph"] is walk]
    captured = dict(zip(["bus stops", "stations"], walk_calls, strict=False))
    rebuilt = rebuild_sources(region, feeds)
    n = len(walk.lon)
    length = walk.length_m.astype(np.float64)
    t0 = time.perf_counter()
    g = nx_graph(region)
    build_s = time.perf_counter() - t0
    out: dict[str, Any] = {"nx_graph_build_s": round(build_s, 3),
                           "nx_graph_edges": g.number_of_edges(), "sets": {}}
    for name in sets:
        c = captured[name]
        nodes, off = rebuilt[name]
        same_inputs = (bool(np.array_equal(c["nodes"], nodes))
                       and bool(np.array_equal(c["offset"], off))
                       and bool(np.array_equal(c["weight"], length))
                       and c["kw"].get("towards", True) is True)
        study_t, nx_t = [], []
        ours = nx_d = np.empty(0)
        for _ in range(repeats):  # interleaved, so a load change hits both alike
            t0 = time.perf_counter()
            ours = cov.nearest_target(walk, length, c["nodes"], c["offset"])
            study_t.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            nx_d = nx_nearest(g, n, c["nodes"], c["offset"])
            nx_t.append(time.perf_counter() - t0)
        study_inf, nx_inf = np.isinf(c["dist"]), np.isinf(nx_d)
        fin = ~study_inf & ~nx_inf
        max_diff = float(np.max(np.abs(c["dist"][fin] - nx_d[fin]))) if fin.any() else 0.0
        out["sets"][name] = {
            "sources": len(c["nodes"]), "source_nodes": len(np.unique(c["nodes"])),
            "inputs_match_rebuilt": same_inputs,
            "study_call_repeatable": bool(np.array_equal(ours, c["dist"])),
            "nodes": n, "unreachable_study": int(study_inf.sum()),
            "unreachable_networkx": int(nx_inf.sum()),
            "unreachable_agree": bool(np.array_equal(study_inf, nx_inf)),
            "max_abs_diff_m": max_diff, "tolerance_m": DIST_TOL_M,
            "ok": bool(np.array_equal(study_inf, nx_inf) and max_diff <= DIST_TOL_M),
            "study_s": round(min(study_t), 5), "networkx_s": round(min(nx_t), 5),
            "ratio_networkx_over_study": round(min(nx_t) / min(study_t), 1),
            "ratio_with_nx_build": round((min(nx_t) + build_s) / min(study_t), 1),
        }
    return out


# -------------------------------------------------------------------- scenarios
def bench_scenarios(region: Region, result: Any, fleets: list[int], drones: list[int],
                    policy: str) -> dict[str, Any]:
    """Time the scenario sweep of ``hakobu coverage --fleet ... --drones ...``."""
    from dispatch.coverage_scenarios import ScenarioConfig, run_scenarios

    t = time.perf_counter()
    sr = run_scenarios(region, result, fleets, drones, ScenarioConfig(did_policy=policy))
    return {"fleets": fleets, "drones": drones, "did_policy": policy,
            "wall_s": round(time.perf_counter() - t, 1), "rides_s": sr.info["rides_wall_s"],
            "ride_requests": sr.info["ride_requests"], "parcels": sr.info["parcels"],
            "rows": sr.rows}


# ------------------------------------------------------------------------- main
def rows(res: dict[str, Any]) -> list[tuple[str, str, str]]:
    ld, st, pc, ref = res["load"], res["study"], res["population"], res["reference"]
    out = [
        ("region load (s)", f"{ld['load_s']:.2f}",
         "from the region cache" if ld["from_cache"] else "built (cache cold)"),
        ("access_study wall, first call (s)", f"{st['first_s']:.2f}",
         f"<= {TARGET_S:.0f} s: {'met' if st['target_met'] else 'NOT met'}"),
        (f"access_study wall, best of {len(st['runs_s'])} (s)", f"{st['best_s']:.2f}", ""),
        ("population counted by the study", f"{pc['study_population_total']:,}",
         f"census in bbox {pc['census_in_area_from_region']:,.1f} (region.population)"),
        ("  difference (study - census)", f"{pc['diff_region']:+.2f}",
         f"|diff| <= {pc['tolerance']} (1/cell): {'ok' if pc['ok'] else 'FAIL'}"),
        ("  census in bbox, from the raw file", f"{pc['census_in_area_from_file']:,.1f}",
         f"diff {pc['diff_file']:+.2f}"),
    ]
    for name, r in ref["sets"].items():
        out += [
            (f"{name}: max |study - networkx| (m)", f"{r['max_abs_diff_m']:.3g}",
             f"<= {r['tolerance_m']:g}, unreachable {r['unreachable_study']}/"
             f"{r['unreachable_networkx']}: {'ok' if r['ok'] else 'FAIL'}"),
            (f"{name}: Dijkstra, {r['sources']} sources (ms)", f"{1000 * r['study_s']:.1f}",
             f"networkx {1000 * r['networkx_s']:.1f} ms = "
             f"{r['ratio_networkx_over_study']:.1f}x"),
        ]
    sc = res.get("scenarios")
    if sc:
        out.append((f"scenario sweep, fleets {sc['fleets']} x drones {sc['drones']} (s)",
                    f"{sc['wall_s']:.1f}", f"{sc['ride_requests']} ride requests, "
                    f"{sc['parcels']} parcels; rides {sc['rides_s']:.1f} s"))
        for r in sc["rows"]:
            out.append((f"  {r['vehicles']} vehicles, {r['drones']} drones",
                        f"{100 * r['served_share']:.0f} %",
                        f"served; cost/trip {r['cost_per_trip_jpy'] or '-'} JPY; "
                        f"{r['parcels_by_drone']}/{r['parcels']} parcels by drone "
                        f"(DID {sc['did_policy']})"))
    out.append(("pandana", "not measured", "not installed" if not res["pandana_installed"]
                else "installed, not benchmarked"))
    return out


def print_table(res: dict[str, Any]) -> None:
    ld, pc, ref = res["load"], res["population"], res["reference"]
    print(f"\ncoverage-gap study, {res['region']}: {ld['walk_nodes']:,} walk nodes, "
          f"{pc['cells']} census cells ({pc['cells_partly_outside']} partly outside the "
          f"bbox), {len(ld['feeds'])} GTFS feeds")
    table = rows(res)
    w0 = max(len(r[0]) for r in table) + 2
    w1 = max(len(r[1]) for r in table) + 2
    print(f"{'what':{w0}s}{'value':>{w1}s}  target / peer")
    for a, b, c in table:
        print(f"{a:{w0}s}{b:>{w1}s}  {c}")
    print(f"  networkx graph build {ref['nx_graph_build_s']:.2f} s (not in the ratio; "
          f"with it: " + ", ".join(f"{k} {v['ratio_with_nx_build']:.0f}x"
                                   for k, v in ref["sets"].items()) + ")")
    for name, r in ref["sets"].items():
        if not r["inputs_match_rebuilt"]:
            print(f"  note: {name}: the sources the study used differ from the rebuilt ones")
    if pc["file_total_suppressed_cells"]:
        print(f"  census file: {pc['file_total_suppressed_cells']} cells with a suppressed "
              "('*') total, read as 0 (as the loader does)")
    print("  pandana: not installed, so no pandana peer" if not res["pandana_installed"]
          else "  pandana: installed but not benchmarked")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the table and write JSON; 1 if a check fails."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="one study call; reference on the bus-stop source set only")
    ap.add_argument("--repeats", type=int, default=None,
                    help="study calls and interleaved Dijkstra repeats (default 3, quick 1)")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--no-scenarios", action="store_true",
                    help="skip the scenario sweep (fleets 0,2,4,8 x drones 0,4; quick: 0,2)")
    ap.add_argument("--did-policy", default="avoid", choices=("avoid", "permit"),
                    help="the drones' DID policy in the sweep")
    args = ap.parse_args(argv)
    repeats = args.repeats or (1 if args.quick else 3)
    t0 = time.perf_counter()
    region, feeds, load = bench_load()
    result, study = bench_study(region, feeds, repeats)
    population = census_check(region, int(result.summary["population_total"]))
    sets = ["bus stops"] if args.quick else ["bus stops", "stations"]
    reference = bench_reference(region, feeds, sets, max(repeats, 3))
    res: dict[str, Any] = {
        "region": region.name, "load": load, "study": study, "population": population,
        "reference": reference,
        "pandana_installed": importlib.util.find_spec("pandana") is not None,
        "networkx": nx.__version__,
    }
    if not args.no_scenarios:
        fleets, drones = ([0, 2], [0, 2]) if args.quick else ([0, 2, 4, 8], [0, 4])
        res["scenarios"] = bench_scenarios(region, result, fleets, drones, args.did_policy)
    print_table(res)
    wall = time.perf_counter() - t0
    machine = (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores "
               f"(shared with other work while measured), Python {platform.python_version()}")
    print(f"\nmachine: {machine}; wall time {wall:.0f} s")
    ok = (study["target_met"] and population["ok"]
          and all(r["ok"] for r in reference["sets"].values()))
    out = args.json or RESULTS / ("coverage_quick.json" if args.quick else "coverage.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "machine": machine, "quick": args.quick, "repeats": repeats,
        "command": "python benchmarks/coverage.py" + (" --quick" if args.quick else ""),
        "table": [{"what": a, "value": b, "target_or_peer": c} for a, b, c in rows(res)],
        **res, "all_checks_ok": ok, "wall_s": round(wall, 1)},
        indent=1, ensure_ascii=False))
    print(f"wrote {out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
