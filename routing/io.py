"""The product's own JSON shapes: the problem a planner sends and the plan it gets back.

Problem JSON (times in integer seconds since midnight, distances in metres, loads as a
list ordered like ``dimensions`` or an object by dimension name)::

    {"name": "...", "dimensions": ["seats", "wheelchairs"],
     "locations": [{"id": "depot", "lon": 130.7, "lat": 32.8}, ...],
     "durations": {"car": [[0, 300], [310, 0]]}, "distances": {"car": [[0, 4200], ...]},
     "vehicle_types": [{"id": "van", "capacity": [4, 1], "profile": "car", ...}],
     "vehicles": [{"id": "v1", "type": "van", "start": "depot", "end": "depot",
                   "shift": {"earliest": 28800, "latest": 61200}, ...}],
     "requests": [{"id": "r1", "pickup": "home-1", "dropoff": "clinic", "load": [1, 0],
                   "dropoff_window": {"earliest": 34200, "latest": 36000}, ...}],
     "jobs": [{"id": "j1", "location": "home-2", "load": [0, 0], ...}]}

Numbers must be sensible as well as well-typed (so that no sum can overflow the solvers'
64-bit integers): times (windows, service, ride and wait limits, matrix durations) at
most :data:`MAX_TIME_S`, loads and capacities at most :data:`MAX_QUANTITY`, distances at
most :data:`MAX_DISTANCE_M`, costs
and penalties at most :data:`MAX_COST` (per metre or second: :data:`MAX_UNIT_COST`),
``speed_factor`` and ``max_detour`` within ``[0.01, 100]`` and ``[1, 100]``. A
``return_of`` must name another request, whose drop-off window opens no later than the
return's pickup window closes.

``durations`` and ``distances`` may be left out when the caller passes a
``build_matrices`` function (``hakobu solve`` builds them on the region's roads).

References between entities use the external string ids; inside :class:`Problem` they
become indices (a location's id is kept in :attr:`Location.name`). A matrix entry
``null`` means no path. Every error is a :class:`ProblemError` whose field is the JSON
path, e.g. ``requests[3].pickup_window.latest``.

The plan JSON is written by :func:`plan_to_dict`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import numpy as np

from routing.check import check
from routing.errors import ProblemError
from routing.model import (
    HORIZON_MAX,
    UNREACHABLE,
    Break,
    Job,
    JobKind,
    Location,
    Problem,
    Request,
    RequestKind,
    TimeWindow,
    Vehicle,
    VehicleType,
)
from routing.solution import ItemKind, Route, Solution, StopKind, Unassigned, Visit

T = TypeVar("T")
_MISSING: Any = object()

#: Largest time in seconds (a window bound, a service or a matrix duration): about 31
#: years, room for literature instances whose times are scaled by 1000.
MAX_TIME_S = 10**9
#: Largest load, capacity or other count in a problem JSON.
MAX_QUANTITY = 10**9
#: Largest distance in metres (a matrix entry).
MAX_DISTANCE_M = 10**9
#: Largest fixed cost or penalty.
MAX_COST = 10**12
#: Largest cost per metre or per second.
MAX_UNIT_COST = 10**6
#: Largest priority (either sign).
MAX_PRIORITY = 10**6

# ------------------------------------------------------------------ field readers


def _obj(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ProblemError(path, f"must be an object, got {type(value).__name__}")
    return value


def _known(obj: Mapping[str, Any], path: str, allowed: set[str]) -> None:
    unknown = sorted(set(obj) - allowed)
    if unknown:
        where = f"{path}.{unknown[0]}" if path else unknown[0]
        raise ProblemError(where, f"unknown field (known: {', '.join(sorted(allowed))})")


def _field(obj: Mapping[str, Any], key: str, path: str, default: Any = _MISSING) -> Any:
    where = f"{path}.{key}" if path else key
    if key not in obj or obj[key] is None:
        if default is _MISSING:
            raise ProblemError(where, "is missing")
        return default
    return obj[key]


def _int(value: Any, path: str, *, minimum: int = 0, maximum: int = MAX_QUANTITY) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProblemError(path, f"must be an integer, got {_short(value)}")
    if value < minimum:
        raise ProblemError(path, f"must be at least {minimum}, got {_short(value)}")
    if value > maximum:
        raise ProblemError(path, f"must be at most {maximum:,}, got {_short(value)}")
    return value


def _time(value: Any, path: str) -> int:
    return _int(value, path, maximum=MAX_TIME_S)


def _limit(value: Any, path: str) -> int:
    """A duration limit: 0 would forbid any travel, so it must be positive."""
    if value == 0 and not isinstance(value, bool):
        raise ProblemError(path, "must be positive (0 leaves no time to travel); leave it out "
                                 "for no limit")
    return _time(value, path)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:20]}...({len(text)} characters)"


def _num(value: Any, path: str, lo: float | None = None, hi: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ProblemError(path, f"must be a finite number, got {_short(value)}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ProblemError(path, f"must lie between {lo:g} and {hi:g}, got {value:g}")
    return float(value)


def _str(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value:
        raise ProblemError(path, f"must be a non-empty string, got {value!r}")
    return value


def _bool(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise ProblemError(path, f"must be true or false, got {value!r}")
    return value


def _list(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise ProblemError(path, f"must be a list, got {type(value).__name__}")
    return value


def _items(obj: Mapping[str, Any], key: str, read: Callable[[Any, str], T]) -> tuple[T, ...]:
    values = _list(_field(obj, key, "", []), key)
    return tuple(read(v, f"{key}[{i}]") for i, v in enumerate(values))


_NOUNS = {"locations": "location", "vehicle_types": "vehicle type", "vehicles": "vehicle"}


class _Ids:
    """External id -> index lookups, with errors naming the JSON path."""

    def __init__(self, what: str, ids: list[str]) -> None:
        self.what = what
        self.noun = _NOUNS.get(what, what)
        self.index: dict[str, int] = {}
        for i, name in enumerate(ids):
            if name in self.index:
                raise ProblemError(f"{what}[{i}].id", f"duplicate id {name!r}")
            self.index[name] = i

    def __call__(self, value: Any, path: str) -> int:
        name = _str(value, path)
        if name not in self.index:
            raise ProblemError(path, f"unknown {self.noun} id {name!r}")
        return self.index[name]


class _Reader:
    """Reads one problem object; holds the id tables and the dimensions."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = _obj(data, "problem")
        dims = _list(_field(self.data, "dimensions", ""), "dimensions")
        self.dims = tuple(_str(d, f"dimensions[{i}]") for i, d in enumerate(dims))
        if len(set(self.dims)) != len(self.dims):
            raise ProblemError("dimensions", "names must be unique")
        self.loc_ids = _Ids("locations", self._ids("locations"))
        self.type_ids = _Ids("vehicle_types", self._ids("vehicle_types"))
        self.vehicle_ids = _Ids("vehicles", self._ids("vehicles"))

    def _ids(self, key: str) -> list[str]:
        items = _list(_field(self.data, key, "", []), key)
        return [_str(_field(_obj(x, f"{key}[{i}]"), "id", f"{key}[{i}]"), f"{key}[{i}].id")
                for i, x in enumerate(items)]

    def load(self, value: Any, path: str) -> tuple[int, ...]:
        if isinstance(value, Mapping):
            _known(value, path, set(self.dims))
            return tuple(_int(value.get(d, 0), f"{path}.{d}") for d in self.dims)
        values = _list(value, path)
        if len(values) != len(self.dims):
            msg = f"has {len(values)} values for {len(self.dims)} dimensions {list(self.dims)}"
            raise ProblemError(path, msg)
        return tuple(_int(q, f"{path}[{i}]") for i, q in enumerate(values))

    def window(self, obj: Mapping[str, Any], key: str, path: str) -> TimeWindow:
        where = f"{path}.{key}"
        w = _obj(_field(obj, key, path, {}), where)
        _known(w, where, {"earliest", "latest"})
        lo = _time(_field(w, "earliest", where, 0), f"{where}.earliest")
        hi = _time(_field(w, "latest", where, HORIZON_MAX), f"{where}.latest")
        if hi < lo:
            raise ProblemError(f"{where}.latest", f"{hi} is before earliest {lo}")
        return TimeWindow(earliest=lo, latest=hi)

    def skills(self, obj: Mapping[str, Any], path: str) -> frozenset[str]:
        values = _list(_field(obj, "skills", path, []), f"{path}.skills")
        return frozenset(_str(s, f"{path}.skills[{i}]") for i, s in enumerate(values))

    def allowed(self, obj: Mapping[str, Any], path: str) -> tuple[int, ...] | None:
        value = _field(obj, "allowed_vehicles", path, None)
        if value is None:
            return None
        where = f"{path}.allowed_vehicles"
        values = _list(value, where)
        if not values:
            raise ProblemError(where, "is empty; omit it to allow every vehicle")
        return tuple(self.vehicle_ids(v, f"{where}[{i}]") for i, v in enumerate(values))

    # -------------------------------------------------------------- entities
    def location(self, value: Any, path: str) -> Location:
        obj = _obj(value, path)
        _known(obj, path, {"id", "lon", "lat"})
        lon = _num(_field(obj, "lon", path), f"{path}.lon")
        lat = _num(_field(obj, "lat", path), f"{path}.lat")
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise ProblemError(path, f"(lon, lat) = ({lon}, {lat}) is not a WGS84 point")
        return Location(lon=lon, lat=lat, name=_str(obj["id"], f"{path}.id"))

    def vehicle_type(self, value: Any, path: str) -> VehicleType:
        obj = _obj(value, path)
        _known(obj, path, {"id", "capacity", "profile", "skills", "fixed_cost",
                           "distance_cost", "duration_cost", "speed_factor"})
        speed = _num(_field(obj, "speed_factor", path, 1.0), f"{path}.speed_factor", 0.01, 100)
        return VehicleType(
            name=_str(obj["id"], f"{path}.id"),
            capacity=self.load(_field(obj, "capacity", path), f"{path}.capacity"),
            profile=_str(_field(obj, "profile", path, "car"), f"{path}.profile"),
            skills=self.skills(obj, path),
            fixed_cost=_int(_field(obj, "fixed_cost", path, 0), f"{path}.fixed_cost",
                            maximum=MAX_COST),
            distance_cost=_int(_field(obj, "distance_cost", path, 1), f"{path}.distance_cost",
                               maximum=MAX_UNIT_COST),
            duration_cost=_int(_field(obj, "duration_cost", path, 0), f"{path}.duration_cost",
                               maximum=MAX_UNIT_COST),
            speed_factor=speed,
        )

    def vehicle(self, value: Any, path: str) -> Vehicle:
        obj = _obj(value, path)
        _known(obj, path, {"id", "type", "start", "end", "shift", "max_duration_s", "breaks"})
        end = _field(obj, "end", path, None)
        breaks = _list(_field(obj, "breaks", path, []), f"{path}.breaks")
        max_dur = _field(obj, "max_duration_s", path, None)
        return Vehicle(
            id=_str(obj["id"], f"{path}.id"),
            type=self.type_ids(_field(obj, "type", path), f"{path}.type"),
            start=self.loc_ids(_field(obj, "start", path), f"{path}.start"),
            end=None if end is None else self.loc_ids(end, f"{path}.end"),
            shift=self.window(obj, "shift", path),
            max_duration_s=None if max_dur is None else _limit(max_dur, f"{path}.max_duration_s"),
            breaks=tuple(self.brk(b, f"{path}.breaks[{i}]") for i, b in enumerate(breaks)),
        )

    def brk(self, value: Any, path: str) -> Break:
        obj = _obj(value, path)
        _known(obj, path, {"window", "duration_s"})
        return Break(window=self.window(obj, "window", path),
                     duration_s=_time(_field(obj, "duration_s", path), f"{path}.duration_s"))

    def request(self, value: Any, path: str) -> Request:
        obj = _obj(value, path)
        _known(obj, path, set(_REQUEST_FIELDS))
        opt: dict[str, Any] = {k: _time(_field(obj, k, path, 0), f"{path}.{k}")
                               for k in _REQUEST_TIMES}
        opt["penalty"] = _int(_field(obj, "penalty", path, 0), f"{path}.penalty",
                              maximum=MAX_COST)
        if obj.get("max_ride_s") is not None:
            opt["max_ride_s"] = _limit(obj["max_ride_s"], f"{path}.max_ride_s")
        if obj.get("max_wait_s") is not None:
            opt["max_wait_s"] = _time(obj["max_wait_s"], f"{path}.max_wait_s")
        if obj.get("max_detour") is not None:
            opt["max_detour"] = _num(obj["max_detour"], f"{path}.max_detour", 1.0, 100)
        if obj.get("return_of") is not None:
            opt["return_of"] = _str(obj["return_of"], f"{path}.return_of")
        kind = _str(_field(obj, "kind", path, "ride"), f"{path}.kind")
        if kind not in set(RequestKind):
            raise ProblemError(f"{path}.kind", f"must be one of {[str(k) for k in RequestKind]}")
        return Request(
            id=_str(_field(obj, "id", path), f"{path}.id"),
            pickup=self.loc_ids(_field(obj, "pickup", path), f"{path}.pickup"),
            dropoff=self.loc_ids(_field(obj, "dropoff", path), f"{path}.dropoff"),
            load=self.load(_field(obj, "load", path), f"{path}.load"),
            kind=RequestKind(kind),
            pickup_window=self.window(obj, "pickup_window", path),
            dropoff_window=self.window(obj, "dropoff_window", path),
            priority=_int(_field(obj, "priority", path, 0), f"{path}.priority",
                          minimum=-MAX_PRIORITY, maximum=MAX_PRIORITY),
            optional=_bool(_field(obj, "optional", path, False), f"{path}.optional"),
            skills=self.skills(obj, path),
            allowed_vehicles=self.allowed(obj, path),
            **opt,
        )

    def job(self, value: Any, path: str) -> Job:
        obj = _obj(value, path)
        _known(obj, path, {"id", "location", "load", "kind", "window", "service_s", "priority",
                           "optional", "penalty", "skills", "allowed_vehicles"})
        kind = _str(_field(obj, "kind", path, "delivery"), f"{path}.kind")
        if kind not in set(JobKind):
            raise ProblemError(f"{path}.kind", f"must be one of {[str(k) for k in JobKind]}")
        return Job(
            id=_str(_field(obj, "id", path), f"{path}.id"),
            location=self.loc_ids(_field(obj, "location", path), f"{path}.location"),
            load=self.load(_field(obj, "load", path), f"{path}.load"),
            kind=JobKind(kind),
            window=self.window(obj, "window", path),
            service_s=_time(_field(obj, "service_s", path, 0), f"{path}.service_s"),
            priority=_int(_field(obj, "priority", path, 0), f"{path}.priority",
                          minimum=-MAX_PRIORITY, maximum=MAX_PRIORITY),
            optional=_bool(_field(obj, "optional", path, False), f"{path}.optional"),
            penalty=_int(_field(obj, "penalty", path, 0), f"{path}.penalty", maximum=MAX_COST),
            skills=self.skills(obj, path),
            allowed_vehicles=self.allowed(obj, path),
        )

    def matrices(self, key: str, n: int) -> dict[str, np.ndarray]:
        if key not in self.data:
            msg = ("is missing: give one matrix per profile inline, e.g. "
                   f'{{"{key}": {{"car": [[...]]}}}}, or leave out both matrices to have '
                   "them built on the region's roads")
            raise ProblemError(key, msg)
        by_profile = _obj(self.data[key], key)
        top = MAX_TIME_S if key == "durations" else MAX_DISTANCE_M
        out = {}
        for profile, rows in by_profile.items():
            where = f"{key}.{profile}"
            rows = _list(rows, where)
            if len(rows) != n:
                raise ProblemError(where, f"has {len(rows)} rows for {n} locations")
            m = np.empty((n, n), dtype=np.int64)
            for i, row in enumerate(rows):
                row = _list(row, f"{where}[{i}]")
                if len(row) != n:
                    raise ProblemError(f"{where}[{i}]", f"has {len(row)} values for {n} locations")
                m[i] = [UNREACHABLE if x is None else _int(x, f"{where}[{i}][{j}]",
                                                           maximum=top)
                        for j, x in enumerate(row)]
            out[str(profile)] = m
        return out


