"""The referee of adopted plans: every confirmed promise kept, nothing dropped or moved.

:func:`plan_problems` compares proposed plans with the engine's live plans and with
every request's promise. It is what :meth:`dispatch.engine.Engine.adopt_plans` runs
before it replaces a single plan; re-optimization relies on it rather than on its own
checks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from dispatch.engine.fleet import live_plans, timed
from dispatch.engine.state import EngineState, RequestState
from dispatch.engine.types import DeliveryOrder, RequestStatus
from routing.insertion import OPEN, PlanStop, VehiclePlan
from routing.solution import StopKind

#: Statuses whose stops must be in the plans.
_PLANNED = frozenset({RequestStatus.ASSIGNED, RequestStatus.PICKED_UP})


def plan_problems(st: EngineState, plans: Sequence[VehiclePlan]) -> list[str]:
    """Return why ``plans`` may not replace the live plans (empty when they may).

    Checked: one plan per vehicle; the same stops, each once, with limits no looser
    than the engine's; the locked leg, position and load of every vehicle unchanged;
    riders on board stay on their vehicle; no work on a vehicle out of service; each
    pickup before its drop-off on one vehicle; and, timed by the engine's own rule,
    every stop within its limits and every confirmed promise (pickup window, latest
    arrival, maximum ride; a delivery's window) kept.
    """
    live = live_plans(st)
    if len(plans) != len(live):
        return [f"plans: need {len(live)} plans (one per vehicle), got {len(plans)}"]
    plans = rebased(live, plans)
    problems = _structure(live, plans)
    if problems:
        return problems
    for k, p in enumerate(plans):
        problems += _timing(st, k, p)
    return problems


def rebased(live: Sequence[VehiclePlan], plans: Sequence[VehiclePlan]) -> list[VehiclePlan]:
    """Return ``plans`` with idle vehicles leaving no earlier than their live plan says.

    A plan made a while ago for a vehicle that has been waiting where it was (nothing
    locked, same place) starts when the live plan starts; everything else is as given.
    """
    out = list(plans)
    for k, (o, n) in enumerate(zip(live, plans, strict=True)):
        if (o.n_locked == n.n_locked == 0 and o.origin == n.origin
                and n.origin_s < o.origin_s):
            out[k] = replace(n, origin_s=o.origin_s)
    return out


def _structure(live: Sequence[VehiclePlan], plans: Sequence[VehiclePlan]) -> list[str]:
    out: list[str] = []
    old = {(s.key, s.kind): (k, s) for k, p in enumerate(live) for s in p.stops}
    seen: set[tuple[str, StopKind]] = set()
    picked = {(k, s.key) for k, p in enumerate(live) for s in p.stops
              if s.kind is StopKind.PICKUP}
    onboard = {s.key for k, p in enumerate(live) for s in p.stops
               if s.kind is StopKind.DROPOFF and (k, s.key) not in picked}
    for k, (o, n) in enumerate(zip(live, plans, strict=True)):
        if n.vehicle != k:
            out.append(f"plans[{k}]: is the plan of vehicle {n.vehicle}")
        if (o.origin, o.origin_s, o.onboard) != (n.origin, n.origin_s, n.onboard):
            out.append(f"vehicle {k}: position, start time or load on board changed")
        if (o.capacity, o.end, o.end_latest, o.active) != (n.capacity, n.end, n.end_latest,
                                                           n.active):
            out.append(f"vehicle {k}: capacity, end or shift changed")
        if n.stops[: o.n_locked] != o.stops[: o.n_locked] or n.n_locked < o.n_locked:
            out.append(f"vehicle {k}: the leg in progress changed")
        if not n.active and n.stops:
            out.append(f"vehicle {k}: out of service but has {len(n.stops)} stops")
        for s in n.stops:
            key = (s.key, s.kind)
            if key in seen:
                out.append(f"request {s.key}: {s.kind} planned twice")
            seen.add(key)
            if key not in old:
                out.append(f"request {s.key}: {s.kind} is not a planned stop of the engine")
                continue
            was_k, was = old[key]
            why = _looser(was, s)
            if why:
                out.append(f"request {s.key}: {s.kind} {why}")
            if was_k != k and (s.key in onboard or s.kind is StopKind.BREAK):
                what = "break" if s.kind is StopKind.BREAK else "rider on board"
                out.append(f"request {s.key}: {what} of vehicle {was_k} moved to vehicle {k}")
        out += _order(k, n)
    for key in old.keys() - seen:
        out.append(f"request {key[0]}: {key[1]} dropped from the plans")
    return out


def _looser(was: PlanStop, new: PlanStop) -> str:
    """Return which limit of ``new`` is looser than the engine's stop, or ''."""
    if (new.location, new.delta, new.service_s) != (was.location, was.delta, was.service_s):
        return "changed place, load or service time"
    if new.earliest < was.earliest:
        return f"earliest {new.earliest} before the promised {was.earliest}"
    if new.latest > was.latest:
        return f"latest {new.latest} after the promised {was.latest}"
    if was.ride_limit_s is not None and (new.ride_limit_s is None
                                         or new.ride_limit_s > was.ride_limit_s):
        return f"max ride {new.ride_limit_s} over the promised {was.ride_limit_s}"
    if new.ride_from_s != was.ride_from_s:
        return "ride start changed"
    return ""


def _order(k: int, plan: VehiclePlan) -> list[str]:
    picked: set[str] = set()
    out = []
    pickups = {s.key for s in plan.stops if s.kind is StopKind.PICKUP}
    for s in plan.stops:
        if s.kind is StopKind.PICKUP:
            picked.add(s.key)
        elif s.kind is StopKind.DROPOFF and s.key in pickups and s.key not in picked:
            out.append(f"request {s.key}: drop-off before pickup on vehicle {k}")
    dropped = {s.key for s in plan.stops if s.kind is StopKind.DROPOFF}
    out += [f"request {key}: picked up by vehicle {k} but dropped off elsewhere"
            for key in pickups - dropped]
    return out


def _timing(st: EngineState, k: int, plan: VehiclePlan) -> list[str]:
    sch = timed(plan, st.table)
    out = [f"vehicle {k}: {v}" for v in sch.violations]
    pick_dep: dict[str, int] = {}
    for i, s in enumerate(plan.stops):
        r = st.requests.get(s.key)
        if r is None or r.status not in _PLANNED or r.offer is None or r.broken:
            continue  # a broken promise lives on in the relaxed stop limits only
        if s.kind is StopKind.PICKUP:
            pick_dep[s.key] = sch.departure[i]
            out += _pickup_promise(r, sch.start[i])
        elif s.kind is StopKind.DROPOFF:
            out += _dropoff_promise(r, sch.start[i], pick_dep.get(s.key, s.ride_from_s))
    return out


def _pickup_promise(r: RequestState, start: int) -> list[str]:
    o = r.offer
    assert o is not None
    w = o.pickup_window
    if r.pickup is not None and r.pickup.location != o.pickup:
        return []  # a rescue pickup where the vehicle broke down: its own limits hold
    if not w.earliest <= start <= w.latest:
        return [f"request {r.request.id}: pickup at {start} outside the promised window "
                f"[{w.earliest}, {w.latest}]"]
    return []


def _dropoff_promise(r: RequestState, start: int, ride_from: int | None) -> list[str]:
    o = r.offer
    assert o is not None
    out = []
    if isinstance(r.request, DeliveryOrder) and o.delivery_window is not None:
        w = o.delivery_window
        if not w.earliest <= start <= w.latest:
            out.append(f"request {r.request.id}: delivery at {start} outside the promised "
                       f"window [{w.earliest}, {w.latest}]")
        return out
    if o.latest_arrival < OPEN and start > o.latest_arrival:
        out.append(f"request {r.request.id}: arrival at {start} after the promised latest "
                   f"arrival {o.latest_arrival}")
    rescued = r.pickup is not None and r.pickup.location != o.pickup
    if o.max_ride_s is not None and ride_from is not None and not rescued and (
            start - ride_from > o.max_ride_s):
        out.append(f"request {r.request.id}: ride of {start - ride_from} s over the promised "
                   f"maximum ride of {o.max_ride_s} s")
    return out
