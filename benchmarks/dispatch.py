"""Real-time dispatch benchmark on the built-in Kumamoto region.

Measures, in one run (seeded):

* **offer latency** of the online engine (``Engine.book``: cheapest feasible insertion) per
  booking over a simulated day with 30 vehicles and 1,000 ride requests: p50/p95/p99;
* **offer latency while a re-optimization runs** off the booking path (a worker process,
  :class:`dispatch.background.BackgroundReoptimizer`) and between runs, in one replay of
  the day's bookings (see :func:`offers_during_reopt`), with a worker *thread* as the
  peer; and what the engine's thread spends per run (snapshot, merge);
* the **naive peer**: re-solving every request known so far with the offline solver
  (``routing.solve``, OR-Tools engine) at each booking. That is far too slow for the full
  day, so it runs on a smaller day (a sample of the bookings of a smaller seeded day) and
  the latency is reported as measured there: a *lower bound* for the full day, whose
  problem is larger. The solver spends its whole time limit (a shorter limit gives worse
  plans), so this latency is essentially the limit granted;
* **quality**: vehicle-km and served share of the online engine (insertion plus periodic
  re-optimization) against the offline solver given the whole day in advance (perfect
  information, the same requests and windows, ``routing.solve`` with a time limit) and
  against **no pooling**: the rides the online engine served, each served alone, chained
  on the same fleet (a vehicle drives from its last drop-off to the next pickup, within
  the rider's windows and its shift; see :func:`no_pooling_chained`; rides no vehicle
  reaches in time stay unserved and are counted), and, for scale, the riders' summed
  direct distances (passenger-km on direct paths: a pooled fleet can drive less than
  this, so it is not a bound). The older depot-star figure (every ride from the depot,
  no drive back) stays in the JSON as ``no_pooling_from_depot_km``;
* **simulation wall time** of the whole day (target <= 60 s);
* **offer latency with the example service profile against none**
  (``examples/profiles/kumamoto.toml``): one day drawn inside the profile's service
  area, simulated twice in the same run (re-optimization off, so the two differ only by
  the profile), p50/p95 of ``Engine.book``; and the refusal rules alone
  (:func:`dispatch.rules.check_booking`, fixed-route search included) per booking of
  that day in booking order, p50/p95/max of the first call and the max of each
  booking's best of three (target: p95 <= 1 ms). See :func:`profile_latency`.

Run ``python benchmarks/dispatch.py`` (full), ``--quick`` (smaller day, under a minute
after the region cache is warm) and ``--json PATH``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

# This script is named like the package it measures: run as ``python benchmarks/dispatch.py``
# its folder comes first on sys.path and would shadow the ``dispatch`` package.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import numpy as np

from dispatch.demand import (
    DemandConfig,
    DemandDay,
    generate_day,
    sources_from_region,
    sources_within,
    travel_table_for_day,
)
from dispatch.engine import DispatchConfig, Engine
from dispatch.kpi import compute_kpis
from dispatch.network import TravelTable
from dispatch.reoptimize import ReoptParams
from dispatch.simulate import FinalState, SimulationConfig, SimulationResult, simulate_day
from maps.region import default_region
from routing.model import (
    Location,
    Problem,
    Profile,
    Request,
    TimeWindow,
    Vehicle,
    VehicleType,
)


@dataclass(frozen=True)
class Sizes:
    """Sizes of one benchmark run."""

    requests: int
    vehicles: int
    naive_requests: int
    naive_vehicles: int
    naive_samples: int
    naive_time_limit_s: float
    offline_time_limit_s: float


FULL = Sizes(requests=1000, vehicles=30, naive_requests=150, naive_vehicles=5,
             naive_samples=20, naive_time_limit_s=2.0, offline_time_limit_s=60.0)
QUICK = Sizes(requests=150, vehicles=6, naive_requests=50, naive_vehicles=3,
              naive_samples=5, naive_time_limit_s=0.5, offline_time_limit_s=5.0)


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- offline model
def problem_from_day(day: DemandDay, table: TravelTable, n_vehicles: int,
                     sim: SimulationConfig, ids: set[str] | None = None) -> Problem:
    """Return the whole day (or the rides in ``ids``) as an offline routing problem.

    Windows are those each rider asked for in the simulation (leave-at: wanted time plus
    the rider tolerance; arrive-by: the latest arrival), the ride limit is the engine's
    ``alpha * direct + beta``; every ride is optional with a large penalty so the solver
    can leave out what does not fit, like a rejection online.
    """
    dc = sim.dispatch or DispatchConfig()
    cfg = day.config
    reqs = []
    for r in day.rides:
        if ids is not None and r.id not in ids:
            continue
        direct = table.travel_s(r.origin, r.destination)
        if r.arrive_by_s is not None:
            pw = TimeWindow(earliest=max(r.arrive_by_s - direct - sim.arrive_early_s, 0),
                            latest=max(r.arrive_by_s - direct, 0))
            dw = TimeWindow(earliest=0, latest=r.arrive_by_s)
        else:
            wanted = r.requested_pickup_s or cfg.service_start_s
            pw = TimeWindow(earliest=wanted, latest=wanted + sim.rider_tolerance_s)
            dw = TimeWindow()
        reqs.append(Request(
            id=r.id, pickup=r.origin, dropoff=r.destination,
            load=(0, 1) if r.wheelchair else (1, 0), pickup_window=pw, dropoff_window=dw,
            pickup_service_s=dc.pickup_service_s, dropoff_service_s=dc.dropoff_service_s,
            max_detour=dc.ride_alpha, detour_slack_s=dc.ride_beta_s, optional=True,
            penalty=1_000_000))
    shift = TimeWindow(earliest=cfg.service_start_s,
                       latest=cfg.service_end_s + sim.end_slack_s // 2)
    vtype = VehicleType(name="hiace", capacity=(sim.seats, sim.wheelchairs),
                        profile=Profile.CAR)
    vehicles = tuple(Vehicle(id=f"bus{k + 1}", type=0, start=day.depot, end=day.depot,
                             shift=shift) for k in range(n_vehicles))
    locs = tuple(Location(lon=p.lon, lat=p.lat, name=p.name) for p in day.places)
    return Problem(locations=locs, dimensions=("seats", "wheelchairs"),
                   durations={"car": table.durations}, distances={"car": table.distances},
                   vehicle_types=(vtype,), vehicles=vehicles, requests=tuple(reqs),
                   name="kumamoto-day")


def solve_offline(problem: Problem, time_limit_s: float, seed: int) -> tuple[float, int, float]:
    """Solve with ``routing.solve``; return (vehicle-km, served rides, wall seconds)."""
    from routing.solve import SolveParams, solve

    t0 = time.perf_counter()
    sol = solve(problem, SolveParams(time_limit_s=time_limit_s, seed=seed, engine="ortools"))
    wall = time.perf_counter() - t0
    served = len(problem.requests) - len(sol.unassigned)
    return sol.distance(problem) / 1000.0, served, wall


# --------------------------------------------------------------------------- peers
def no_pooling_km(day: DemandDay, table: TravelTable, served: set[str]) -> tuple[float, float]:
    """Return (depot->pickup->dropoff km, summed direct km) over the served rides."""
    chain = direct = 0
    for r in day.rides:
        if r.id in served:
            chain += table.distance_m(day.depot, r.origin) + table.distance_m(r.origin,
                                                                               r.destination)
            direct += table.distance_m(r.origin, r.destination)
    return chain / 1000.0, direct / 1000.0


@dataclass(frozen=True)
class Chained:
    """The no-pooling baseline that chains rides on each vehicle."""

    vehicle_km: float
    served: int
    unserved: int


def no_pooling_chained(problem: Problem, table: TravelTable) -> Chained:
    """Serve the rides one at a time per vehicle, chained from drop-off to next pickup.

    Rides are taken in order of their earliest pickup; each goes to the vehicle whose
    empty drive to the pickup (from its depot or its last drop-off) is shortest among
    those that reach the pickup within its window, drop off within the drop-off window
    and can still return to the depot within the shift. Nobody shares a ride. A ride no
    vehicle can take in time is left unserved (counted, not driven). Vehicle-km include
    the first drive from the depot and the drive back after the last drop-off.
    """
    nv = len(problem.vehicles)
    loc = [v.start for v in problem.vehicles]
    free = [v.shift.earliest for v in problem.vehicles]
    metres = served = 0
    for req in sorted(problem.requests, key=lambda r: (r.pickup_window.earliest, r.id)):
        pw, dw = req.effective_pickup_window, req.dropoff_window
        best: tuple[int, int, int, int] | None = None  # (empty metres, start, vehicle, free)
        for k in range(nv):
            v = problem.vehicles[k]
            start = max(free[k] + table.travel_s(loc[k], req.pickup), pw.earliest)
            drop = start + req.pickup_service_s + table.travel_s(req.pickup, req.dropoff)
            done = drop + req.dropoff_service_s
            end = v.end if v.end is not None else req.dropoff
            if (start > pw.latest or drop > dw.latest
                    or done + table.travel_s(req.dropoff, end) > v.shift.latest):
                continue
            cand = (table.distance_m(loc[k], req.pickup), start, k, done)
            if best is None or cand < best:
                best = cand
        if best is None:
            continue
        empty, _, k, done = best
        metres += empty + table.distance_m(req.pickup, req.dropoff)
        loc[k], free[k] = req.dropoff, done
        served += 1
    for k, v in enumerate(problem.vehicles):
        if v.end is not None:
            metres += table.distance_m(loc[k], v.end)
    return Chained(vehicle_km=metres / 1000.0, served=served,
                   unserved=len(problem.requests) - served)


def naive_latency(region: Any, sizes: Sizes, seed: int, sim: SimulationConfig) -> list[float]:
    """Time a from-scratch solve of all requests known at each sampled booking (ms)."""
    day = generate_day(sources_from_region(region), DemandConfig(
        seed=seed + 1, n_requests=sizes.naive_requests, n_deliveries=0))
    table = travel_table_for_day(region, day)
    order = [r.id for r in day.rides]
    picks = np.unique(np.linspace(1, len(order), sizes.naive_samples).round().astype(int))
    out = []
    for k in picks:
        problem = problem_from_day(day, table, sizes.naive_vehicles, sim, set(order[:k]))
        _, _, wall = solve_offline(problem, sizes.naive_time_limit_s, seed)
        out.append(wall * 1000.0)
        _log(f"  naive re-solve with {k} known requests: {wall * 1000:.0f} ms")
    return out


# ---------------------------------------------------------------- offers during re-optimization
@dataclass(frozen=True)
class ReoptBench:
    """How the online day re-optimizes (simulation) and the run timed against offers.

    Defaults are the simulation's: every 15 simulated minutes, 0.5 s solver limit, off
    the booking path (a worker process), merged 2 simulated minutes after the snapshot.
    ``stress_limit_s`` is the solver limit of the runs that the offer-latency replay
    keeps going (``None``: 1 s in ``--quick``, 2 s in the full run).
    """

    every_s: int = 15 * 60
    limit_s: float = 0.5
    background: bool = True
    delay_s: int = 120
    stress_limit_s: float | None = None


def offers_during_reopt(day: DemandDay, table: TravelTable, sim: SimulationConfig,
                        params: ReoptParams, mode: str) -> dict[str, Any]:
    """Time every booking of the day, half of them while a re-optimization runs.

    The day's bookings are replayed in order on a fresh engine as fast as the engine
    answers (the engine clock follows the booking times; the riders' accept rule is the
    simulation's). A :class:`~dispatch.background.BackgroundReoptimizer` (``mode``
    ``"process"`` or ``"thread"``) runs, is merged, then stays idle for as long as the
    run took, and starts again: runs and quiet spells alternate, so both kinds of
    bookings meet the same load from the rest of the machine. Each latency is filed
    under "during" when a run was in flight (started, worker not done) as the booking
    came in, else "alone". Snapshot (``start``) and merge times are what the engine's
    thread spends on it.
    """
    from dispatch.background import BackgroundReoptimizer
    from dispatch.engine import Engine, Offer
    from dispatch.simulate import _accepts, _fleet, _ride_request

    start_s = min([day.config.service_start_s] + [r.booking_s for r in day.rides])
    eng = Engine(table, _fleet(day, replace(sim, vans=0)), sim.dispatch or DispatchConfig(),
                 start_s=start_s)
    bg = BackgroundReoptimizer(eng, params, mode=mode)
    idle_until = 0.0
    during: list[float] = []
    alone: list[float] = []
    start_ms: list[float] = []
    results = []
    t_all = time.perf_counter()
    for ride in sorted(day.rides, key=lambda r: (r.booking_s, r.id)):
        if ride.booking_s > eng.now:
            eng.advance(ride.booking_s)
        res = bg.poll()
        if res is not None:
            results.append(res)
            idle_until = time.perf_counter() + res.runtime_s
        if not bg.running and time.perf_counter() >= idle_until:
            t = time.perf_counter()
            bg.start()
            start_ms.append((time.perf_counter() - t) * 1000.0)
        busy = bg.running and not bg.ready
        t0 = time.perf_counter()
        answer = eng.book(_ride_request(ride, table, sim))
        (during if busy else alone).append((time.perf_counter() - t0) * 1000.0)
        if isinstance(answer, Offer) and _accepts(ride, answer, sim):
            eng.confirm(ride.id)
    res = bg.wait()
    if res is not None:
        results.append(res)
    bg.close()
    merge_ms = [r.merge_s * 1000.0 for r in results]

    def pct(xs: list[float], q: float) -> float:
        return float(np.percentile(xs, q)) if xs else math.nan

    return {
        "during": len(during), "alone": len(alone),
        "during_p50_ms": pct(during, 50), "during_p95_ms": pct(during, 95),
        "during_p99_ms": pct(during, 99),
        "alone_p50_ms": pct(alone, 50), "alone_p95_ms": pct(alone, 95),
        "alone_p99_ms": pct(alone, 99),
        "runs": len(results), "adopted": sum(r.adopted for r in results),
        "reasons": sorted({r.reason.split(":")[0] for r in results}),
        "start_ms_max": max(start_ms, default=math.nan),
        "merge_ms_p95": pct(merge_ms, 95), "merge_ms_max": max(merge_ms, default=math.nan),
        "improve_s_mean": float(np.mean([r.improve_s for r in results])) if results else math.nan,
        "wall_s": time.perf_counter() - t_all,
    }


# --------------------------------------------------------------------------- main
def replay_day(result: SimulationResult) -> dict[str, Any]:
    """Rebuild the online day from its JSON command log; time it and compare the state."""
    eng = result.engine
    assert eng is not None
    log = json.loads(json.dumps([c.to_dict() for c in eng.commands]))
    fleet = [eng.vehicle_spec(k) for k in range(eng.n_vehicles)]
    t0 = time.perf_counter()
    again = Engine.replay(eng.table, fleet, eng.config, log, start_s=eng.start_s)
    replay_s = time.perf_counter() - t0
    return {"replay_identical": again.to_dict() == eng.to_dict(), "replay_s": replay_s,
            "replay_commands": len(log)}


#: The example service profile measured against no profile.
EXAMPLE_PROFILE = _HERE.parent / "examples" / "profiles" / "kumamoto.toml"


def profile_latency(region: Any, sizes: Sizes, seed: int) -> dict[str, Any]:
    """Offer latency with the example profile against none, on one in-area day.

    The day (``sizes.requests`` rides) is drawn inside the profile's service area so
    that its rules, not the area alone, decide; it is simulated without and with the
    profile (re-optimization off, the rest as in the main day). The rules alone are then
    timed on every booking of the day as the engine would judge it (its first booking
    time), after the fixed-route index is built (its build time is reported apart).
    """
    from datetime import date, datetime, timedelta

    from dispatch.profile import load_profile
    from dispatch.rules import check_booking, fixed_route_index, points_within, trip_from_request
    from dispatch.simulate import _ride_request, assign_classes

    profile = load_profile(EXAMPLE_PROFILE)
    t0 = time.perf_counter()
    fixed_route_index(profile)
    index_s = time.perf_counter() - t0
    service_date = date(2026, 12, 8)  # a Tuesday, a service day of the example
    sources = sources_within(sources_from_region(region), lambda ll: points_within(profile, ll))
    day = generate_day(sources, DemandConfig(seed=seed, n_requests=sizes.requests,
                                             n_deliveries=0))
    table = travel_table_for_day(region, day)
    base = SimulationConfig(seed=seed, vehicles=sizes.vehicles, vans=0, reopt_every_s=0)
    none = simulate_day(day, table, base)
    classes = assign_classes(day, profile, seed)
    ruled = simulate_day(day, table, replace(base, profile=profile, service_date=service_date,
                                             rider_classes=classes))
    kpis = compute_kpis(ruled)
    midnight = datetime.combine(service_date, datetime.min.time())
    cfg = replace(base, profile=profile, service_date=service_date, rider_classes=classes)
    rules_ms: list[float] = []
    best_ms: list[float] = []  # each booking's best of three (scheduling noise removed)
    for ride in sorted(day.rides, key=lambda r: r.booking_s):
        req = _ride_request(ride, table, cfg)
        now = midnight + timedelta(seconds=ride.booking_s)
        runs = []
        for _ in range(3):
            t1 = time.perf_counter()
            trip = trip_from_request(req, table, service_date, ride.booking_s,
                                     asap_lead_s=profile.booking.min_notice_s)
            check_booking(profile, trip, now)
            runs.append((time.perf_counter() - t1) * 1000.0)
        rules_ms.append(runs[0])
        best_ms.append(min(runs))
    a, b = list(ruled.offer_latency_ms), list(none.offer_latency_ms)
    return {
        "profile_requests": len(day.rides),
        "offer_p50_ms_profile": float(np.percentile(a, 50)),
        "offer_p95_ms_profile": float(np.percentile(a, 95)),
        "offer_p50_ms_no_profile": float(np.percentile(b, 50)),
        "offer_p95_ms_no_profile": float(np.percentile(b, 95)),
        "rules_p50_ms": float(np.percentile(rules_ms, 50)),
        "rules_p95_ms": float(np.percentile(rules_ms, 95)),
        "rules_max_ms": float(max(rules_ms)),
        "rules_best_of_3_p95_ms": float(np.percentile(best_ms, 95)),
        "rules_best_of_3_max_ms": float(max(best_ms)),
        "fixed_route_index_s": index_s,
        "profile_served": kpis["served"],
        "no_profile_served": compute_kpis(none)["served"],
        "profile_rejected_by_reason": kpis["rejected_by_reason"],
        "profile_farebox_ratio": kpis["farebox_ratio"],
    }


def run(sizes: Sizes, seed: int, reopt: ReoptBench | None = None) -> dict[str, Any]:
    """Run every measurement and return the JSON figures."""
    reopt = reopt or ReoptBench()
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else math.nan
    t0 = time.perf_counter()
    _log("loading region ...")
    region = default_region()
    day = generate_day(sources_from_region(region), DemandConfig(
        seed=seed, n_requests=sizes.requests, n_deliveries=0))
    t1 = time.perf_counter()
    table = travel_table_for_day(region, day)
    table_s = time.perf_counter() - t1
    _log(f"{len(day.rides)} rides on {len(day.places)} places; table {table_s:.1f} s")
    # No cancellations or no-shows: the served counts then compare dispatch alone.
    sim = SimulationConfig(seed=seed, vehicles=sizes.vehicles, vans=0, p_cancel=0.0,
                           p_no_show=0.0, reopt_every_s=reopt.every_s,
                           reopt_time_limit_s=reopt.limit_s,
                           reopt_background=reopt.background, reopt_delay_s=reopt.delay_s)
    result: SimulationResult = simulate_day(day, table, sim, progress=_log)
    kpis = compute_kpis(result)
    served = {r.id for r in result.records if r.final is FinalState.SERVED}
    lat = list(result.offer_latency_ms)
    _log(f"online: served {len(served)}, {kpis['vehicle_km']:.1f} km, "
         f"wall {result.wall_s:.1f} s")

    replay = replay_day(result)
    _log(f"replayed {replay['replay_commands']} commands in {replay['replay_s']:.1f} s, "
         f"identical: {replay['replay_identical']}")

    star_km, direct_km = no_pooling_km(day, table, served)
    chained = no_pooling_chained(problem_from_day(day, table, sizes.vehicles, sim, served),
                                 table)
    _log("offline solver on the whole day ...")
    problem = problem_from_day(day, table, sizes.vehicles, sim)
    off_km, off_served, off_wall = solve_offline(problem, sizes.offline_time_limit_s, seed)
    # The reference is the offline 5 s plan; a longer run is the stricter one.
    off5_km = (off_km if sizes.offline_time_limit_s == 5.0
               else solve_offline(problem, 5.0, seed)[0])
    _log("naive re-solve per booking on a smaller day ...")
    naive = naive_latency(region, sizes, seed, sim)
    stress = reopt.stress_limit_s or (2.0 if sizes.requests >= 1000 else 1.0)
    during = {}
    for mode in ("process", "thread"):
        _log(f"offers while a re-optimization runs ({mode} worker, {stress:g} s limit) ...")
        during[mode] = offers_during_reopt(day, table, sim, ReoptParams(
            time_limit_s=stress, seed=seed), mode)
        _log(f"  p95 {during[mode]['during_p95_ms']:.1f} ms during, "
             f"{during[mode]['alone_p95_ms']:.1f} ms between runs")
    proc, thr = during["process"], during["thread"]
    _log("offer latency with the example service profile against none ...")
    prof = profile_latency(region, sizes, seed)
    _log(f"  p95 {prof['offer_p95_ms_profile']:.1f} ms with, "
         f"{prof['offer_p95_ms_no_profile']:.1f} ms without; rules p95 "
         f"{prof['rules_p95_ms']:.2f} ms")
    n = len(day.rides)
    return {
        "requests": n,
        "vehicles": sizes.vehicles,
        "offer_p50_ms": float(np.percentile(lat, 50)),
        "offer_p95_ms": float(np.percentile(lat, 95)),
        "offer_p99_ms": float(np.percentile(lat, 99)),
        "offers": len(lat),
        "naive_offer_p50_ms": float(np.percentile(naive, 50)),
        "naive_offer_p95_ms": float(np.percentile(naive, 95)),
        "naive_requests": sizes.naive_requests,
        "naive_time_limit_s": sizes.naive_time_limit_s,
        "online_vehicle_km": kpis["vehicle_km"],
        "online_served": len(served),
        "online_served_share": len(served) / n,
        "online_promises_kept_share": kpis["promises_kept_share"],
        "online_pooling_rate": kpis["pooling_rate"],
        "offline_vehicle_km": off_km,
        "offline_served": off_served,
        "offline_served_share": off_served / n,
        "offline_time_limit_s": sizes.offline_time_limit_s,
        "offline_wall_s": off_wall,
        "no_pooling_vehicle_km": chained.vehicle_km,
        "no_pooling_served": chained.served,
        "no_pooling_unserved": chained.unserved,
        "no_pooling_from_depot_km": star_km,
        "direct_only_km": direct_km,
        "sim_wall_s": result.wall_s,
        "table_s": table_s,
        "reopt_runs": result.reopt_runs,
        "reopt_adopted": result.reopt_adopted,
        "online_offline_km_ratio": (kpis["vehicle_km"] / off_km if off_km else math.nan),
        "offline_5s_vehicle_km": off5_km,
        "online_offline_5s_km_ratio": (kpis["vehicle_km"] / off5_km if off5_km else math.nan),
        "reopt_every_s": reopt.every_s,
        "reopt_time_limit_s": reopt.limit_s,
        "reopt_background": reopt.background,
        "reopt_delay_s": reopt.delay_s,
        "offer_p50_ms_during_reopt": proc["during_p50_ms"],
        "offer_p95_ms_during_reopt": proc["during_p95_ms"],
        "offer_p99_ms_during_reopt": proc["during_p99_ms"],
        "offers_during_reopt": proc["during"],
        "offer_p50_ms_between_reopts": proc["alone_p50_ms"],
        "offer_p95_ms_between_reopts": proc["alone_p95_ms"],
        "offer_p99_ms_between_reopts": proc["alone_p99_ms"],
        "offers_between_reopts": proc["alone"],
        "reopt_stress_time_limit_s": stress,
        "reopt_stress_runs": proc["runs"],
        "reopt_snapshot_ms_max": proc["start_ms_max"],
        "reopt_merge_ms_max": proc["merge_ms_max"],
        "reopt_improve_s_mean": proc["improve_s_mean"],
        "offer_p95_ms_during_reopt_thread": thr["during_p95_ms"],
        "offer_p99_ms_during_reopt_thread": thr["during_p99_ms"],
        "offer_p95_ms_between_reopts_thread": thr["alone_p95_ms"],
        "reopt_merge_ms_max_thread": thr["merge_ms_max"],
        "load_average_1min": [load_before,
                              os.getloadavg()[0] if hasattr(os, "getloadavg") else math.nan],
        **replay,
        **prof,
        "total_wall_s": time.perf_counter() - t0,
    }


def table_text(r: dict[str, Any]) -> str:
    """Return the printed table."""
    def km_per(km: float, served: int) -> str:
        return f"{km / served:.2f}" if served else "n/a"

    lines = [
        f"Kumamoto, {r['requests']} ride requests, {r['vehicles']} vehicles",
        "",
        "| offer latency | p50 ms | p95 ms | p99 ms |",
        "|---|---:|---:|---:|",
        f"| online insertion (Engine.book, {r['offers']} offers) | {r['offer_p50_ms']:.1f} | "
        f"{r['offer_p95_ms']:.1f} | {r['offer_p99_ms']:.1f} |",
        f"| naive re-solve per booking ({r['naive_requests']}-request day, "
        f"{r['naive_time_limit_s']:g} s limit) | {r['naive_offer_p50_ms']:.0f} | "
        f"{r['naive_offer_p95_ms']:.0f} | - |",
        "",
        "| plan | served | served share | vehicle-km | km per served ride |",
        "|---|---:|---:|---:|---:|",
        f"| online (insertion + re-optimization) | {r['online_served']} | "
        f"{r['online_served_share']:.1%} | {r['online_vehicle_km']:.1f} | "
        f"{km_per(r['online_vehicle_km'], r['online_served'])} |",
        f"| offline solver, whole day known ({r['offline_time_limit_s']:g} s) | "
        f"{r['offline_served']} | {r['offline_served_share']:.1%} | "
        f"{r['offline_vehicle_km']:.1f} | "
        f"{km_per(r['offline_vehicle_km'], r['offline_served'])} |",
        f"| no pooling (online-served rides chained one at a time per vehicle, "
        f"{r['no_pooling_unserved']} not reachable in time) | "
        f"{r['no_pooling_served']} | {r['no_pooling_served'] / r['requests']:.1%} | "
        f"{r['no_pooling_vehicle_km']:.1f} | "
        f"{km_per(r['no_pooling_vehicle_km'], r['no_pooling_served'])} |",
        f"| riders' direct distances summed (passenger-km, not a bound) | {r['online_served']} | "
        f"{r['online_served_share']:.1%} | {r['direct_only_km']:.1f} | "
        f"{km_per(r['direct_only_km'], r['online_served'])} |",
        "",
        f"replay of the day's {r['replay_commands']} logged commands: {r['replay_s']:.1f} s, "
        f"state identical: {r['replay_identical']}",
        f"simulation wall time {r['sim_wall_s']:.1f} s (travel table {r['table_s']:.1f} s, "
        f"re-optimizations {r['reopt_runs']}, adopted {r['reopt_adopted']}); "
        f"promises kept {r['online_promises_kept_share']:.1%}, "
        f"pooled riders {r['online_pooling_rate']:.1%}",
        "",
        f"online / offline vehicle-km {r['online_offline_km_ratio']:.3f} "
        f"(against the offline 5 s plan, {r['offline_5s_vehicle_km']:.1f} km: "
        f"{r['online_offline_5s_km_ratio']:.3f}); re-optimization "
        f"every {r['reopt_every_s']} s (solver {r['reopt_time_limit_s']:g} s, "
        + (f"off the booking path, merged {r['reopt_delay_s']} s later)"
           if r["reopt_background"] else "inline)"),
        "",
        "| offers while a re-optimization runs (same replay, "
        f"{r['reopt_stress_time_limit_s']:g} s solver) | offers | p50 ms | p95 ms | p99 ms |",
        "|---|---:|---:|---:|---:|",
        f"| during a run, worker process | {r['offers_during_reopt']} | "
        f"{r['offer_p50_ms_during_reopt']:.1f} | {r['offer_p95_ms_during_reopt']:.1f} | "
        f"{r['offer_p99_ms_during_reopt']:.1f} |",
        f"| between runs | {r['offers_between_reopts']} | "
        f"{r['offer_p50_ms_between_reopts']:.1f} | {r['offer_p95_ms_between_reopts']:.1f} | "
        f"{r['offer_p99_ms_between_reopts']:.1f} |",
        f"| during a run, worker thread (peer) | - | - | "
        f"{r['offer_p95_ms_during_reopt_thread']:.1f} | "
        f"{r['offer_p99_ms_during_reopt_thread']:.1f} |",
        "",
        f"engine thread per run: snapshot <= {r['reopt_snapshot_ms_max']:.1f} ms (the first "
        f"also starts the worker), merge <= {r['reopt_merge_ms_max']:.1f} ms; load average "
        f"{r['load_average_1min'][0]:.1f} -> {r['load_average_1min'][1]:.1f} on "
        f"{os.cpu_count()} cores",
        "",
        f"| example service profile ({r['profile_requests']}-request day in its area, "
        "same run) | p50 ms | p95 ms | served |",
        "|---|---:|---:|---:|",
        f"| Engine.book, no profile | {r['offer_p50_ms_no_profile']:.2f} | "
        f"{r['offer_p95_ms_no_profile']:.2f} | {r['no_profile_served']} |",
        f"| Engine.book, with the profile | {r['offer_p50_ms_profile']:.2f} | "
        f"{r['offer_p95_ms_profile']:.2f} | {r['profile_served']} |",
        f"| refusal rules alone (check_booking, max {r['rules_max_ms']:.2f} ms; best of 3: "
        f"p95 {r['rules_best_of_3_p95_ms']:.3f}, max {r['rules_best_of_3_max_ms']:.2f} ms) | "
        f"{r['rules_p50_ms']:.3f} | {r['rules_p95_ms']:.3f} | - |",
        "",
        f"fixed-route index built in {r['fixed_route_index_s']:.1f} s (once per profile); "
        "refused by rule: " + ", ".join(f"{k} {v}" for k, v in
                                        r["profile_rejected_by_reason"].items()),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run, print the table and write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller run (< 1 minute)")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--reopt-every", type=int, default=ReoptBench.every_s,
                        help="simulated seconds between re-optimizations")
    parser.add_argument("--reopt-limit", type=float, default=ReoptBench.limit_s,
                        help="solver seconds per re-optimization in the simulated day")
    parser.add_argument("--reopt-inline", action="store_true",
                        help="re-optimize inline (the engine waits) instead of in a worker")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    result = run(sizes, args.seed, ReoptBench(every_s=args.reopt_every,
                                              limit_s=args.reopt_limit,
                                              background=not args.reopt_inline))
    result = {k: (round(v, 3) if isinstance(v, float) and math.isfinite(v) else v)
              for k, v in result.items()}
    print(table_text(result))
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