#: Builds (durations, distances) per profile for (n, 2) lon/lat points.
MatrixBuilder = Callable[
    [np.ndarray, tuple[str, ...]], tuple[dict[str, np.ndarray], dict[str, np.ndarray]]
]


_REQUEST_TIMES = ("pickup_service_s", "dropoff_service_s", "detour_slack_s")
_REQUEST_FIELDS = (
    "id", "kind", "pickup", "dropoff", "load", "pickup_window", "dropoff_window",
    *_REQUEST_TIMES, "penalty", "max_ride_s", "max_detour", "max_wait_s", "priority", "optional",
    "skills", "allowed_vehicles", "return_of",
)


def problem_from_dict(
    data: Mapping[str, Any], *, build_matrices: MatrixBuilder | None = None
) -> Problem:
    """Build a :class:`Problem` from the product's problem JSON (already parsed).

    Parameters
    ----------
    data
        The parsed JSON object.
    build_matrices
        Called with the locations' ``(n, 2)`` lon/lat array and the profiles the
        vehicle types use when the JSON gives neither ``durations`` nor ``distances``.

    Raises
    ------
    ProblemError
        For any missing, mistyped, unknown or inconsistent field; ``field`` is the JSON
        path, e.g. ``requests[3].pickup_window.latest``.
    """
    r = _Reader(data)
    _known(r.data, "", {"name", "dimensions", "locations", "durations", "distances",
                        "vehicle_types", "vehicles", "requests", "jobs"})
    locations = _items(r.data, "locations", r.location)
    if not locations:
        raise ProblemError("locations", "at least one location is needed")
    vehicle_types = _items(r.data, "vehicle_types", r.vehicle_type)
    if build_matrices is not None and not {"durations", "distances"} & set(r.data):
        points = np.array([[loc.lon, loc.lat] for loc in locations], dtype=np.float64)
        profiles = tuple(sorted({str(t.profile) for t in vehicle_types}))
        durations, distances = build_matrices(points, profiles)
    else:
        durations = r.matrices("durations", len(locations))
        distances = r.matrices("distances", len(locations))
    requests = _items(r.data, "requests", r.request)
    jobs = _items(r.data, "jobs", r.job)
    _check_work_ids(requests, jobs)
    _check_returns(requests)
    return Problem(
        name=str(r.data.get("name") or ""),
        locations=locations,
        dimensions=r.dims,
        durations=durations,
        distances=distances,
        vehicle_types=vehicle_types,
        vehicles=_items(r.data, "vehicles", r.vehicle),
        requests=requests,
        jobs=jobs,
    )


