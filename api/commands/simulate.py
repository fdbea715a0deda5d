"""``hakobu simulate`` and ``hakobu demo``: replay a service day and report KPIs.

Both run on the built-in Kumamoto region or on the user's files (``--osm`` with
``--gtfs``, ``--population``, ``--pois`` as ``hakobu region info`` takes them).
``simulate`` generates a seeded day, or replays trip records (``--trips FILE.csv``, the
format of :mod:`dispatch.trips`); the fleet and depot come from flags or a fleet file
(``--fleet FILE.toml|.json``), flags winning over the file. ``--profile FILE.toml`` (a
service profile, :mod:`dispatch.profile`) dispatches the day by its rules, classes and
fares on ``--date`` (default: the first service day from today on).

Every flag is checked before the slow work starts; a bad one ends the run with one
``error:`` line naming the flag (or file, or row) and exit status 2.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from api.commands import DEFAULT_OUT, RegionFiles, check_out, load_region
from api.commands import fail as _fail
from api.commands import progress as _progress

if TYPE_CHECKING:
    from datetime import date

    from dispatch.demand import DemandDay
    from dispatch.profile import ServiceProfile
    from dispatch.trips import BadRow, FleetSpec, TripsFile
    from maps.region import Region

logger = logging.getLogger(__name__)


#: Solver iterations per re-optimization in ``simulate``/``demo``, and the time cap: far
#: above what the iterations take (a fraction of a second on a quiet machine), so that a
#: day stays the same on a slow or busy machine; it only guards against a runaway run.
REOPT_ITERATIONS = 100
REOPT_CAP_S = 30.0
#: Bad trip rows printed one per line before the rest are only counted.
MAX_ROWS_SHOWN = 20


class OnBadRow(StrEnum):
    """What ``simulate --trips`` does with a bad row."""

    SKIP = "skip"
    FAIL = "fail"


@dataclass(frozen=True, slots=True, kw_only=True)
class RunOptions:
    """What ``simulate`` replays (``demo`` uses the defaults).

    ``None`` means "not given": the fleet file's value, else the built-in default.
    """

    seed: int = 0
    vehicles: int | None = None
    requests: int | None = None
    deliveries: int | None = None
    vans: int | None = None
    seats: int | None = None
    wheelchairs: int | None = None
    van_parcels: int | None = None
    delays: int = 0
    breakdowns: int = 0
    depot: str | None = None
    fleet: Path | None = None
    trips: Path | None = None
    on_bad_row: OnBadRow = OnBadRow.FAIL
    region: RegionFiles = field(default_factory=RegionFiles)
    profile: Path | None = None
    date: str | None = None
    drones: int = 0
    did_policy: str = "avoid"


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """Resolved inputs of a run: every number in range, files read."""

    seed: int
    vehicles: int
    requests: int
    deliveries: int | None
    vans: int
    seats: int
    wheelchairs: int
    van_parcels: int
    delays: int
    breakdowns: int
    depot: tuple[float, float] | None
    shift: tuple[int | None, int | None]
    trips: TripsFile | None
    on_bad_row: OnBadRow
    region: RegionFiles
    profile: ServiceProfile | None = None
    service_date: date | None = None
    drones: int = 0
    did_policy: str = "avoid"


#: (flag, lowest, highest) of every number a run takes.
_RANGES: dict[str, tuple[str, int, int]] = {
    "seed": ("--seed", 0, 2**32 - 1),
    "vehicles": ("--vehicles", 1, 1000),
    "requests": ("--requests", 0, 20_000),
    "deliveries": ("--deliveries", 0, 5_000),
    "vans": ("--vans", 0, 1000),
    "seats": ("--seats", 1, 100),
    "wheelchairs": ("--wheelchairs", 0, 20),
    "van_parcels": ("--van-parcels", 1, 1000),
    "delays": ("--delays", 0, 1000),
    "breakdowns": ("--breakdowns", 0, 1000),
    "drones": ("--drones", 0, 200),
}
_DEFAULTS = {"vehicles": 5, "requests": 150, "deliveries": 30, "vans": 1, "seats": 8,
             "wheelchairs": 1, "van_parcels": 30}


def _check_range(attr: str, value: int | None, source: str | None = None) -> None:
    if value is None:
        return
    flag, lo, hi = _RANGES[attr]
    if not lo <= value <= hi:
        where = f"{source}: {attr}" if source else flag
        raise _fail(f"{where} must lie in {lo}..{hi}, got {value}")


def _parse_depot(text: str) -> tuple[float, float]:
    parts = text.replace(" ", "").split(",")
    try:
        lon, lat = (float(p) for p in parts)
    except ValueError:
        raise _fail(f"--depot expects LON,LAT (e.g. 130.7079,32.8031), got {text!r}") from None
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise _fail(f"--depot {text}: longitude must lie in [-180, 180] and latitude in "
                    "[-90, 90] (the order is LON,LAT)")
    return lon, lat


def _read_inputs(o: RunOptions) -> tuple[FleetSpec | None, TripsFile | None]:
    from dispatch.trips import TripsError, read_fleet, read_trips

    try:
        fleet = read_fleet(o.fleet) if o.fleet is not None else None
    except TripsError as exc:
        raise _fail(f"--fleet {exc}") from None
    try:
        trips = read_trips(o.trips) if o.trips is not None else None
    except TripsError as exc:
        raise _fail(f"--trips {exc}") from None
    return fleet, trips


def _check_combinations(o: RunOptions) -> None:
    from api.inputs import InputError, check_region_files

    r = o.region
    try:
        # File kinds sniffed from their bytes, before the slow road build.
        check_region_files(r.osm, gtfs=r.gtfs, population=r.population, pois=r.pois,
                           no_fly=r.no_fly)
    except InputError as exc:
        raise _fail(str(exc)) from None
    if o.trips is not None and o.requests is not None:
        raise _fail("--requests cannot be combined with --trips (the file gives the rides)")
    if o.trips is not None and o.deliveries:
        raise _fail("--deliveries cannot be combined with --trips (the file holds rides only)")


def plan_run(o: RunOptions) -> Plan:
    """Check every flag and read the trip and fleet files, before any slow work.

    Raises
    ------
    typer.Exit
        After printing one ``error:`` line naming the flag, file or row.
    """
    for attr in _RANGES:
        _check_range(attr, getattr(o, attr))
    if o.did_policy not in ("avoid", "permit"):
        raise _fail(f"--did-policy: {o.did_policy!r} is not avoid or permit")
    _check_combinations(o)
    fleet, trips = _read_inputs(o)
    values: dict[str, int] = {}
    for attr, file_attr in (("vehicles", "buses"), ("vans", "vans"), ("seats", "seats"),
                            ("wheelchairs", "wheelchairs"), ("van_parcels", "van_parcels")):
        given = getattr(o, attr)
        from_file = getattr(fleet, file_attr) if fleet is not None else None
        values[attr] = given if given is not None else (
            from_file if from_file is not None else _DEFAULTS[attr])
    if values["vehicles"] < 1:
        raise _fail(f"--fleet {o.fleet}: buses.count must be at least 1 (ride vehicles)")
    if o.breakdowns > values["vehicles"]:
        raise _fail(f"--breakdowns ({o.breakdowns}) must not exceed the ride vehicles "
                    f"({values['vehicles']})")
    if trips is not None:
        _report_bad_rows(f"--trips {o.trips}", trips.bad_rows, len(trips.trips), o.on_bad_row)
    if fleet is not None and trips is None:
        _check_shift(o.fleet, fleet)
    depot = _parse_depot(o.depot) if o.depot is not None else (
        fleet.depot_lonlat if fleet is not None else None)
    profile, service_date = _read_profile(o)
    return Plan(profile=profile, service_date=service_date,
                seed=o.seed, requests=o.requests if o.requests is not None else (
                    0 if trips is not None else _DEFAULTS["requests"]),
                deliveries=o.deliveries if trips is None else 0, delays=o.delays,
                breakdowns=o.breakdowns, depot=depot,
                shift=(fleet.shift_start_s, fleet.shift_end_s) if fleet else (None, None),
                trips=trips, on_bad_row=o.on_bad_row, region=o.region, drones=o.drones,
                did_policy=o.did_policy, **values)


def _read_profile(o: RunOptions) -> tuple[ServiceProfile | None, date | None]:
    """Read ``--profile`` and resolve ``--date`` (the first service day from today)."""
    from datetime import date, timedelta

    if o.profile is None:
        if o.date is not None:
            raise _fail("--date needs --profile (the date of the service day it runs)")
        return None, None
    from dispatch.errors import ProfileError
    from dispatch.profile import load_profile

    try:
        profile = load_profile(o.profile)
    except ProfileError as exc:
        raise _fail(f"--profile {exc}") from None
    if o.date is not None:
        try:
            day = date.fromisoformat(o.date)
        except ValueError:
            raise _fail(f"--date expects YYYY-MM-DD, got {o.date!r}") from None
        if profile.calendar:
            ok, why = profile.service_calendar().is_service_day(day)
            if not ok:
                typer.echo(f"warning: --date {day}: not a service day of the profile ({why}): "
                           "every ride will be refused", err=True)
        return profile, day
    day = date.today()
    if profile.calendar:
        cal = profile.service_calendar()
        for _ in range(366):
            if cal.is_service_day(day)[0]:
                break
            day += timedelta(days=1)
    return profile, day


def _check_shift(path: Path | None, fleet: FleetSpec) -> None:
    """A generated day needs 4 service hours (appointments and their returns)."""
    from dispatch.demand import DemandConfig

    d = DemandConfig()
    start = d.service_start_s if fleet.shift_start_s is None else fleet.shift_start_s
    end = d.service_end_s if fleet.shift_end_s is None else fleet.shift_end_s
    a = f"{start // 3600:02d}:{start % 3600 // 60:02d}"
    b = f"{end // 3600:02d}:{end % 3600 // 60:02d}"
    if end <= start:
        raise _fail(f"--fleet {path}: shift.start {a} is not before the service end {b} "
                    "(shift.end, or the default)")
    if end - start < 4 * 3600:
        raise _fail(f"--fleet {path}: shift {a}-{b} is shorter than the 4 hours a generated "
                    "day needs (appointments and their returns)")


def _report_bad_rows(source: str, bad: tuple[BadRow, ...] | list[BadRow], n_good: int,
                     policy: OnBadRow) -> None:
    """Stop on the first bad row (``fail``), or warn about each (``skip``)."""
    if not bad:
        if n_good == 0:
            raise _fail(f"{source}: no trips in the file")
        return
    if policy is OnBadRow.FAIL:
        more = f" ({len(bad)} bad rows; --on-bad-row skip replays the others)" if len(
            bad) > 1 else " (--on-bad-row skip replays the others)"
        raise _fail(bad[0].describe(source) + more)
    for b in bad[:MAX_ROWS_SHOWN]:
        typer.echo(f"warning: skipped {b.describe(source)}", err=True)
    if len(bad) > MAX_ROWS_SHOWN:
        typer.echo(f"warning: ... and {len(bad) - MAX_ROWS_SHOWN} more bad rows "
                   "(all listed in report.json)", err=True)
    if n_good == 0:
        raise _fail(f"{source}: every row is bad, nothing to replay")


# --------------------------------------------------------------------------- run
def _check_depot(region: Region, depot: tuple[float, float]) -> None:
    from maps.snap import DEFAULT_MAX_SNAP_M, snap_or_mask

    _, ok = snap_or_mask(region.edge_index(), [depot])
    if not ok[0]:
        raise _fail(f"--depot {depot[0]},{depot[1]}: more than {DEFAULT_MAX_SNAP_M:g} m from "
                    f"the roads of region {region.name}")


def _trip_day(p: Plan, region: Region, inputs: dict[str, Any]) -> DemandDay:
    from dispatch.demand import day_from_trips, sources_from_region, trips_on_region

    assert p.trips is not None
    good, off_map = trips_on_region(p.trips.trips, region)
    _report_bad_rows(f"--trips {p.trips.source}", off_map, len(good), p.on_bad_row)
    depot = p.depot or sources_from_region(region).depot_lonlat
    bad = sorted([*p.trips.bad_rows, *off_map], key=lambda b: b.line)
    inputs.update({"trips": p.trips.source, "trips_read": len(good),
                   "bad_rows": [b.to_dict() for b in bad]})
    return day_from_trips(good, depot_lonlat=depot, service_start_s=p.shift[0],
                          service_end_s=p.shift[1], source=p.trips.source)


def _generated_day(p: Plan, region: Region) -> DemandDay:
    from dispatch.demand import DemandConfig, generate_day, sources_from_region

    sources = sources_from_region(region, depot_lonlat=p.depot)
    if p.profile is not None:
        from dispatch.demand import DemandError, sources_within
        from dispatch.rules import points_within

        profile = p.profile
        try:
            sources = sources_within(sources, lambda ll: points_within(profile, ll))
        except DemandError as exc:
            raise _fail(f"--profile {profile.source}: {exc}") from None
        typer.echo("note: demand kept to the profile's service area (homes in its zones; "
                   "stops, hospitals and other places in a zone or at a named destination)",
                   err=True)
        if p.depot is not None:
            sources = replace(sources, depot_lonlat=p.depot)
    deliveries = p.deliveries
    has_shop = len(sources.hospital_lonlat) + len(sources.poi_lonlat) > 0
    if deliveries is None:
        deliveries = _DEFAULTS["deliveries"] if has_shop else 0
        if not has_shop:
            typer.echo("note: the region has no POI to ship from: no deliveries "
                       "(give --pois)", err=True)
    elif deliveries and not has_shop:
        raise _fail(f"--deliveries {deliveries}: the region has no hospital or other POI to "
                    "ship from; give --pois or --deliveries 0")
    cfg = DemandConfig(seed=p.seed, n_requests=p.requests, n_deliveries=deliveries)
    if p.profile is not None and len(region.population):
        # Rider classes: the 65+ share of riders is the census mesh's elderly share.
        pop = region.population
        total = float(pop["total"].sum())
        if total > 0:
            share = float(pop["age65plus"].sum()) / total
            cfg = replace(cfg, share_65plus=share)
            typer.echo(f"note: rider classes: {share:.1%} of riders are 65+ (the census "
                       "mesh's 65+ share); a wheelchair rider holds a disability card; "
                       "a quarter of 65+ riders returned their licence (assumption)",
                       err=True)
    if p.shift != (None, None):
        start = cfg.service_start_s if p.shift[0] is None else p.shift[0]
        end = cfg.service_end_s if p.shift[1] is None else p.shift[1]
        # Appointments stay inside the service hours, with room for the return trip.
        cfg = replace(cfg, service_start_s=start, service_end_s=end,
                      appointment_min_s=max(cfg.appointment_min_s, start + 3600),
                      appointment_max_s=max(max(cfg.appointment_min_s, start + 3600),
                                            min(cfg.appointment_max_s, end - 9000)))
    return generate_day(sources, cfg)


def _drone_fleet(p: Plan, region: Region, day: DemandDay, table: Any) -> Any:
    """The day's drones at droneports at its shops (``None`` without ``--drones``)."""
    if not p.drones:
        return None
    from dispatch.engine.drones import DroneFleet, day_droneports
    from maps.airspace import airspace_for_region

    ports = day_droneports(day.places, p.drones)
    if not ports:
        typer.echo("warning: --drones: the day has no shop for a droneport (no deliveries); "
                   "no drone flies", err=True)
        return None
    _progress(f"drone paths from {len(ports)} droneports at the shops (DIDs "
              f"{p.did_policy}) ...")
    osm = [p.region.osm] if p.region.osm is not None else []
    if p.region.osm is not None and not p.region.no_fly:
        typer.echo("note: --drones on your map: drones avoid the restricted areas of the OSM "
                   "file only (give the DID and airport layers with --no-fly)", err=True)
    airspace = airspace_for_region(region, did_policy=p.did_policy,  # type: ignore[arg-type]
                                   osm=osm)
    fleet = DroneFleet.build(table, ports, airspace)
    inside = [q.id for q, paths in zip(ports, fleet.paths, strict=True)
              if all(x is None for x in paths)]
    if inside:
        typer.echo(f"warning: --drones: droneport(s) {', '.join(inside)} lie in avoided "
                   "airspace (a DID under --did-policy avoid): their drones cannot take off",
                   err=True)
    return fleet


