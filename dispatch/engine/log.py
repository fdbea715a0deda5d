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

from dispatch.engine.types import AnyRequest, DeliveryOrder, RideRequest, StopOption
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
                "customer": request.customer}
    return {"type": "ride", "id": request.id, "rider": request.rider,
            "origin": [[o.location, o.walk_s] for o in request.origin],
            "destination": [[d.location, d.walk_s] for d in request.destination],
            "pickup_window": _window(request.pickup_window), "arrive_by": request.arrive_by,
            "seats": request.seats, "wheelchairs": request.wheelchairs}


def decode_request(data: dict[str, Any]) -> AnyRequest:
    """Return the request of :func:`encode_request`'s data."""
    if data["type"] == "delivery":
        window = _unwindow(data["window"])
        assert window is not None
        return DeliveryOrder(id=data["id"], shop=int(data["shop"]), home=int(data["home"]),
                             ready_s=int(data["ready_s"]), window=window,
                             parcels=int(data["parcels"]), customer=data["customer"])
    return RideRequest(
        id=data["id"], rider=data["rider"],
        origin=tuple(StopOption(location=int(a), walk_s=int(b)) for a, b in data["origin"]),
        destination=tuple(StopOption(location=int(a), walk_s=int(b))
                          for a, b in data["destination"]),
        pickup_window=_unwindow(data["pickup_window"]),
        arrive_by=None if data["arrive_by"] is None else int(data["arrive_by"]),
        seats=int(data["seats"]), wheelchairs=int(data["wheelchairs"]))


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