def _check_work_ids(requests: tuple[Request, ...], jobs: tuple[Job, ...]) -> None:
    """Request and job ids are unique across both lists."""
    first: dict[str, str] = {}
    paths = [(f"requests[{i}]", x.id) for i, x in enumerate(requests)]
    paths += [(f"jobs[{i}]", x.id) for i, x in enumerate(jobs)]
    for path, ident in paths:
        if ident in first:
            raise ProblemError(f"{path}.id", f"duplicate id {ident!r} (also {first[ident]})")
        first[ident] = path


def _check_returns(requests: tuple[Request, ...]) -> None:
    """A return trip names another request and cannot have to start before it ends."""
    index = {x.id: i for i, x in enumerate(requests)}
    for i, x in enumerate(requests):
        if x.return_of is None:
            continue
        where = f"requests[{i}].return_of"
        k = index.get(x.return_of)
        if k is None:
            raise ProblemError(where, f"unknown request id {x.return_of!r}")
        if k == i:
            raise ProblemError(where, "a request cannot be its own return trip")
        out = requests[k]
        opens = max(out.dropoff_window.earliest, out.pickup_window.earliest)
        if x.pickup_window.latest < opens or x.dropoff_window.latest < opens:
            w = "pickup" if x.pickup_window.latest < opens else "dropoff"
            msg = (f"the return trip's {w} window closes at {getattr(x, f'{w}_window').latest}, "
                   f"before the outbound ride {out.id!r} (requests[{k}]) can start ({opens})")
            raise ProblemError(f"requests[{i}].{w}_window.latest", msg)


