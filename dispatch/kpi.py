"""Operator KPIs of a simulated day.

Definitions (rides unless said otherwise; times in seconds):

* ``requests``: ride requests; ``served`` dropped off; ``rejected`` no offer taken (no
  feasible insertion and no alternative accepted); ``declined`` offer refused by the
  rider; ``cancelled``, ``no_show``, ``expired``, ``unfinished``. These add up to
  ``requests``.
* ``promises_kept_share``: share of served rides picked up inside the promised window,
  dropped off by the promised latest arrival, within the promised maximum ride time
  (from the end of pickup service to the start of drop-off service), and with no broken
  promise recorded by the engine.
* ``wait_mean_s``/``wait_p95_s``: actual pickup minus the start of the pickup window the
  rider accepted (the confirmed offer's promised window; for a rider who took an
  alternative time, that alternative's window), over served rides.
  ``wait_vs_wanted_mean_s``: actual pickup minus the pickup time first asked for, over
  served leave-at rides (arrive-by rides want an arrival, not a pickup: see
  ``arrive_on_time_share``).
* ``ride_mean_s``: drop-off minus pickup; ``detour_mean``: ride time over the direct
  travel time (rides with a positive direct time).
* ``pooling_rate``: share of served riders who were on board at the same time as another
  rider of the same vehicle at some moment.
* ``vehicle_km``/``vehicle_hours``: driven by ride vehicles (vans reported separately);
  ``pax_per_vehicle_hour``: passengers of served rides per ride-vehicle hour.
* ``offer_latency_*_ms``: wall time of each ``Engine.book`` call (rides and deliveries).
* ``deliveries``/``deliveries_served``/``deliveries_on_time_share``.
* ``cancellation_rate``/``no_show_rate``: cancelled or no-show over confirmed rides.

* ``rejected_by_reason``: rejected rides (the first booking's reason) per reason, the
  rules of a service profile by their names; ``served_by_purpose``: served rides per
  purpose.

With a service profile (``SimulationConfig.profile``; every one of these is ``None``
without one):

* ``fare_revenue_jpy``: fares of the served rides (:mod:`dispatch.fares`: each rider's
  own fares of the day capped at the class's day pass, plus their companions' fares;
  a rider's outbound and return legs are one rider).
* ``operating_cost_jpy``: the profile's cost model over the ride vehicles (vans are a
  separate delivery business): per vehicle-hour of ``vehicle_hours``, per km of
  ``vehicle_km``, and the fixed cost per vehicle-day for every ride vehicle of the fleet.
* ``farebox_ratio`` (収支率): revenue over operating cost.
* ``subsidy_per_rider_jpy``: (cost - revenue) over the passengers of served rides
  (riders and companions, 延べ利用者数).
* ``served_by_class``/``requests_by_class``: rides per rider class;
  ``served_by_area``: served rides per zone of their origin (``outside`` for a named
  destination outside the zones, e.g. a hospital's return trip).

A share or mean over nothing (no served ride, no delivery, no vehicle-hour, no booking)
is ``None`` (``null`` in JSON, ``n/a`` in the table), never 100 % or 0.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from dispatch.simulate import FinalState, SimulationResult, StopTrace, TripRecord

#: Keys written to kpis.json in this order (the CLI contract names the first ones).
KPI_KEYS: tuple[str, ...] = (
    "requests", "served", "rejected", "declined", "cancelled", "no_show", "expired",
    "unfinished", "promises_kept_share", "wait_mean_s", "wait_p95_s", "wait_vs_wanted_mean_s",
    "arrive_on_time_share", "ride_mean_s", "detour_mean", "pooling_rate", "vehicle_km",
    "vehicle_hours", "pax_per_vehicle_hour", "offer_latency_p50_ms", "offer_latency_p95_ms",
    "offer_latency_p99_ms", "deliveries", "deliveries_served", "deliveries_on_time_share",
    "van_km", "van_hours", "deliveries_by_drone", "drone_sorties", "drone_flight_hours",
    "cancellation_rate", "no_show_rate", "took_alternative",
    "reopt_runs", "reopt_adopted", "sim_wall_s", "rejected_by_reason", "served_by_purpose",
    "fare_revenue_jpy", "operating_cost_jpy", "farebox_ratio", "subsidy_per_rider_jpy",
    "served_by_class", "requests_by_class", "served_by_area",
)


def _mean(xs: Sequence[float]) -> float | None:
    return float(np.mean(xs)) if len(xs) else None


def _pct(xs: Sequence[float], q: float) -> float | None:
    return float(np.percentile(xs, q)) if len(xs) else None


def _share(part: int, whole: int | float) -> float | None:
    return part / whole if whole else None


def promise_kept(r: TripRecord) -> bool:
    """Return whether a served record met every promise of its confirmed offer."""
    if r.final is not FinalState.SERVED or r.picked_up_s is None or r.dropped_off_s is None:
        return False
    if r.broken:
        return False
    ok = True
    if r.kind == "ride" and r.promised_pickup_earliest is not None:
        ok = r.promised_pickup_earliest <= r.picked_up_s <= (r.promised_pickup_latest or 0)
    elif r.kind == "delivery" and r.promised_pickup_earliest is not None:
        ok = r.promised_pickup_earliest <= r.dropped_off_s <= (r.promised_pickup_latest or 0)
    if r.kind == "ride" and r.promised_arrival_latest is not None:
        ok = ok and r.dropped_off_s <= r.promised_arrival_latest
    if r.promised_max_ride_s is not None:
        ride = r.dropped_off_s - (r.picked_up_s + r.pickup_service_s)
        ok = ok and ride <= r.promised_max_ride_s
    return ok


def pooled_ids(records: Sequence[TripRecord]) -> set[str]:
    """Return ids of served rides whose time on board overlapped another ride's."""
    by_vehicle: dict[int, list[TripRecord]] = defaultdict(list)
    for r in records:
        if (r.kind == "ride" and r.final is FinalState.SERVED and r.vehicle is not None
                and r.picked_up_s is not None and r.dropped_off_s is not None):
            by_vehicle[r.vehicle].append(r)
    pooled: set[str] = set()
    for rides in by_vehicle.values():
        spans = sorted((r.picked_up_s or 0, r.dropped_off_s or 0, r.id) for r in rides)
        for i, (_, a_off, a_id) in enumerate(spans):
            for b_on, _, b_id in spans[i + 1:]:
                if b_on >= a_off:
                    break
                # Strict overlap: one boards before the other gets off.
                pooled.update((a_id, b_id))
    return pooled


