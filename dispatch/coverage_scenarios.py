"""What N on-demand vehicles and D drones would change for the residents of the gaps.

:func:`run_scenarios` takes a finished coverage study (:func:`dispatch.coverage.access_study`)
and, for every fleet size and drone count asked for:

* **Rides** (one simulated service day per fleet size, with the dispatch engine of
  :func:`dispatch.simulate.simulate_day`): ride requests are drawn from the residents of
  the gap cells only (each cell weighted by its residents in a gap), ``trips_per_resident``
  requests per gap resident and day, door to door (the riders have no stop in reach), to
  hospitals (appointments, return trip later), stations and other places (busy stops stand
  in for shops and the town centre: the data has no shop locations). Reported: served
  share, mean and 95th-percentile wait, mean ride time, vehicle-hours and the cost per
  served trip from the cost model (``[costs]`` of the config file).
* **Drones** (one day plan per drone count, with :func:`routing.drone_plan.plan_drones`):
  medicine parcels from droneports at hospitals to gap residents,
  ``parcels_per_resident`` per gap resident and day, flown around the avoided airspace
  (DIDs and the airport surface by default). Ports are the hospitals (inside the map,
  outside the avoided airspace) that reach the most gap residents, ``drones_per_port``
  drones each. Reported: parcels delivered by drone, flight hours and the cost per
  delivery (``[drone_costs]``).
* **Hospital access under the target** (``hospital_target_min``, the study's threshold):
  the gap residents whose estimated door-to-hospital time by the on-demand service is
  under the target (the scenario's mean wait plus the cell's drive time to the nearest
  hospital times the scenario's mean ride/direct ratio, counted in proportion to the
  share of hospital trips the scenario served); and the gap residents a drone from a
  chosen port reaches with a 1 kg parcel, reserve kept, within the target (the cell's
  centre; a cell whose centre lies in avoided airspace is not reached). Both are
  estimates from the simulated day and the flight model, not observed trips: the docs
  and the report say so.

Every number is a seeded simulation of one weekday; the demand rates and costs are
assumptions to set for the town (``examples/coverage_scenarios.toml``).
"""

from __future__ import annotations

import math
import time
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dispatch.coverage import CoverageError
from dispatch.profile import CostModel, ProfileError, _Table

if TYPE_CHECKING:
    from dispatch.coverage import CoverageResult
    from maps.region import Region

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class DroneCosts:
    """Drone operating cost (JPY): fixed per drone and day, and per flight hour."""

    per_drone_day_jpy: float = 15000.0
    per_flight_hour_jpy: float = 3000.0


@dataclass(frozen=True, slots=True, kw_only=True)
class ScenarioConfig:
    """Demand rates, fleet details and costs of the scenarios (all assumptions).

    The defaults: 0.2 % of the gap residents ask for a ride on a weekday (about 300
    requests for Kumamoto's gaps, the top of the demo range of ``SCENARIOS.md``), 0.03 %
    need a medicine parcel; vehicle costs as the Kumamoto example profile (2,500 JPY per
    vehicle-hour, 35 JPY per km, 6,000 JPY per vehicle-day).
    """

    trips_per_resident: float = 0.002
    share_hospital: float = 0.4
    share_station: float = 0.2
    parcels_per_resident: float = 0.0003
    max_trips: int = 2000
    max_parcels: int = 300
    drones_per_port: int = 2
    did_policy: str = "avoid"
    seats: int = 8
    seed: int = 0
    reopt_iterations: int = 100
    drone_iterations: int = 500
    drone_time_limit_s: float = 60.0
    costs: CostModel = field(default_factory=lambda: CostModel(
        per_vehicle_hour_jpy=2500.0, per_km_jpy=35.0, per_vehicle_day_jpy=6000.0))
    drone_costs: DroneCosts = field(default_factory=DroneCosts)

    def __post_init__(self) -> None:
        for name in ("trips_per_resident", "parcels_per_resident"):
            v = getattr(self, name)
            if not (math.isfinite(v) and 0 <= v <= 1):
                raise CoverageError(f"{name}: must lie in [0, 1], got {v}")
        if self.share_hospital + self.share_station > 1:
            raise CoverageError("share_hospital + share_station: must not exceed 1")
        if self.drones_per_port < 1 or self.seats < 1:
            raise CoverageError("drones_per_port/seats: must be at least 1")
        if self.did_policy not in ("avoid", "permit"):
            raise CoverageError(f"did_policy: must be avoid or permit, got {self.did_policy!r}")