# ------------------------------------------------------------------ writers


def _loc_id(problem: Problem, index: int) -> str:
    return problem.locations[index].name or str(index)


def _window(w: TimeWindow) -> dict[str, int]:
    return {"earliest": w.earliest, "latest": w.latest}


def _matrix(m: np.ndarray) -> list[list[int | None]]:
    return [[None if x >= UNREACHABLE else int(x) for x in row] for row in m.tolist()]


def problem_to_dict(problem: Problem) -> dict[str, Any]:
    """Return the product's problem JSON of ``problem`` (inverse of problem_from_dict)."""
    loc = [_loc_id(problem, i) for i in range(problem.n_locations)]
    vid = [v.id for v in problem.vehicles]

    def allowed(a: tuple[int, ...] | None) -> list[str] | None:
        return None if a is None else [vid[k] for k in a]

    return {
        "name": problem.name,
        "dimensions": list(problem.dimensions),
        "locations": [{"id": loc[i], "lon": x.lon, "lat": x.lat}
                      for i, x in enumerate(problem.locations)],
        "durations": {p: _matrix(m) for p, m in problem.durations.items()},
        "distances": {p: _matrix(m) for p, m in problem.distances.items()},
        "vehicle_types": [
            {"id": t.name, "capacity": list(t.capacity), "profile": str(t.profile),
             "skills": sorted(t.skills), "fixed_cost": t.fixed_cost,
             "distance_cost": t.distance_cost, "duration_cost": t.duration_cost,
             "speed_factor": t.speed_factor}
            for t in problem.vehicle_types],
        "vehicles": [
            {"id": v.id, "type": problem.vehicle_types[v.type].name, "start": loc[v.start],
             "end": None if v.end is None else loc[v.end], "shift": _window(v.shift),
             "max_duration_s": v.max_duration_s,
             "breaks": [{"window": _window(b.window), "duration_s": b.duration_s}
                        for b in v.breaks]}
            for v in problem.vehicles],
        "requests": [
            {"id": r.id, "kind": str(r.kind), "pickup": loc[r.pickup], "dropoff": loc[r.dropoff],
             "load": list(r.load), "pickup_window": _window(r.pickup_window),
             "dropoff_window": _window(r.dropoff_window),
             "pickup_service_s": r.pickup_service_s, "dropoff_service_s": r.dropoff_service_s,
             "max_ride_s": r.max_ride_s, "max_detour": r.max_detour,
             "detour_slack_s": r.detour_slack_s, "max_wait_s": r.max_wait_s,
             "priority": r.priority, "optional": r.optional, "penalty": r.penalty,
             "skills": sorted(r.skills), "allowed_vehicles": allowed(r.allowed_vehicles),
             "return_of": r.return_of}
            for r in problem.requests],
        "jobs": [
            {"id": j.id, "kind": str(j.kind), "location": loc[j.location], "load": list(j.load),
             "window": _window(j.window), "service_s": j.service_s, "priority": j.priority,
             "optional": j.optional, "penalty": j.penalty, "skills": sorted(j.skills),
             "allowed_vehicles": allowed(j.allowed_vehicles)}
            for j in problem.jobs],
    }