def run(plan: Plan, out: Path) -> dict[str, Any]:
    """Load the region, build or read the day, replay it, write the report; return KPIs."""
    from dispatch.demand import travel_table_for_day
    from dispatch.report import kpi_table, write_report
    from dispatch.simulate import SimulationConfig, simulate_day
    from maps.region import DEFAULT_ATTRIBUTION

    p = plan
    if p.vans == 0 and p.deliveries != 0 and p.trips is None:
        typer.echo("warning: --vans 0: the day's deliveries have no van and none will be "
                   "served (give --vans N or --deliveries 0)", err=True)
    t0 = time.perf_counter()
    region = load_region(p.region, _progress)
    if p.depot is not None:
        _check_depot(region, p.depot)
    inputs: dict[str, Any] = {"region": region.name}
    if p.region.osm is not None:
        from api.inputs import region_warnings

        for line in region_warnings(region, gtfs=p.region.gtfs,
                                    population=p.region.population, pois=p.region.pois):
            typer.echo(f"warning: {line}", err=True)
    _progress(f"region ready in {time.perf_counter() - t0:.1f} s; preparing demand ...")
    day = _trip_day(p, region, inputs) if p.trips is not None else _generated_day(p, region)
    _progress(f"{len(day.rides)} rides, {len(day.deliveries)} deliveries on "
              f"{len(day.places)} places; computing road travel times ...")
    table = travel_table_for_day(region, day)
    drones = _drone_fleet(p, region, day, table)
    classes: dict[str, str] = {}
    if p.profile is not None:
        from dispatch.simulate import assign_classes

        classes = assign_classes(day, p.profile, p.seed) if p.trips is None else {}
        _progress(f"service profile {p.profile.name!r} on {p.service_date} "
                  f"({p.service_date:%a})")
        inputs.update({"profile": str(p.profile.source), "service_date": str(p.service_date)})
    _progress("dispatching the day ...")
    # Re-optimization bounded by iterations (the time limit is only a cap) so the same
    # seed gives the same day on any machine.
    result = simulate_day(day, table, SimulationConfig(
        seed=p.seed, vehicles=p.vehicles, vans=p.vans if day.deliveries else 0,
        seats=p.seats, wheelchairs=p.wheelchairs, van_parcels=p.van_parcels,
        delays=p.delays, breakdowns=p.breakdowns,
        # Trip records say who travelled: no cancellations or no-shows are drawn on top.
        p_cancel=0.0 if p.trips is not None else 0.03,
        p_no_show=0.0 if p.trips is not None else 0.02,
        reopt_time_limit_s=REOPT_CAP_S, reopt_max_iterations=REOPT_ITERATIONS,
        profile=p.profile, service_date=p.service_date, rider_classes=classes),
        progress=_progress, drones=drones)
    attribution = DEFAULT_ATTRIBUTION if p.region.osm is None else (
        "Roads © OpenStreetMap contributors (ODbL 1.0).")
    kpis = write_report(result, out, road=region.road, attribution=attribution, inputs=inputs)
    typer.echo(kpi_table(kpis))
    if p.profile is not None:
        typer.echo(profile_table(kpis))
    typer.echo(f"origins: {day.placement.origins}")
    typer.echo(f"destinations: {day.placement.destinations}")
    for note in result.notes:
        typer.echo(f"note: {note}")
    if p.profile is not None and not p.profile.boarding.door_to_door:
        typer.echo("note: under the profile, a rider picked up or set down away from its "
                   "boarding points needs a door-to-door class (else not_a_boarding_point)")
    typer.echo(f"wrote {out / 'kpis.json'}, {out / 'report.json'}, {out / 'map.html'} and "
               f"plots ({time.perf_counter() - t0:.1f} s)")
    return kpis