def load_scenario_config(path: str | Path) -> ScenarioConfig:
    """Read a scenario config (TOML: ``[demand]``, ``[fleet]``, ``[costs]``,
    ``[drones]``, ``[drone_costs]``); every error names the file, the table and the key (one line).

    Raises
    ------
    CoverageError
        When the file is missing, not TOML, or a value is bad.
    """
    p = Path(path)
    if not p.is_file():
        raise CoverageError(f"{p}: scenario config not found")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CoverageError(f"{p}: not a TOML file ({exc})") from None
    d = ScenarioConfig()
    try:
        top = _Table(p, "", data)
        dem, fl = top.sub("demand"), top.sub("fleet")
        co, dr, dc = top.sub("costs"), top.sub("drones"), top.sub("drone_costs")
        policy = dr.string("did_policy", d.did_policy)
        if policy not in ("avoid", "permit"):
            dr.fail("did_policy", f"must be avoid or permit, got {policy!r}")
        share_h = dem.num("share_hospital", d.share_hospital, high=1.0)
        share_s = dem.num("share_station", d.share_station, high=1.0)
        if share_h + share_s > 1:
            dem.fail("share_station", "share_hospital + share_station must not exceed 1")
        cfg = ScenarioConfig(
            trips_per_resident=dem.num("trips_per_resident", d.trips_per_resident, high=1.0),
            parcels_per_resident=dem.num("parcels_per_resident", d.parcels_per_resident,
                                         high=1.0),
            share_hospital=share_h, share_station=share_s,
            max_trips=dem.integer("max_trips", d.max_trips, low=1) or d.max_trips,
            max_parcels=dem.integer("max_parcels", d.max_parcels, low=1) or d.max_parcels,
            seed=dem.integer("seed", d.seed) or 0,
            drones_per_port=dr.integer("per_port", d.drones_per_port, low=1)
            or d.drones_per_port, did_policy=policy,
            seats=fl.integer("seats", d.seats, low=1) or d.seats,
            costs=CostModel(
                per_vehicle_hour_jpy=co.num("per_vehicle_hour_jpy",
                                            d.costs.per_vehicle_hour_jpy),
                per_km_jpy=co.num("per_km_jpy", d.costs.per_km_jpy),
                per_vehicle_day_jpy=co.num("per_vehicle_day_jpy",
                                           d.costs.per_vehicle_day_jpy)),
            drone_costs=DroneCosts(
                per_drone_day_jpy=dc.num("per_drone_day_jpy", d.drone_costs.per_drone_day_jpy),
                per_flight_hour_jpy=dc.num("per_flight_hour_jpy",
                                           d.drone_costs.per_flight_hour_jpy)))
        for t in (dem, fl, co, dr, dc, top):
            t.done()
    except ProfileError as exc:
        raise CoverageError(str(exc)) from None
    return cfg


@dataclass(frozen=True, slots=True)
class GapCells:
    """The gap's share of every study cell: residents, 65+, bounds, drive time."""

    bounds: np.ndarray
    residents: np.ndarray
    age65plus: np.ndarray
    drive_min: np.ndarray
    mesh: np.ndarray

    @property
    def total(self) -> float:
        return float(self.residents.sum())


def gap_cells(result: CoverageResult, region: Region) -> GapCells:
    """Return the residents in a gap per cell (cell bounds clipped to the map)."""
    cells = result.cells
    g = cells["gap_share"].to_numpy(dtype=float)
    residents = cells["population_counted"].to_numpy(dtype=float) * g
    old = (cells["age65plus"].to_numpy(dtype=float)
           * cells["share_in_area"].to_numpy(dtype=float) * g)
    b = np.asarray(cells.geometry.bounds.to_numpy(), dtype=float).reshape(-1, 4)
    x0, y0, x1, y1 = (float(v) for v in region.bounds)
    clip = np.column_stack([np.maximum(b[:, 0], x0), np.maximum(b[:, 1], y0),
                            np.minimum(b[:, 2], x1), np.minimum(b[:, 3], y1)])
    keep = residents > 0
    return GapCells(bounds=clip[keep], residents=residents[keep], age65plus=old[keep],
                    drive_min=cells["drive_hospital_min"].to_numpy(dtype=float)[keep],
                    mesh=cells["mesh_code"].to_numpy()[keep])