def _route_steps(problem: Problem, route: Route) -> list[dict[str, Any]]:
    v = problem.vehicles[route.vehicle]
    load = [0] * len(problem.dimensions)
    for x in route.visits:
        if x.kind is StopKind.JOB and problem.jobs[x.ref].kind is JobKind.DELIVERY:
            load = [a + b for a, b in zip(load, problem.jobs[x.ref].load, strict=True)]
    steps = [{"type": "start", "id": v.id, "location": _loc_id(problem, v.start),
              "arrival": route.start_s, "start": route.start_s, "departure": route.start_s,
              "load": list(load)}]
    for x in route.visits:
        sign, item_id, q = 0, f"{v.id}/break/{x.ref}", (0,) * len(load)
        if x.kind in (StopKind.PICKUP, StopKind.DROPOFF):
            r = problem.requests[x.ref]
            item_id, q, sign = r.id, r.load, 1 if x.kind is StopKind.PICKUP else -1
        elif x.kind is StopKind.JOB:
            j = problem.jobs[x.ref]
            item_id, q, sign = j.id, j.load, 1 if j.kind is JobKind.PICKUP else -1
        load = [a + sign * b for a, b in zip(load, q, strict=True)]
        steps.append({"type": str(x.kind), "id": item_id,
                      "location": _loc_id(problem, x.location), "arrival": x.arrival,
                      "start": x.start, "departure": x.departure, "load": list(load)})
    end_loc = v.end if v.end is not None else (route.visits[-1].location if route.visits
                                                else v.start)
    steps.append({"type": "end", "id": v.id, "location": _loc_id(problem, end_loc),
                  "arrival": route.end_s, "start": route.end_s, "departure": route.end_s,
                  "load": list(load)})
    return steps