def profile_table(kpis: dict[str, Any]) -> str:
    """Return the service-profile KPIs (refusals by rule, classes, money) as text."""
    def jpy(v: Any) -> str:
        return "n/a" if v is None else f"{v:,.0f} JPY"

    def counts(d: dict[str, int] | None) -> str:
        return "n/a" if not d else ", ".join(f"{k} {v}" for k, v in d.items())

    ratio = kpis.get("farebox_ratio")
    rows = [
        ("rejected by reason", counts(kpis.get("rejected_by_reason"))),
        ("served by class", counts(kpis.get("served_by_class"))),
        ("served by area", counts(kpis.get("served_by_area"))),
        ("fare revenue", jpy(kpis.get("fare_revenue_jpy"))),
        ("operating cost", jpy(kpis.get("operating_cost_jpy"))),
        ("farebox ratio", "n/a" if ratio is None else f"{ratio:.1%}"),
        ("subsidy per rider", jpy(kpis.get("subsidy_per_rider_jpy"))),
    ]
    width = max(len(a) for a, _ in rows)
    return "\n".join(f"{a:<{width}}  {b}" for a, b in rows)


def _run_or_fail(options: RunOptions, out: Path) -> None:
    plan = plan_run(options)
    check_out(out)
    try:
        run(plan, out)
    except (ValueError, OSError) as exc:
        raise _fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from exc