# ------------------------------------------------------------------------------ rides
def _ride_scenarios(region: Region, gap: GapCells, fleets: Sequence[int],
                    cfg: ScenarioConfig, target_min: float, say: Progress
                    ) -> tuple[dict[int, dict[str, Any]], dict[str, Any]]:
    from dispatch.demand import DemandConfig, generate_day, sources_from_region
    from dispatch.kpi import compute_kpis
    from dispatch.simulate import FinalState, SimulationConfig, simulate_day

    n = min(round(cfg.trips_per_resident * gap.total), cfg.max_trips)
    info: dict[str, Any] = {"ride_requests": n}
    rows: dict[int, dict[str, Any]] = {}
    if n == 0 or not any(fleets):
        for f in fleets:
            rows[f] = _no_service(f)
        return rows, info
    sources = replace(sources_from_region(region), cell_bounds=gap.bounds,
                      cell_total=gap.residents, cell_65plus=gap.age65plus)
    day = generate_day(sources, DemandConfig(
        seed=cfg.seed, n_requests=n, n_deliveries=0, stop_based=False,
        share_65plus=float(gap.age65plus.sum() / max(gap.total, 1e-9)),
        share_hospital=cfg.share_hospital, share_station=cfg.share_station))
    from dispatch.demand import travel_table_for_day

    say(f"scenarios: {len(day.rides)} ride requests from the gap cells; road travel times "
        "...")
    table = travel_table_for_day(region, day)
    info["notes"] = list(day.notes)
    for f in fleets:
        if f == 0:
            rows[f] = _no_service(f)
            continue
        say(f"scenarios: simulating {f} vehicles ...")
        t0 = time.perf_counter()
        res = simulate_day(day, table, SimulationConfig(
            seed=cfg.seed, vehicles=f, vans=0, seats=cfg.seats,
            reopt_time_limit_s=30.0, reopt_max_iterations=cfg.reopt_iterations,
            reopt_background=False))
        k = compute_kpis(res)
        bus = [t for t in res.traces if not t.is_van]
        from dispatch.fares import operating_cost

        cost = operating_cost(cfg.costs, vehicle_hours=sum(t.hours for t in bus),
                              km=sum(t.km for t in bus), vehicle_days=len(bus))
        served = int(k["served"] or 0)
        hosp = [r for r in res.records if r.kind == "ride" and r.purpose == "hospital"]
        hosp_served = sum(1 for r in hosp if r.final is FinalState.SERVED)
        hosp_share = hosp_served / len(hosp) if hosp else 0.0
        wait_min = (k["wait_mean_s"] or 0.0) / 60
        factor = k["detour_mean"] or 1.0
        est = wait_min + gap.drive_min * factor
        ok = np.isfinite(est) & (est <= target_min)
        rows[f] = {
            "vehicles": f, "requests": int(k["requests"]), "served": served,
            "served_share": round(served / max(int(k["requests"]), 1), 4),
            "wait_mean_min": _min(k["wait_mean_s"]), "wait_p95_min": _min(k["wait_p95_s"]),
            "ride_mean_min": _min(k["ride_mean_s"]),
            "vehicle_hours": round(float(k["vehicle_hours"] or 0.0), 2),
            "vehicle_km": round(float(k["vehicle_km"] or 0.0), 1),
            "operating_cost_jpy": round(cost), "cost_per_trip_jpy":
                round(cost / served) if served else None,
            "hospital_trips_served_share": round(hosp_share, 4),
            "gap_residents_hospital_trip_under_target": round(
                float((gap.residents * ok).sum() * hosp_share)),
            "_reach": gap.residents * ok * hosp_share,
            "sim_wall_s": round(time.perf_counter() - t0, 1),
        }
    return rows, info


def _min(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 1)