def _ride_times(served: list[TripRecord]) -> dict[str, float | None]:
    waits: list[float] = []
    vs_wanted: list[float] = []
    rides: list[float] = []
    detours: list[float] = []
    n_arrive_by = on_time = 0
    for r in served:
        if r.picked_up_s is None or r.dropped_off_s is None:
            continue
        ride = float(r.dropped_off_s - r.picked_up_s)
        rides.append(ride)
        if r.direct_s:
            detours.append(ride / r.direct_s)
        if r.promised_pickup_earliest is not None:
            waits.append(float(r.picked_up_s - r.promised_pickup_earliest))
        if r.requested_pickup_s is not None:
            vs_wanted.append(float(r.picked_up_s - r.requested_pickup_s))
        if r.arrive_by_s is not None:
            n_arrive_by += 1
            on_time += int(r.dropped_off_s <= r.arrive_by_s)
    return {
        "wait_mean_s": _mean(waits),
        "wait_p95_s": _pct(waits, 95),
        "wait_vs_wanted_mean_s": _mean(vs_wanted),
        "arrive_on_time_share": _share(on_time, n_arrive_by),
        "ride_mean_s": _mean(rides),
        "detour_mean": _mean(detours),
    }


def _drone_flights(result: SimulationResult) -> dict[str, Any]:
    engine = result.engine
    flown = [s for s in (engine.drone_sorties() if engine is not None else [])
             if s.status in ("launched", "delivered", "returned")]
    return {"drone_sorties": len(flown),
            "drone_flight_hours": sum(s.landing_s - s.takeoff_s for s in flown) / 3600}


def compute_kpis(result: SimulationResult) -> dict[str, Any]:
    """Return the KPI dict of a simulated day (keys in :data:`KPI_KEYS` order)."""
    rides = [r for r in result.records if r.kind == "ride"]
    deliveries = [r for r in result.records if r.kind == "delivery"]
    counts = {s: sum(1 for r in rides if r.final is s) for s in FinalState}
    served = [r for r in rides if r.final is FinalState.SERVED]
    confirmed = [r for r in rides if r.final in (FinalState.SERVED, FinalState.CANCELLED,
                                                 FinalState.NO_SHOW, FinalState.UNFINISHED)]
    bus = [t for t in result.traces if not t.is_van]
    van = [t for t in result.traces if t.is_van]
    vehicle_hours = sum(t.hours for t in bus)
    lat = list(result.offer_latency_ms)
    served_deliveries = [r for r in deliveries if r.final is FinalState.SERVED]
    out: dict[str, Any] = {
        "requests": len(rides),
        "served": counts[FinalState.SERVED],
        "rejected": counts[FinalState.REJECTED],
        "declined": counts[FinalState.DECLINED],
        "cancelled": counts[FinalState.CANCELLED],
        "no_show": counts[FinalState.NO_SHOW],
        "expired": counts[FinalState.EXPIRED],
        "unfinished": counts[FinalState.UNFINISHED],
        "promises_kept_share": _share(sum(1 for r in served if promise_kept(r)), len(served)),
        **_ride_times(served),
        "pooling_rate": _share(len(pooled_ids(rides)), len(served)),
        "vehicle_km": sum(t.km for t in bus),
        "vehicle_hours": vehicle_hours,
        "pax_per_vehicle_hour": _share(sum(r.load for r in served), vehicle_hours),
        "offer_latency_p50_ms": _pct(lat, 50),
        "offer_latency_p95_ms": _pct(lat, 95),
        "offer_latency_p99_ms": _pct(lat, 99),
        "deliveries": len(deliveries),
        "deliveries_served": len(served_deliveries),
        "deliveries_on_time_share": _share(sum(1 for r in served_deliveries if promise_kept(r)),
                                           len(served_deliveries)),
        "van_km": sum(t.km for t in van),
        "van_hours": sum(t.hours for t in van),
        "deliveries_by_drone": sum(1 for r in served_deliveries if r.drone is not None),
        **_drone_flights(result),
        "cancellation_rate": _share(counts[FinalState.CANCELLED], len(confirmed)),
        "no_show_rate": _share(counts[FinalState.NO_SHOW], len(confirmed)),
        "took_alternative": sum(1 for r in rides if r.took_alternative),
        "reopt_runs": result.reopt_runs,
        "reopt_adopted": result.reopt_adopted,
        "sim_wall_s": result.wall_s,
        "rejected_by_reason": _counts(r.reject_reason for r in rides
                                      if r.final is FinalState.REJECTED),
        "served_by_purpose": _counts(r.purpose for r in served),
        **money_kpis(result),
    }
    return {k: _round(out[k]) for k in KPI_KEYS}