def plan_to_dict(
    problem: Problem, solution: Solution, *, feasible: bool | None = None
) -> dict[str, Any]:
    """Return the plan JSON of ``solution``.

    Parameters
    ----------
    problem, solution
        The problem and a solution of it.
    feasible
        What the checker says, if already known; computed with :func:`routing.check.check`
        otherwise.

    Returns
    -------
    dict
        ``{"summary": {cost, distance_m, duration_s, vehicles, served, unassigned, feasible,
        engine, runtime_s}, "routes": [{vehicle, steps: [{type, id, location, arrival,
        start, departure, load}], distance_m, duration_s}], "unassigned": [{id, reason}]}``.
        Step types are ``start``, ``pickup``, ``dropoff``, ``job``, ``break``, ``end``;
        ``load`` is on board after the step, ordered like the problem's dimensions.
    """
    if feasible is None:
        feasible = not check(problem, solution)
    routes = [r for r in solution.routes if r.visits]
    unassigned = [
        {"id": (problem.requests[u.ref].id if u.kind is ItemKind.REQUEST
                else problem.jobs[u.ref].id), "reason": u.reason}
        for u in solution.unassigned
    ]
    served = len(problem.requests) + len(problem.jobs) - len(unassigned)
    return {
        "summary": {
            "cost": solution.cost(problem), "distance_m": solution.distance(problem),
            "duration_s": sum(r.duration_s for r in routes), "vehicles": len(routes),
            "served": served, "unassigned": len(unassigned), "feasible": feasible,
            "engine": solution.engine, "runtime_s": round(solution.runtime_s, 3),
        },
        "routes": [
            {"vehicle": problem.vehicles[r.vehicle].id, "steps": _route_steps(problem, r),
             "distance_m": r.distance(problem), "duration_s": r.duration_s}
            for r in routes
        ],
        "unassigned": unassigned,
    }