def _no_service(f: int) -> dict[str, Any]:
    return {"vehicles": f, "requests": None, "served": 0, "served_share": 0.0,
            "wait_mean_min": None, "wait_p95_min": None, "ride_mean_min": None,
            "vehicle_hours": 0.0, "vehicle_km": 0.0, "operating_cost_jpy": 0,
            "cost_per_trip_jpy": None, "hospital_trips_served_share": 0.0,
            "gap_residents_hospital_trip_under_target": 0, "_reach": None,
            "sim_wall_s": 0.0}


# ----------------------------------------------------------------------------- drones
@dataclass(slots=True)
class _DroneSite:
    """Candidate droneports and what each reaches."""

    names: list[str]
    lonlat: np.ndarray
    reach: np.ndarray          # (ports, cells) bool: reached within the target


def _drone_site(region: Region, airspace: Any, gap: GapCells, target_min: float,
                spec: Any) -> _DroneSite:
    import shapely

    from maps.airspace import drone_matrix
    from routing.drone import CALM, check_sortie

    blocked = airspace.avoided(spec.cruise_alt_m)
    pois = region.pois[region.pois["kind"] == "hospital"] if len(region.pois) else region.pois
    x0, y0, x1, y1 = (float(v) for v in region.bounds)
    hx = pois.geometry.x.to_numpy() if len(pois) else np.zeros(0)
    hy = pois.geometry.y.to_numpy() if len(pois) else np.zeros(0)
    ok = ((x0 <= hx) & (hx <= x1) & (y0 <= hy) & (hy <= y1)
          & ~shapely.contains_xy(blocked, hx, hy))
    names = [str(n) for n in pois["name"].to_numpy()[ok]] if len(pois) else []
    ports = np.column_stack([hx[ok], hy[ok]])
    centres = (gap.bounds[:, :2] + gap.bounds[:, 2:]) / 2
    reach = np.zeros((len(ports), len(centres)), dtype=bool)
    if len(ports) == 0:
        return _DroneSite(names, ports, reach)
    m = drone_matrix(airspace, ports, centres, cruise_altitude_m=spec.cruise_alt_m)
    # Out and back by the same path; a cell is reached when a 1 kg drop is inside the
    # target after take-off and the battery keeps its reserve.
    one_way = m.length_m / spec.cruise_mps
    for i, j in zip(*np.nonzero(m.reachable & (one_way <= target_min * 60)), strict=True):
        path = [tuple(p) for p in m.path(int(i), int(j))]
        prof = check_sortie(spec, CALM, (float(ports[i, 0]), float(ports[i, 1])),
                            [(float(centres[j, 0]), float(centres[j, 1]))], [1.0],
                            paths=[path, path[::-1]])
        reach[i, j] = bool(prof.ok and prof.drop_offsets_s[0] <= target_min * 60)
    return _DroneSite(names, ports, reach)


def _choose_ports(site: _DroneSite, gap: GapCells, k: int) -> list[int]:
    covered = np.zeros(len(gap.residents), dtype=bool)
    chosen: list[int] = []
    for _ in range(min(k, len(site.names))):
        gain = (site.reach & ~covered) @ gap.residents
        gain[chosen] = -1
        best = int(np.argmax(gain))
        chosen.append(best)
        covered |= site.reach[best]
    return chosen


