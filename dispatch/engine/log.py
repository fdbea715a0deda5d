"""The command log: every state-changing call as one JSON-serialisable command.

The engine is a deterministic state machine over a travel table, a fleet and a config;
replaying its commands in sequence order on a new engine rebuilds the same state. The
durable store keeps this log (and snapshots that bound the replay time).

A command is ``{"seq": n, "op": name, "args": {...}}`` with plain JSON values only
(requests and plans encoded by :func:`encode_request` / :func:`encode_plan`). A call
that failed after it had changed state (a confirmation whose offer had expired) is
logged too, with ``"error"`` naming the exception; replay expects the same error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dispatch.engine.state import EngineState, RequestState
from dispatch.engine.types import (
    AnyRequest,
    DeliveryOrder,
    Event,
    EventKind,
    ExecutedStop,
    Offer,
    RequestStatus,
    RideRequest,
    StopOption,
)
from dispatch.errors import InvalidRequestError
from routing.insertion import PlanStop, VehiclePlan
from routing.model import TimeWindow
from routing.solution import StopKind

#: Every operation a log may hold, with the names of its arguments.
OPERATIONS: dict[str, tuple[str, ...]] = {
    "book": ("request",),
    "confirm": ("request_id",),
    "decline": ("request_id",),
    "cancel": ("request_id", "cause"),
    "advance": ("t",),
    "arrived": ("vehicle", "at_s"),
    "picked_up": ("request_id", "at_s"),
    "dropped_off": ("request_id", "at_s"),
    "position": ("vehicle", "location", "at_s", "cause"),
    "delay": ("vehicle", "seconds", "cause"),
    "no_show": ("request_id", "cause"),
    "breakdown": ("vehicle", "cause"),
    "adopt_plans": ("plans", "cause"),
    "close_day": (),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Command:
    """One logged call: sequence number, operation, JSON arguments, error if any."""

    seq: int
    op: str
    args: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the command as plain JSON data."""
        out: dict[str, Any] = {"seq": self.seq, "op": self.op, "args": self.args}
        if self.error is not None:
            out["error"] = self.error
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Command:
        """Return the command of :meth:`to_dict`'s data.

        Raises
        ------
        InvalidRequestError
            When the operation is unknown or an argument is missing.
        """
        op = data.get("op")
        if op not in OPERATIONS:
            msg = f"command {data.get('seq')!r}: unknown op {op!r}"
            raise InvalidRequestError(msg)
        args = dict(data.get("args") or {})
        missing = [a for a in OPERATIONS[op] if a not in args]
        if missing:
            msg = f"command {data.get('seq')!r} ({op}): missing argument {missing[0]!r}"
            raise InvalidRequestError(msg)
        return cls(seq=int(data["seq"]), op=op, args=args, error=data.get("error"))


# ---------------------------------------------------------------------- codecs
def _window(w: TimeWindow | None) -> list[int] | None:
    return None if w is None else [w.earliest, w.latest]


def _unwindow(x: list[int] | None) -> TimeWindow | None:
    return None if x is None else TimeWindow(earliest=int(x[0]), latest=int(x[1]))


def encode_request(request: AnyRequest) -> dict[str, Any]:
    """Return a ride request or delivery order as plain JSON data."""
    if isinstance(request, DeliveryOrder):
        return {"type": "delivery", "id": request.id, "shop": request.shop,
                "home": request.home, "ready_s": request.ready_s,
                "window": _window(request.window), "parcels": request.parcels,
                "customer": request.customer, "mode": request.mode,
                "weight_kg": request.weight_kg}
    return {"type": "ride", "id": request.id, "rider": request.rider,
            "origin": [[o.location, o.walk_s] for o in request.origin],
            "destination": [[d.location, d.walk_s] for d in request.destination],
            "pickup_window": _window(request.pickup_window), "arrive_by": request.arrive_by,
            "seats": request.seats, "wheelchairs": request.wheelchairs,
            "rider_class": request.rider_class, "companions": request.companions,
            "member_id": request.member_id}


def decode_request(data: dict[str, Any]) -> AnyRequest:
    """Return the request of :func:`encode_request`'s data."""
    if data["type"] == "delivery":
        window = _unwindow(data["window"])
        assert window is not None
        return DeliveryOrder(id=data["id"], shop=int(data["shop"]), home=int(data["home"]),
                             ready_s=int(data["ready_s"]), window=window,
                             parcels=int(data["parcels"]), customer=data["customer"],
                             # logs written before drones hold neither
                             mode=str(data.get("mode", "van")),
                             weight_kg=float(data.get("weight_kg", 1.0)))
    return RideRequest(
        id=data["id"], rider=data["rider"],
        origin=tuple(StopOption(location=int(a), walk_s=int(b)) for a, b in data["origin"]),
        destination=tuple(StopOption(location=int(a), walk_s=int(b))
                          for a, b in data["destination"]),
        pickup_window=_unwindow(data["pickup_window"]),
        arrive_by=None if data["arrive_by"] is None else int(data["arrive_by"]),
        seats=int(data["seats"]), wheelchairs=int(data["wheelchairs"]),
        # logs written before rider classes existed hold none of these
        rider_class=str(data.get("rider_class", "general")),
        companions=int(data.get("companions", 0)), member_id=data.get("member_id"))


