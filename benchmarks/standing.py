"""Standing bookings: expanding a month of 200 weekly series, and booking one day ahead.

Run: ``python benchmarks/standing.py [--series N] [--vehicles K] [--json PATH]``

The series are seeded and made up, at real places of the example profile
(``examples/profiles/kumamoto.toml``): origins are its registered boarding points (bus,
tram and rail stops of the built-in GTFS feeds and the hospitals inside its two zones),
destinations another boarding point of the same zone or one of its named out-of-area
destinations; days are one to five weekdays; half are appointments (arrive by a time),
half leave at a time; 70 % have a return trip 1-5 hours later; classes are drawn from
the profile's classes.

Measured, in one run (best of ``--repeats`` (3) for the expansions):

* ``expand`` over 2026-12-01..2026-12-31 with the calendar only (no profile), and with
  the profile (every booking checked by every rule of ``dispatch.rules.check_booking`` at
  its booking time, the fixed-route rule included): wall time, bookings, dates skipped
  and trips flagged by rule;
* ``book_ahead`` of the month's busiest day into a fresh engine with ``--vehicles`` (4) vans
  on real road times between that day's places (the travel table built first, timed
  apart): wall time, trips confirmed and flagged (no longer fit).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections import Counter
from datetime import date, datetime
from pathlib import Path
from typing import Any

# benchmarks/dispatch.py, beside this script, would shadow the ``dispatch`` package.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import numpy as np

from dispatch.calendar import ServiceCalendar
from dispatch.engine import Engine, VehicleSpec
from dispatch.network import table_from_points
from dispatch.profile import ServiceProfile, load_profile
from dispatch.standing import Place, StandingSeries, book_ahead, expand
from maps.region import default_region

ROOT = Path(__file__).resolve().parents[1]
PROFILE = ROOT / "examples" / "profiles" / "kumamoto.toml"
START, END = date(2026, 12, 1), date(2026, 12, 31)


def make_series(profile: ServiceProfile, n: int, seed: int) -> list[StandingSeries]:
    """Return ``n`` seeded series at the profile's boarding points and destinations
    (those within 500 m of the built-in region's roads: the zones reach past the map)."""
    from maps.snap import snap_or_mask

    rng = np.random.default_rng(seed)
    road = default_region().road
    pts_all = list(profile.boarding.points)
    _, ok = snap_or_mask(road, np.array([(p.lon, p.lat) for p in pts_all]))
    on_map = [p for p, k in zip(pts_all, ok, strict=True) if k]
    zones = {z.name: [p for p in on_map if z.contains(p.lon, p.lat)]
             for z in profile.area.zones}
    zones = {k: v for k, v in zones.items() if len(v) > 1}
    dest_all = list(profile.area.destinations)
    _, ok = snap_or_mask(road, np.array([(d.lon, d.lat) for d in dest_all]).reshape(-1, 2))
    dests = [Place(name=d.name, lon=d.lon, lat=d.lat)
             for d, k in zip(dest_all, ok, strict=True) if k]
    classes = sorted(profile.classes)
    out = []
    for k in range(n):
        zone = sorted(zones)[int(rng.integers(len(zones)))]
        pts = zones[zone]
        a = pts[int(rng.integers(len(pts)))]
        origin = Place(name=a.name, lon=a.lon, lat=a.lat)
        if dests and rng.random() < 0.5:
            dest = dests[int(rng.integers(len(dests)))]
        else:
            b = pts[int(rng.integers(len(pts)))]
            dest = Place(name=b.name, lon=b.lon, lat=b.lat)
        days = tuple(sorted(int(x) for x in rng.choice(5, size=int(rng.integers(1, 6)),
                                                       replace=False)))
        t = int(rng.integers(8 * 60 + 30, 14 * 60)) * 60
        appointment = rng.random() < 0.5
        back = int(rng.integers(60, 300)) * 60 if rng.random() < 0.7 else None
        if back is not None and t + back > 16 * 3600 + 30 * 60:
            back = None
        out.append(StandingSeries(
            id=f"s{k:03d}", rider=f"r{k:03d}", weekdays=days, origin=origin,
            destination=dest, pickup_s=None if appointment else t,
            arrive_by_s=t if appointment else None, return_after_s=back,
            rider_class=classes[int(rng.integers(len(classes)))],
            purpose="hospital" if appointment else "other"))
    return out


def _timed(fn: Any, repeats: int) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def run(n_series: int, vehicles: int, repeats: int, seed: int) -> dict[str, Any]:
    """Run the measurements; return the figures."""
    profile = load_profile(PROFILE)
    cal = ServiceCalendar.from_table(dict(profile.calendar), source="profile")
    series = make_series(profile, n_series, seed)
    now = datetime(2026, 11, 24, 9)  # a week ahead: every December day opens in turn
    plain_s, plain = _timed(lambda: expand(series, cal, START, END, now=now), repeats)
    from dispatch.rules import fixed_route_index

    t0 = time.perf_counter()
    fixed_route_index(profile)  # built once per profile (GTFS read); timed apart
    index_s = time.perf_counter() - t0
    rules_s, ruled = _timed(lambda: expand(series, cal, START, END, profile, now=now),
                            repeats)
    per_day = Counter(b.day for b in ruled.bookings)
    busiest, n_busy = per_day.most_common(1)[0]
    todays = ruled.on(busiest)
    places = sorted({(p.lon, p.lat, p.name) for b in todays
                     for p in (b.origin, b.destination)})
    index = {(lon, lat, name): i + 1 for i, (lon, lat, name) in enumerate(places)}
    region = default_region()
    depot = (130.7350, 32.8050)  # a point between the two zones
    t0 = time.perf_counter()
    table = table_from_points(region.road, np.array([depot] + [(x, y) for x, y, _ in places]))
    table_s = time.perf_counter() - t0
    engine = Engine(table, [VehicleSpec(id=f"van{k + 1}", depot=0) for k in range(vehicles)],
                    start_s=0)
    t0 = time.perf_counter()
    done = book_ahead(engine, todays, lambda p: index[(p.lon, p.lat, p.name)])
    book_s = time.perf_counter() - t0
    return {
        "series": n_series, "dates": f"{START}..{END}", "seed": seed,
        "expand_calendar_only_s": round(plain_s, 4),
        "expand_calendar_only_bookings": len(plain.bookings),
        "expand_with_profile_s": round(rules_s, 4),
        "fixed_route_index_s": round(index_s, 3),
        "bookings": len(ruled.bookings), "skips": len(ruled.skips),
        "skips_by_reason": dict(Counter(k.reason for k in ruled.skips)),
        "flags": len(ruled.flags),
        "flags_by_rule": dict(Counter(f.reason for f in ruled.flags).most_common()),
        "per_booking_rules_us": round(1e6 * rules_s / max(len(ruled.bookings)
                                                          + len(ruled.flags), 1), 1),
        "busiest_day": busiest.isoformat(), "busiest_day_bookings": n_busy,
        "vehicles": vehicles, "table_points": table.n, "table_s": round(table_s, 2),
        "book_ahead_s": round(book_s, 3), "book_ahead_confirmed": len(done.confirmed),
        "book_ahead_flagged": len(done.flags),
        "book_ahead_flags_by_reason": dict(Counter(f.reason for f in done.flags)),
        "machine": platform.processor() or platform.machine(),
    }


def main() -> None:
    """Parse the command line, run, print the table and write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=200)
    parser.add_argument("--vehicles", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" /
                        "standing.json")
    args = parser.parse_args()
    res = run(args.series, args.vehicles, args.repeats, args.seed)
    rows = [
        ("series, dates", f"{res['series']}, {res['dates']}"),
        ("expand, calendar only", f"{res['expand_calendar_only_s'] * 1000:.1f} ms "
                                  f"({res['expand_calendar_only_bookings']} bookings)"),
        ("expand, with the profile's rules", f"{res['expand_with_profile_s'] * 1000:.1f} ms "
                                             f"({res['per_booking_rules_us']} us a booking)"),
        ("  fixed-route index (once)", f"{res['fixed_route_index_s']:.2f} s"),
        ("bookings / skipped / flagged", f"{res['bookings']} / {res['skips']} / "
                                         f"{res['flags']}"),
        ("skips by reason", json.dumps(res["skips_by_reason"], ensure_ascii=False)),
        ("flags by rule", json.dumps(res["flags_by_rule"], ensure_ascii=False)),
        ("busiest day", f"{res['busiest_day']}: {res['busiest_day_bookings']} trips"),
        ("  travel table", f"{res['table_points']} points, {res['table_s']:.2f} s"),
        (f"  book ahead, {res['vehicles']} vehicles",
         f"{res['book_ahead_s']:.2f} s: {res['book_ahead_confirmed']} confirmed, "
         f"{res['book_ahead_flagged']} flagged "
         f"{json.dumps(res['book_ahead_flags_by_reason'])}"),
    ]
    w = max(len(a) for a, _ in rows)
    for a, b in rows:
        print(f"{a:<{w}}  {b}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(res, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
