"""Truck-and-drone solvers against the literature: TSP-D optima and the FSTSP shipped values.

Run ``nice -n 5 python benchmarks/tspd.py`` (``--quick``: a few instances at 2 s, about a
minute). Instances come from the shared benchmark collection next to the repository.

TSP-D (Agatz, Bouman & Schmidt 2018; optimal makespans of Bouman, Agatz & Schmidt 2018):
the default selection takes, for each of the 9 map families x drone speeds (uniform,
single centre, double centre; drone factor 1/2, 1, 1/3) and each size of 5 to 9 nodes,
the 2 lowest-numbered instances (90), plus every instance of 11 to 15 nodes (50, uniform,
drone factor 1/2, the only ones with published optima at those sizes): 140 of the 500.
Each is solved twice: ``auto`` (what ``hakobu solve-instance --format tspd`` runs: the
exact program up to 10 customers, the heuristic above) and ``heuristic`` (the local
search alone), both at ``--time-limit`` seconds (default 10). Every solution goes through
the independent checker; the gap is ``makespan / optimum - 1``.

FSTSP (Murray & Chu 2015): every problem with a value shipped with the data (11 of 36
folders; the setting behind the value is not stated), at endurance 20 and 40 minutes,
launch = recovery = 1 minute; the exact program and the heuristic, checked; the table
says how many shipped values our optimum equals, lies below or above. ``--fstsp-all``
adds the other 25 folders (72 problems in all), where only the heuristic's gap to our
exact optimum is measured.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this folder comes first on sys.path: its coverage.py and dispatch.py
# would shadow the coverage package (numba imports it) and the dispatch package.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import argparse
import csv
import json
import os
import platform
import re
import statistics
import time
from typing import Any

from routing.check_tspd import check_tspd
from routing.instances.drone import drone_best_known, read_fstsp, read_tspd
from routing.tspd import DroneInstance, DroneSolution, solve, solve_exact, solve_heuristic

BENCH = Path(__file__).resolve().parents[1].parent / "shared" / "benchmarks"
TSPD = BENCH / "drone_tspd_agatz"
FSTSP = BENCH / "drone_fstsp_murray_chu"
_NAME = re.compile(r"^(?P<family>[a-z]+(?:-alpha_\d)?)-(?P<id>\d+)-n(?P<n>\d+)$")
QUICK_TSPD = ["uniform-1-n5", "doublecenter-alpha_3-21-n7", "singlecenter-alpha_1-31-n8",
              "uniform-1-n11", "uniform-1-n13", "uniform-1-n15"]
QUICK_FSTSP = ["20140810T123443v1", "20140810T123437v4"]


def tspd_selection(per_group: int = 2) -> list[str]:
    """The documented selection: ``per_group`` per family x size up to 9 nodes, all above."""
    names = []
    with (TSPD / "bks.csv").open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            names.append(row["instance"])
    groups: dict[tuple[str, int], list[tuple[int, str]]] = {}
    for name in names:
        m = _NAME.match(name)
        if m is None:
            continue
        groups.setdefault((m["family"], int(m["n"])), []).append((int(m["id"]), name))
    out = []
    for (_, n), members in sorted(groups.items()):
        members.sort()
        out += [name for _, name in (members if n > 9 else members[:per_group])]
    return out


def _run(inst: DroneInstance, mode: str, tl: float, seed: int) -> tuple[DroneSolution, int]:
    if mode == "auto":
        sol = solve(inst, tl, seed)
    elif mode == "exact":
        sol = solve_exact(inst)
    else:
        sol = solve_heuristic(inst, tl, seed)
    return sol, len(check_tspd(inst, sol))


def run_tspd(names: list[str], tl: float, seed: int) -> list[dict[str, Any]]:
    """Solve every named TSP-D instance in both modes; one row per instance and mode."""
    rows = []
    for name in names:
        path = TSPD / "instances" / f"{name}.txt"
        inst = read_tspd(path)
        best = drone_best_known(path)
        assert best is not None, name
        m = _NAME.match(name)
        for mode in ("auto", "heuristic"):
            sol, bad = _run(inst, mode, tl, seed)
            row = {"instance": name, "family": m["family"] if m else "", "nodes":
                   inst.n_customers + 1, "mode": mode, "method": sol.method,
                   "makespan": sol.makespan, "optimum": best,
                   "gap_pct": 100.0 * (sol.makespan / best - 1.0), "violations": bad,
                   "runtime_s": round(sol.runtime_s, 3)}
            rows.append(row)
            print(f"{name:32s} {mode:9s} {sol.method:9s} {sol.makespan:12.4f} "
                  f"{best:12.4f} {row['gap_pct']:7.3f} % {sol.runtime_s:6.2f} s"
                  f"{'' if not bad else f'  {bad} VIOLATIONS'}", flush=True)
    return rows


def run_fstsp(names: list[str] | None, tl: float, seed: int,
              every: bool = False) -> list[dict[str, Any]]:
    """FSTSP problems with a shipped value (``every``: all 36), endurance 20 and 40,
    exact and heuristic."""
    rows = []
    folders = sorted(p for p in (FSTSP / "instances").iterdir() if p.is_dir())
    for folder in folders:
        ref = drone_best_known(folder)
        if (ref is None and not every) or (names is not None and folder.name not in names):
            continue
        for endurance in (20.0, 40.0):
            inst = read_fstsp(folder, endurance=endurance)
            for mode in ("exact", "heuristic"):
                sol, bad = _run(inst, mode, tl, seed)
                row = {"instance": folder.name, "endurance": endurance, "mode": mode,
                       "makespan": sol.makespan, "shipped": ref,
                       "diff_pct": None if ref is None else 100.0 * (sol.makespan / ref - 1.0),
                       "violations": bad, "runtime_s": round(sol.runtime_s, 3)}
                rows.append(row)
                shipped = "" if ref is None else f"shipped {ref:10.4f} {row['diff_pct']:+8.3f} %"
                print(f"{folder.name:20s} E={endurance:4g} {mode:9s} {sol.makespan:10.4f} "
                      f"{shipped} {sol.runtime_s:6.2f} s"
                      f"{'' if not bad else f'  {bad} VIOLATIONS'}", flush=True)
    return rows


def summarize_tspd(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean and max gap per mode, overall and by node count."""
    out: dict[str, Any] = {}
    for mode in ("auto", "heuristic"):
        sub = [r for r in rows if r["mode"] == mode]
        if not sub:
            continue
        by_size: dict[str, Any] = {}
        for n in sorted({r["nodes"] for r in sub}):
            g = [r["gap_pct"] for r in sub if r["nodes"] == n]
            by_size[str(n)] = {"instances": len(g), "mean_gap_pct": statistics.fmean(g),
                               "max_gap_pct": max(g),
                               "optimal": sum(1 for x in g if x < 1e-6)}
        gaps = [r["gap_pct"] for r in sub]
        out[mode] = {
            "instances": len(sub), "mean_gap_pct": statistics.fmean(gaps),
            "max_gap_pct": max(gaps), "optimal": sum(1 for x in gaps if x < 1e-6),
            "infeasible": sum(1 for r in sub if r["violations"]),
            "mean_runtime_s": statistics.fmean(r["runtime_s"] for r in sub),
            "max_runtime_s": max(r["runtime_s"] for r in sub),
            "by_nodes": by_size,
        }
    return out