def encode_stop(s: PlanStop) -> dict[str, Any]:
    """Return a plan stop as plain JSON data."""
    return {"key": s.key, "kind": str(s.kind), "location": s.location, "delta": list(s.delta),
            "earliest": s.earliest, "latest": s.latest, "service_s": s.service_s,
            "ride_limit_s": s.ride_limit_s, "ride_from_s": s.ride_from_s}


def decode_stop(d: dict[str, Any]) -> PlanStop:
    """Return the plan stop of :func:`encode_stop`'s data."""
    return PlanStop(key=d["key"], kind=StopKind(d["kind"]), location=int(d["location"]),
                    delta=tuple(int(x) for x in d["delta"]), earliest=int(d["earliest"]),
                    latest=int(d["latest"]), service_s=int(d["service_s"]),
                    ride_limit_s=d["ride_limit_s"], ride_from_s=d["ride_from_s"])


def encode_plan(p: VehiclePlan) -> dict[str, Any]:
    """Return a vehicle plan as plain JSON data."""
    return {"vehicle": p.vehicle, "origin": p.origin, "origin_s": p.origin_s,
            "stops": [encode_stop(s) for s in p.stops], "capacity": list(p.capacity),
            "onboard": list(p.onboard), "n_locked": p.n_locked, "end": p.end,
            "end_latest": p.end_latest, "distance_cost": p.distance_cost,
            "duration_cost": p.duration_cost, "active": p.active}


def decode_plan(d: dict[str, Any]) -> VehiclePlan:
    """Return the vehicle plan of :func:`encode_plan`'s data."""
    return VehiclePlan(
        vehicle=int(d["vehicle"]), origin=int(d["origin"]), origin_s=int(d["origin_s"]),
        stops=tuple(decode_stop(s) for s in d["stops"]),
        capacity=tuple(int(x) for x in d["capacity"]),
        onboard=tuple(int(x) for x in d["onboard"]), n_locked=int(d["n_locked"]),
        end=None if d["end"] is None else int(d["end"]), end_latest=int(d["end_latest"]),
        distance_cost=int(d["distance_cost"]), duration_cost=int(d["duration_cost"]),
        active=bool(d["active"]))


def encode_args(op: str, args: dict[str, Any]) -> dict[str, Any]:
    """Return the JSON form of a call's arguments."""
    out = dict(args)
    if op == "book":
        out["request"] = encode_request(args["request"])
    elif op == "adopt_plans":
        out["plans"] = [encode_plan(p) for p in args["plans"]]
    return out


def decode_args(op: str, args: dict[str, Any]) -> dict[str, Any]:
    """Return the call arguments of a command's JSON arguments."""
    out = dict(args)
    if op == "book":
        out["request"] = decode_request(args["request"])
    elif op == "adopt_plans":
        out["plans"] = [decode_plan(p) for p in args["plans"]]
    return out


# ---------------------------------------------------------------------- snapshots
def encode_offer(o: Offer | None) -> dict[str, Any] | None:
    """Return an offer as plain JSON data."""
    if o is None:
        return None
    return {"request_id": o.request_id, "vehicle": o.vehicle, "pickup": o.pickup,
            "dropoff": o.dropoff, "walk_s": o.walk_s, "pickup_window": _window(o.pickup_window),
            "latest_arrival": o.latest_arrival, "max_ride_s": o.max_ride_s,
            "planned_pickup_s": o.planned_pickup_s, "planned_dropoff_s": o.planned_dropoff_s,
            "expires_s": o.expires_s, "delivery_window": _window(o.delivery_window),
            "fare_jpy": o.fare_jpy, "drone": o.drone}


def decode_offer(d: dict[str, Any] | None) -> Offer | None:
    """Return the offer of :func:`encode_offer`'s data."""
    if d is None:
        return None
    pw = _unwindow(d["pickup_window"])
    assert pw is not None
    return Offer(request_id=d["request_id"], vehicle=int(d["vehicle"]), pickup=int(d["pickup"]),
                 dropoff=int(d["dropoff"]), walk_s=int(d["walk_s"]), pickup_window=pw,
                 latest_arrival=int(d["latest_arrival"]), max_ride_s=d["max_ride_s"],
                 planned_pickup_s=int(d["planned_pickup_s"]),
                 planned_dropoff_s=int(d["planned_dropoff_s"]), expires_s=int(d["expires_s"]),
                 delivery_window=_unwindow(d["delivery_window"]),
                 fare_jpy=d.get("fare_jpy"), drone=d.get("drone"))