# --------------------------------------------------------------------------- commands
OsmOpt = Annotated[Path | None, typer.Option(
    help="OSM file (.osm, .osm.bz2, .osm.pbf) of your region; default: built-in Kumamoto.")]
GtfsOpt = Annotated[list[Path] | None, typer.Option(
    help="GTFS / GTFS-JP zip (repeatable; needs --osm).")]
PopulationOpt = Annotated[Path | None, typer.Option(
    help="e-Stat 500 m mesh CSV (T001101, CP932; needs --osm). Without it demand follows "
         "the roads.")]
PoisOpt = Annotated[list[Path] | None, typer.Option(
    help="GeoJSON points, e.g. hospitals (repeatable; needs --osm).")]
OutOpt = Annotated[Path, typer.Option(help="Output directory.")]
ProfileOpt = Annotated[Path | None, typer.Option(
    help="Service profile (TOML: area, OD and booking rules, rider classes, fares, costs); "
         "default: no rules.")]
DateOpt = Annotated[str | None, typer.Option(
    "--date", help="Service date YYYY-MM-DD with --profile (default: the first service "
                   "day from today).")]
DronesOpt = Annotated[int, typer.Option(
    "--drones", help="Drones at droneports at the day's shops; deliveries then fly when a "
                     "drone fits, else go by van.")]