def _drone_scenarios(region: Region, gap: GapCells, drones: Sequence[int],
                     cfg: ScenarioConfig, target_min: float, say: Progress
                     ) -> tuple[dict[int, dict[str, Any]], dict[str, Any]]:
    rows: dict[int, dict[str, Any]] = {}
    n = min(round(cfg.parcels_per_resident * gap.total), cfg.max_parcels)
    info: dict[str, Any] = {"parcels": n}
    if not any(drones):
        for d in drones:
            rows[d] = _no_drones(d, n)
        return rows, info
    import random

    from maps.airspace import airspace_for_region
    from routing.drone import DroneJob, Droneport, DroneProblem, DroneSpec
    from routing.drone_plan import AirspaceAir, DronePlanParams, drone_points, plan_drones
    from routing.model import TimeWindow

    spec = DroneSpec()
    say("scenarios: drone reach of the gap cells from the hospitals ...")
    airspace = airspace_for_region(region, did_policy=cfg.did_policy)  # type: ignore[arg-type]
    site = _drone_site(region, airspace, gap, target_min, spec)
    info["droneport_candidates"] = len(site.names)
    rng = random.Random(cfg.seed)
    jobs: list[DroneJob] = []
    weights = gap.residents.tolist()
    for k in range(n):
        c = rng.choices(range(len(weights)), weights=weights)[0]
        a0, b0, a1, b1 = gap.bounds[c]
        ready = rng.randrange(8 * 3600, 15 * 3600, 900)
        jobs.append(DroneJob(id=f"med-{k + 1:03d}", lon=round(rng.uniform(a0, a1), 6),
                             lat=round(rng.uniform(b0, b1), 6),
                             weight_kg=round(rng.uniform(0.2, 1.5), 2),
                             window=TimeWindow(earliest=ready, latest=ready + 3 * 3600),
                             priority=2))
    for d in drones:
        if d == 0 or not site.names:
            rows[d] = _no_drones(d, n)
            continue
        n_ports = math.ceil(d / cfg.drones_per_port)
        chosen = _choose_ports(site, gap, n_ports)
        left = d
        ports = []
        for i, p in enumerate(chosen):
            per = min(cfg.drones_per_port, left)
            left -= per
            ports.append(Droneport(id=f"port-{i + 1}", lon=round(float(site.lonlat[p, 0]), 6),
                                   lat=round(float(site.lonlat[p, 1]), 6), drones=per))
        say(f"scenarios: planning {d} drones at {len(ports)} droneports for {n} parcels ...")
        t0 = time.perf_counter()
        problem = DroneProblem(jobs=tuple(jobs), ports=tuple(ports), spec=spec)
        legs = AirspaceAir(airspace=airspace, cruise_altitude_m=spec.cruise_alt_m).legs(
            drone_points(problem))
        # Bounded by iterations (the time limit is a cap): the same seed gives the same
        # plan on any machine, and on a batch worker as in this process.
        plan = plan_drones(problem, legs, DronePlanParams(
            time_limit_s=cfg.drone_time_limit_s, seed=cfg.seed,
            max_iterations=cfg.drone_iterations))
        delivered = len(plan.served())
        hours = sum(s.landing_s - s.takeoff_s for s in plan.sorties) / 3600
        cost = cfg.drone_costs.per_drone_day_jpy * d + cfg.drone_costs.per_flight_hour_jpy * hours
        lead = [s.drop_s[i] - jobs[j].window.earliest for s in plan.sorties
                for i, j in enumerate(s.jobs)]
        reach = site.reach[chosen].any(axis=0)
        refused: dict[str, int] = {}
        for r in plan.refused:
            refused[r.reason] = refused.get(r.reason, 0) + 1
        rows[d] = {
            "drones": d, "droneports": " / ".join(site.names[p] for p in chosen),
            "parcels": n, "parcels_by_drone": delivered,
            "parcels_by_drone_share": round(delivered / n, 4) if n else 0.0,
            "parcels_refused": "; ".join(f"{k} {v}" for k, v in sorted(refused.items())),
            "delivery_after_ready_mean_min": round(float(np.mean(lead)) / 60, 1) if lead
            else None, "flight_hours": round(hours, 2), "drone_cost_jpy": round(cost),
            "cost_per_delivery_jpy": round(cost / delivered) if delivered else None,
            "gap_residents_drone_reach_under_target": round(float(gap.residents[reach].sum())),
            "_reach": gap.residents * reach, "plan_wall_s": round(time.perf_counter() - t0, 1),
        }
    return rows, info


def _no_drones(d: int, n: int) -> dict[str, Any]:
    return {"drones": d, "droneports": "", "parcels": n, "parcels_by_drone": 0,
            "parcels_by_drone_share": 0.0, "parcels_refused": "",
            "delivery_after_ready_mean_min": None,
            "flight_hours": 0.0, "drone_cost_jpy": 0, "cost_per_delivery_jpy": None,
            "gap_residents_drone_reach_under_target": 0, "_reach": None, "plan_wall_s": 0.0}