def solution_from_plan(problem: Problem, plan: Mapping[str, Any]) -> Solution:
    """Rebuild the :class:`Solution` a plan JSON describes (inverse of plan_to_dict).

    Lets a plan written by ``hakobu solve`` (or edited by hand) be checked again with
    :func:`routing.check.check`.

    Parameters
    ----------
    problem
        The problem the plan is for.
    plan
        The parsed plan JSON.

    Raises
    ------
    ProblemError
        When a step names an unknown vehicle, location, request, job or break; ``field``
        is the plan's JSON path, e.g. ``routes[0].steps[3].id``.
    """
    loc = _Ids("locations", [_loc_id(problem, i) for i in range(problem.n_locations)])
    veh = _Ids("vehicles", [v.id for v in problem.vehicles])
    req = {r.id: i for i, r in enumerate(problem.requests)}
    job = {j.id: i for i, j in enumerate(problem.jobs)}
    data = _obj(plan, "plan")
    routes = []
    for i, value in enumerate(_list(_field(data, "routes", "", []), "routes")):
        where = f"routes[{i}]"
        obj = _obj(value, where)
        k = veh(_field(obj, "vehicle", where), f"{where}.vehicle")
        steps = _list(_field(obj, "steps", where), f"{where}.steps")
        if len(steps) < 2:
            raise ProblemError(f"{where}.steps", "needs a start and an end step")
        visits = [_visit(problem, k, _obj(x, f"{where}.steps[{j}]"), f"{where}.steps[{j}]",
                         loc, req, job)
                  for j, x in enumerate(steps[1:-1], start=1)]
        first, last = _obj(steps[0], f"{where}.steps[0]"), _obj(steps[-1], f"{where}.steps[-1]")
        routes.append(Route(vehicle=k, visits=tuple(visits),
                            start_s=_time(_field(first, "departure", where), f"{where}.start"),
                            end_s=_time(_field(last, "arrival", where), f"{where}.end")))
    unassigned = []
    for i, value in enumerate(_list(_field(data, "unassigned", "", []), "unassigned")):
        where = f"unassigned[{i}]"
        obj = _obj(value, where)
        ident = _str(_field(obj, "id", where), f"{where}.id")
        if ident in req:
            kind, ref = ItemKind.REQUEST, req[ident]
        elif ident in job:
            kind, ref = ItemKind.JOB, job[ident]
        else:
            raise ProblemError(f"{where}.id", f"unknown request or job id {ident!r}")
        unassigned.append(Unassigned(kind=kind, ref=ref,
                                     reason=str(obj.get("reason") or "")))
    found = data.get("summary")
    summary: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    return Solution(routes=tuple(routes), unassigned=tuple(unassigned),
                    engine=str(summary.get("engine") or ""),
                    runtime_s=float(summary.get("runtime_s") or 0.0))