def _counts(keys: Iterable[str]) -> dict[str, int]:
    """Return how often each key occurs, sorted by key."""
    c: dict[str, int] = defaultdict(int)
    for k in keys:
        c[k or "unknown"] += 1
    return dict(sorted(c.items()))


MONEY_KEYS = ("fare_revenue_jpy", "operating_cost_jpy", "farebox_ratio",
              "subsidy_per_rider_jpy", "served_by_class", "requests_by_class",
              "served_by_area")


def money_kpis(result: SimulationResult) -> dict[str, Any]:
    """Return revenue, cost, farebox ratio, subsidy per rider and the counts by class and
    area of a day run under a service profile (every value ``None`` without one)."""
    profile = result.config.profile
    if profile is None:
        return dict.fromkeys(MONEY_KEYS)
    from dispatch.fares import operating_cost, rider_day_total, trip_quote
    from dispatch.rules import OUTSIDE, TripQuery

    assert result.config.service_date is not None
    loc = result.table.locations
    rides = [r for r in result.records if r.kind == "ride"]
    served = [r for r in rides if r.final is FinalState.SERVED]
    returns = {r.id: r.return_of for r in result.day.rides}
    by_rider: dict[str, list[Any]] = defaultdict(list)
    area: list[str] = []
    for r in served:
        if r.pickup is None or r.dropoff is None:
            continue
        o = (float(loc[r.pickup, 0]), float(loc[r.pickup, 1]))
        d = (float(loc[r.dropoff, 0]), float(loc[r.dropoff, 1]))
        q = trip_quote(profile, TripQuery(
            origin=o, destination=d, service_date=result.config.service_date, wanted_s=0,
            rider_class=r.rider_class or None, companions=r.companions),
            result.table.distance_m(r.pickup, r.dropoff))
        by_rider[returns.get(r.id) or r.id].append((r.rider_class, q))
        area.append(profile.area.zone_of(*o) or OUTSIDE)
    revenue = sum(rider_day_total(profile, qs[0][0] or None, [q for _, q in qs])
                  for qs in by_rider.values())
    bus = [t for t in result.traces if not t.is_van]
    cost = operating_cost(profile.costs, vehicle_hours=sum(t.hours for t in bus),
                          km=sum(t.km for t in bus), vehicle_days=len(bus))
    passengers = sum(r.load for r in served)
    return {
        "fare_revenue_jpy": revenue,
        "operating_cost_jpy": cost,
        "farebox_ratio": _share(revenue, cost),
        "subsidy_per_rider_jpy": (cost - revenue) / passengers if passengers else None,
        "served_by_class": _counts(r.rider_class for r in served),
        "requests_by_class": _counts(r.rider_class for r in rides),
        "served_by_area": _counts(area),
    }


def _round(v: Any) -> Any:
    return round(v, 4) if isinstance(v, float) else v


def occupancy_series(result: SimulationResult, step_s: int = 300) -> tuple[
        list[int], list[float]]:
    """Return sample times and the mean riders on board per ride vehicle at each time."""
    cfg = result.day.config
    times = list(range(cfg.service_start_s, cfg.service_end_s + 2 * 3600 + 1, step_s))
    bus = [t for t in result.traces if not t.is_van]
    if not bus:
        return times, [0.0] * len(times)
    occ = np.zeros(len(times))
    for tr in bus:
        nexts: list[StopTrace | None] = [*tr.stops[1:], None]
        for a, b in zip(tr.stops, nexts[: len(tr.stops)], strict=True):
            on = sum(a.load_after[:2]) if a.load_after else 0
            end = b.arrival_s if b is not None else a.departure_s
            for i, t in enumerate(times):
                if a.departure_s <= t < end:
                    occ[i] += on
    return times, [float(x) / len(bus) for x in occ]