def summarize_fstsp(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """How the exact optimum and the heuristic compare with the shipped values."""
    out: dict[str, Any] = {}
    for endurance in (20.0, 40.0):
        ex_all = {r["instance"]: r for r in rows if r["endurance"] == endurance
                  and r["mode"] == "exact"}
        he = {r["instance"]: r for r in rows if r["endurance"] == endurance
              and r["mode"] == "heuristic"}
        ex = {k: r for k, r in ex_all.items() if r["shipped"] is not None}
        if not ex:
            continue
        diffs = [r["makespan"] - r["shipped"] for r in ex.values()]
        out[f"E{endurance:g}"] = {
            "problems": len(ex_all),
            "with_shipped_value": len(ex),
            "exact_equals_shipped": sum(1 for d in diffs if abs(d) < 1e-4),
            "exact_below_shipped": sum(1 for d in diffs if d <= -1e-4),
            "exact_above_shipped": sum(1 for d in diffs if d >= 1e-4),
            "exact_mean_diff_pct": statistics.fmean(r["diff_pct"] for r in ex.values()),
            "heuristic_equals_exact": sum(1 for k, r in he.items()
                                          if abs(r["makespan"] - ex_all[k]["makespan"]) < 1e-6),
            "heuristic_max_gap_to_exact_pct": max(
                100.0 * (r["makespan"] / ex_all[k]["makespan"] - 1.0) for k, r in he.items()),
            "infeasible": sum(1 for r in [*ex_all.values(), *he.values()] if r["violations"]),
        }
    return out


def print_tables(tspd: dict[str, Any], fstsp: dict[str, Any]) -> None:
    """Print the two summary tables."""
    print("\nTSP-D: gap to the published optimal makespan")
    print(f"{'mode':10s} {'nodes':>5s} {'inst':>5s} {'optimal':>8s} {'mean gap':>9s} "
          f"{'max gap':>8s}")
    for mode, s in tspd.items():
        for n, b in s["by_nodes"].items():
            print(f"{mode:10s} {n:>5s} {b['instances']:5d} {b['optimal']:8d} "
                  f"{b['mean_gap_pct']:8.3f}% {b['max_gap_pct']:7.3f}%")
        print(f"{mode:10s} {'all':>5s} {s['instances']:5d} {s['optimal']:8d} "
              f"{s['mean_gap_pct']:8.3f}% {s['max_gap_pct']:7.3f}%   infeasible "
              f"{s['infeasible']}, runtime mean {s['mean_runtime_s']:.2f} s, "
              f"max {s['max_runtime_s']:.2f} s")
    if fstsp:
        print("\nFSTSP: our optimum (exact program) against the values shipped with the data")
        for key, s in fstsp.items():
            print(f"{key:5s} shipped values {s['with_shipped_value']}: equal "
                  f"{s['exact_equals_shipped']}, below {s['exact_below_shipped']}, above "
                  f"{s['exact_above_shipped']} (mean {s['exact_mean_diff_pct']:+.2f} %); "
                  f"of {s['problems']} problems the heuristic = exact on "
                  f"{s['heuristic_equals_exact']}, max gap "
                  f"{s['heuristic_max_gap_to_exact_pct']:.3f} %; infeasible {s['infeasible']}")


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run both sets, print the tables and write JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="6 TSP-D and 2 FSTSP problems, 2 s")
    ap.add_argument("--time-limit", type=float, default=None,
                    help="seconds per instance and mode (default 10; 2 with --quick)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--instances", type=lambda s: s.split(","), default=None,
                    help="comma-separated TSP-D instance names instead of the selection")
    ap.add_argument("--no-fstsp", action="store_true")
    ap.add_argument("--fstsp-all", action="store_true",
                    help="also the 25 FSTSP folders without a shipped value (heuristic "
                         "against our exact optimum)")
    ap.add_argument("--json", type=Path, help="write the figures to this file")
    args = ap.parse_args(argv)
    if not TSPD.is_dir() or not FSTSP.is_dir():
        print(f"benchmarks not found under {BENCH}", file=sys.stderr)
        return 1
    tl = args.time_limit if args.time_limit is not None else (2.0 if args.quick else 10.0)
    if not tl > 0:
        print("error: --time-limit must be positive", file=sys.stderr)
        return 2
    names = args.instances or (QUICK_TSPD if args.quick else tspd_selection())
    t0 = time.perf_counter()
    tspd_rows = run_tspd(names, tl, args.seed)
    fstsp_rows = [] if args.no_fstsp else run_fstsp(QUICK_FSTSP if args.quick else None, tl,
                                                   args.seed, every=args.fstsp_all)
    tspd = summarize_tspd(tspd_rows)
    fstsp = summarize_fstsp(fstsp_rows)
    print_tables(tspd, fstsp)
    machine = (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores "
               f"(shared with other work while measured), Python {platform.python_version()}")
    wall = time.perf_counter() - t0
    print(f"\nmachine: {machine}; time limit {tl:g} s per instance and mode; "
          f"wall time {wall:.0f} s")
    if args.json:
        args.json.write_text(json.dumps({
            "machine": machine, "time_limit_s": tl, "seed": args.seed,
            "tspd_instances": len(names), "tspd": tspd, "fstsp": fstsp,
            "tspd_rows": tspd_rows, "fstsp_rows": fstsp_rows, "wall_s": round(wall, 1),
        }, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