def encode_event(e: Event) -> dict[str, Any]:
    """Return an event as plain JSON data."""
    return {"time_s": e.time_s, "kind": str(e.kind), "request_id": e.request_id,
            "vehicle": e.vehicle, "status": None if e.status is None else str(e.status),
            "previous": None if e.previous is None else str(e.previous), "cause": e.cause,
            "value_s": e.value_s}


def decode_event(d: dict[str, Any]) -> Event:
    """Return the event of :func:`encode_event`'s data."""
    return Event(time_s=int(d["time_s"]), kind=EventKind(d["kind"]),
                 request_id=d["request_id"], vehicle=d["vehicle"],
                 status=None if d["status"] is None else RequestStatus(d["status"]),
                 previous=None if d["previous"] is None else RequestStatus(d["previous"]),
                 cause=d["cause"], value_s=int(d["value_s"]))


def encode_executed(x: ExecutedStop) -> dict[str, Any]:
    """Return an executed stop as plain JSON data."""
    return {"key": x.key, "kind": str(x.kind), "location": x.location,
            "arrival_s": x.arrival_s, "start_s": x.start_s, "departure_s": x.departure_s,
            "load_after": list(x.load_after), "distance_m": x.distance_m}


def decode_executed(d: dict[str, Any]) -> ExecutedStop:
    """Return the executed stop of :func:`encode_executed`'s data."""
    kinds = {str(k): k for k in StopKind}
    return ExecutedStop(key=d["key"], kind=kinds.get(d["kind"], d["kind"]),
                        location=int(d["location"]), arrival_s=int(d["arrival_s"]),
                        start_s=int(d["start_s"]), departure_s=int(d["departure_s"]),
                        load_after=tuple(int(q) for q in d["load_after"]),
                        distance_m=int(d["distance_m"]))


def _maybe_stop(s: PlanStop | None) -> dict[str, Any] | None:
    return None if s is None else encode_stop(s)


def encode_state(st: EngineState) -> dict[str, Any]:
    """Return the whole engine state as plain JSON data (the fleet specs excepted)."""
    return {
        "now": st.now, "version": st.version,
        "changes": [list(c) for c in st.changes], "offered": list(st.offered),
        "events": [encode_event(e) for e in st.events],
        "requests": [{
            "request": encode_request(r.request), "status": str(r.status),
            "booked_s": r.booked_s, "offer": encode_offer(r.offer),
            "pickup": _maybe_stop(r.pickup), "dropoff": _maybe_stop(r.dropoff),
            "vehicle": r.vehicle, "direct_s": r.direct_s, "picked_up_s": r.picked_up_s,
            "dropped_off_s": r.dropped_off_s, "broken": list(r.broken),
        } for r in st.requests.values()],
        "vehicles": [{
            "id": v.spec.id, "plan": encode_plan(v.plan),
            "history": [encode_executed(x) for x in v.history], "driven_m": v.driven_m,
            "first_departure_s": v.first_departure_s, "closed": v.closed,
        } for v in st.vehicles],
    }


def decode_state(st: EngineState, data: dict[str, Any]) -> None:
    """Fill ``st`` (built on the same table, fleet and config) from :func:`encode_state`.

    Raises
    ------
    InvalidRequestError
        When the snapshot's fleet differs from the engine's.
    """
    ids = [v["id"] for v in data["vehicles"]]
    if ids != [v.spec.id for v in st.vehicles]:
        msg = f"snapshot fleet {ids} differs from the engine's fleet"
        raise InvalidRequestError(msg)
    st.now, st.version = int(data["now"]), int(data["version"])
    st.changes = [(int(a), str(b), str(c)) for a, b, c in data["changes"]]
    st.offered = dict.fromkeys(data["offered"])
    st.events = [decode_event(e) for e in data["events"]]
    st.requests = {}
    for d in data["requests"]:
        req = decode_request(d["request"])
        st.requests[req.id] = RequestState(
            request=req, status=RequestStatus(d["status"]), booked_s=int(d["booked_s"]),
            offer=decode_offer(d["offer"]),
            pickup=None if d["pickup"] is None else decode_stop(d["pickup"]),
            dropoff=None if d["dropoff"] is None else decode_stop(d["dropoff"]),
            vehicle=d["vehicle"], direct_s=d["direct_s"], picked_up_s=d["picked_up_s"],
            dropped_off_s=d["dropped_off_s"], broken=list(d["broken"]))
    for v, d in zip(st.vehicles, data["vehicles"], strict=True):
        v.plan = decode_plan(d["plan"])
        v.history = [decode_executed(x) for x in d["history"]]
        v.driven_m = int(d["driven_m"])
        v.first_departure_s = d["first_departure_s"]
        v.closed = bool(d["closed"])