NoFlyOpt = Annotated[list[Path] | None, typer.Option(
    "--no-fly", help="No-fly GeoJSON layer for the drones (DID, airport grounds, geofence; "
                     "repeatable; needs --osm).")]
DidPolicyOpt = Annotated[str, typer.Option(
    "--did-policy", help="Drones over densely inhabited districts: avoid or permit "
                         "(a Level 4 permission).")]


def _region_files(osm: Path | None, gtfs: list[Path] | None, population: Path | None,
                  pois: list[Path] | None, no_fly: list[Path] | None = None) -> RegionFiles:
    return RegionFiles(osm=osm, gtfs=tuple(gtfs or ()), population=population,
                       pois=tuple(pois or ()), no_fly=tuple(no_fly or ()))


# Each typer option is a parameter: the command's flags are its signature.
def simulate(  # noqa: PLR0913
    seed: Annotated[int, typer.Option(help="Seed of demand and rider behaviour.")] = 0,
    vehicles: Annotated[int | None, typer.Option(
        help="Ride vehicles (default: fleet file, else 5).")] = None,
    requests: Annotated[int | None, typer.Option(
        help="Generated ride requests (default: 150).")] = None,
    deliveries: Annotated[int | None, typer.Option(
        help="Generated shop-to-home deliveries (default: 30; 0 without POIs).")] = None,
    vans: Annotated[int | None, typer.Option(
        help="Delivery vans (default: fleet file, else 1).")] = None,
    seats: Annotated[int | None, typer.Option(
        help="Seats per ride vehicle (default: fleet file, else 8).")] = None,
    wheelchairs: Annotated[int | None, typer.Option(
        help="Wheelchair spaces per ride vehicle (default: fleet file, else 1).")] = None,
    van_parcels: Annotated[int | None, typer.Option(
        help="Parcels per van (default: fleet file, else 30).")] = None,
    delays: Annotated[int, typer.Option(help="Seeded 15-minute traffic delays.")] = 0,
    breakdowns: Annotated[int, typer.Option(help="Ride vehicles that break down.")] = 0,
    depot: Annotated[str | None, typer.Option(
        help="Depot as LON,LAT (default: fleet file, else the stop nearest the demand's "
             "centre).")] = None,
    fleet: Annotated[Path | None, typer.Option(
        help="Fleet file (.toml or .json: depot, buses, vans, shift); flags win.")] = None,
    trips: Annotated[Path | None, typer.Option(
        help="Replay trip records from this CSV instead of generating rides.")] = None,
    on_bad_row: Annotated[OnBadRow, typer.Option(
        help="With --trips: stop at the first bad row (fail) or skip bad rows.")] = (
        OnBadRow.FAIL),
    osm: OsmOpt = None,
    gtfs: GtfsOpt = None,
    population: PopulationOpt = None,
    pois: PoisOpt = None,
    out: OutOpt = DEFAULT_OUT,
    profile: ProfileOpt = None,
    service_date: DateOpt = None,
    drones: DronesOpt = 0,
    did_policy: DidPolicyOpt = "avoid",
    no_fly: NoFlyOpt = None,
) -> None:
    """Replay a seeded service day, or your trip records, and write DIR/kpis.json."""
    options = RunOptions(seed=seed, vehicles=vehicles, requests=requests,
                         deliveries=deliveries, vans=vans, seats=seats,
                         wheelchairs=wheelchairs, van_parcels=van_parcels, delays=delays,
                         breakdowns=breakdowns, depot=depot, fleet=fleet, trips=trips,
                         on_bad_row=on_bad_row,
                         region=_region_files(osm, gtfs, population, pois, no_fly),
                         profile=profile, date=service_date, drones=drones,
                         did_policy=did_policy)
    _run_or_fail(options, out)


def demo(  # noqa: PLR0913
    osm: OsmOpt = None,
    gtfs: GtfsOpt = None,
    population: PopulationOpt = None,
    pois: PoisOpt = None,
    out: OutOpt = DEFAULT_OUT,
    profile: ProfileOpt = None,
    service_date: DateOpt = None,
    drones: DronesOpt = 2,
    did_policy: DidPolicyOpt = "permit",
) -> None:
    """Run a demo day (rides, deliveries by van and by drone) on the built-in Kumamoto
    region (or --osm), offline.

    The demo's 2 drones fly from the pharmacy over the DIDs (DID policy permit: an
    assumed Level 4 area permission; the pharmacy lies inside a DID).
    """
    _run_or_fail(RunOptions(region=_region_files(osm, gtfs, population, pois),
                            profile=profile, date=service_date, drones=drones,
                            did_policy=did_policy), out)


def register(app: typer.Typer) -> None:
    """Add the ``simulate`` and ``demo`` commands to ``app``."""
    app.command("simulate")(simulate)
    app.command("demo")(demo)