# ------------------------------------------------------------------------------ sweep
@dataclass(slots=True, kw_only=True)
class ScenarioResult:
    """One row per (vehicles, drones), what the sweep drew, and the notes."""

    rows: list[dict[str, Any]]
    info: dict[str, Any]
    config: ScenarioConfig
    notes: list[str] = field(default_factory=list)


def run_scenarios(region: Region, result: CoverageResult, fleets: Sequence[int],
                  drones: Sequence[int] = (0,), config: ScenarioConfig | None = None, *,
                  progress: Progress | None = None) -> ScenarioResult:
    """Simulate every fleet size and plan every drone count for the gap residents.

    Raises
    ------
    CoverageError
        When a fleet or drone count is negative, or the study found nobody in a gap.
    """
    cfg = config or ScenarioConfig()
    say = progress or (lambda _m: None)
    for name, values in (("fleet", fleets), ("drones", drones)):
        if not values or any(v < 0 for v in values):
            raise CoverageError(f"{name}: need counts >= 0, got {list(values)}")
    gap = gap_cells(result, region)
    if gap.total <= 0:
        raise CoverageError("scenarios: the study found no resident in a transport gap")
    target = float(result.summary["thresholds"]["hospital_target_min"])
    t0 = time.perf_counter()
    rides, rinfo = _ride_scenarios(region, gap, sorted(set(fleets)), cfg, target, say)
    t_rides = time.perf_counter() - t0
    flights, dinfo = _drone_scenarios(region, gap, sorted(set(drones)), cfg, target, say)
    rows: list[dict[str, Any]] = []
    for f in sorted(set(fleets)):
        for d in sorted(set(drones)):
            r, q = rides[f], flights[d]
            either = np.zeros_like(gap.residents)
            for part in (r["_reach"], q["_reach"]):
                if part is not None:
                    either = np.maximum(either, part)
            row = {k: v for k, v in r.items() if not k.startswith("_")}
            row.update({k: v for k, v in q.items() if not k.startswith("_")})
            row["gap_residents_either_under_target"] = round(float(either.sum()))
            rows.append(row)
    notes = [
        f"{rinfo['ride_requests']} ride requests ({cfg.trips_per_resident:g} per gap resident "
        f"and day) and {dinfo['parcels']} medicine parcels ({cfg.parcels_per_resident:g} per "
        "gap resident) drawn from the gap cells, weighted by their residents in a gap "
        f"(seed {cfg.seed}); rates and costs are assumptions (config file)",
        "rides: door to door; destinations hospitals, stations and busy stops standing in "
        "for shops (the data has no shop locations); one simulated weekday per fleet size",
        "hospital trip under the target: an estimate per cell (mean wait + drive time to the "
        "nearest hospital x mean ride/direct ratio), counted in proportion to the hospital "
        "trips served",
        "drone reach: a 1 kg drop at the cell centre from a chosen droneport (hospital) "
        "within the target, around avoided airspace, battery reserve kept",
        f"drones: DID policy {cfg.did_policy!r} ('avoid': densely inhabited districts are "
        "flown around and a parcel inside one is refused as unreachable; 'permit': flown "
        "over under a Level 4 permit, listed per flight)",
    ]
    return ScenarioResult(rows=rows, config=cfg, notes=notes, info={
        **rinfo, **dinfo, "gap_residents": round(gap.total),
        "hospital_target_min": target, "rides_wall_s": round(t_rides, 1),
        "wall_s": round(time.perf_counter() - t0, 1), "config": asdict(cfg)})


# ----------------------------------------------------------------------------- output
SCENARIO_COLUMNS = (
    "vehicles", "drones", "requests", "served", "served_share", "wait_mean_min",
    "wait_p95_min", "ride_mean_min", "vehicle_hours", "vehicle_km", "operating_cost_jpy",
    "cost_per_trip_jpy", "hospital_trips_served_share",
    "gap_residents_hospital_trip_under_target", "droneports", "parcels", "parcels_by_drone",
    "parcels_by_drone_share", "parcels_refused", "delivery_after_ready_mean_min", "flight_hours",
    "drone_cost_jpy", "cost_per_delivery_jpy", "gap_residents_drone_reach_under_target",
    "gap_residents_either_under_target")