def _visit(
    problem: Problem, vehicle: int, step: Mapping[str, Any], where: str, loc: _Ids,
    req: dict[str, int], job: dict[str, int],
) -> Visit:
    kind = _str(_field(step, "type", where), f"{where}.type")
    ident = _str(_field(step, "id", where), f"{where}.id")
    if kind in ("pickup", "dropoff"):
        if ident not in req:
            raise ProblemError(f"{where}.id", f"unknown request id {ident!r}")
        ref = req[ident]
    elif kind == "job":
        if ident not in job:
            raise ProblemError(f"{where}.id", f"unknown job id {ident!r}")
        ref = job[ident]
    elif kind == "break":
        prefix = f"{problem.vehicles[vehicle].id}/break/"
        number = ident.removeprefix(prefix)
        if not ident.startswith(prefix) or not number.isdigit():
            raise ProblemError(f"{where}.id", f"a break id is {prefix}<index>, got {ident!r}")
        ref = int(number)
    else:
        raise ProblemError(f"{where}.type",
                           f"must be pickup, dropoff, job or break, got {kind!r}")
    return Visit(kind=StopKind(kind), ref=ref,
                 location=loc(_field(step, "location", where), f"{where}.location"),
                 arrival=_time(_field(step, "arrival", where), f"{where}.arrival"),
                 start=_time(_field(step, "start", where), f"{where}.start"),
                 departure=_time(_field(step, "departure", where), f"{where}.departure"))