def write_scenarios(out: Path, res: ScenarioResult) -> list[Path]:
    """Write ``scenarios.csv``, ``scenarios.json`` and ``scenarios.png``; return them."""
    import csv
    import json

    out.mkdir(parents=True, exist_ok=True)
    csv_path, json_path, png_path = (out / "scenarios.csv", out / "scenarios.json",
                                     out / "scenarios.png")
    with csv_path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=SCENARIO_COLUMNS, extrasaction="ignore")
        w.writeheader()
        for r in res.rows:
            w.writerow({k: "" if r.get(k) is None else r.get(k) for k in SCENARIO_COLUMNS})
    json_path.write_text(json.dumps({"rows": res.rows, "info": res.info, "notes": res.notes},
                                    indent=2, ensure_ascii=False, default=str),
                         encoding="utf-8")
    _plot(res, png_path)
    return [csv_path, json_path, png_path]


def _plot(res: ScenarioResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fleets = sorted({r["vehicles"] for r in res.rows})
    by_f = {r["vehicles"]: r for r in res.rows}
    drones = sorted({r["drones"] for r in res.rows})
    by_d = {r["drones"]: r for r in res.rows}
    n_panels = 2 if len(drones) > 1 else 1
    fig, axes = plt.subplots(1, n_panels, figsize=(5.5 * n_panels, 4), squeeze=False)
    ax = axes[0, 0]
    ax.plot(fleets, [100 * by_f[f]["served_share"] for f in fleets], "o-", color="#1f77b4")
    ax.set_xlabel("on-demand vehicles")
    ax.set_ylabel("ride requests served (%)", color="#1f77b4")
    ax.set_ylim(0, 105)
    ax.set_xticks(fleets)
    cost = [(f, by_f[f]["cost_per_trip_jpy"]) for f in fleets
            if by_f[f]["cost_per_trip_jpy"] is not None]
    ax2 = ax.twinx()
    if cost:
        ax2.plot([c[0] for c in cost], [c[1] for c in cost], "s--", color="#d62728")
    ax2.set_ylabel("cost per served trip (JPY)", color="#d62728")
    ax2.set_ylim(0, 1.2 * max((c[1] for c in cost), default=1))
    ax.set_title(f"Gap residents' rides ({res.info['ride_requests']} requests a day)")
    if n_panels == 2:
        bx = axes[0, 1]
        bx.bar([str(d) for d in drones], [100 * by_d[d]["parcels_by_drone_share"]
                                          for d in drones], color="#2ca02c")
        bx.set_xlabel("drones")
        bx.set_ylabel("medicine parcels flown (%)")
        bx.set_ylim(0, 105)
        bx.set_title(f"Medicine by drone ({res.info['parcels']} parcels a day, DIDs: "
                     f"{res.config.did_policy})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def scenarios_markdown(res: ScenarioResult) -> str:
    """A Markdown section for ``summary.md``: the table and the notes."""
    lines = ["", "## Scenarios", "",
             "| vehicles | drones | served | wait mean / p95 (min) | ride (min) | "
             "vehicle-h | cost/trip (JPY) | parcels by drone | cost/parcel (JPY) | "
             f"gap residents under {res.info['hospital_target_min']:g} min (trip / drone "
             "/ either) |", "|" + "---|" * 10]

    def f(v: Any) -> str:
        return "-" if v is None else f"{v:,}" if isinstance(v, int) else f"{v:g}"

    for r in res.rows:
        lines.append(
            f"| {r['vehicles']} | {r['drones']} | {100 * r['served_share']:.0f} % | "
            f"{f(r['wait_mean_min'])} / {f(r['wait_p95_min'])} | {f(r['ride_mean_min'])} | "
            f"{f(r['vehicle_hours'])} | {f(r['cost_per_trip_jpy'])} | "
            f"{r['parcels_by_drone']} of {r['parcels']} | {f(r['cost_per_delivery_jpy'])} | "
            f"{r['gap_residents_hospital_trip_under_target']:,} / "
            f"{r['gap_residents_drone_reach_under_target']:,} / "
            f"{r['gap_residents_either_under_target']:,} |")
    lines += ["", *[f"- {n}" for n in res.notes], ""]
    return "\n".join(lines)
