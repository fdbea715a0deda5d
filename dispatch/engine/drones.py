"""Drones in the live engine: droneports at shops, one parcel per sortie, instant offers.

A :class:`DroneFleet` (built once for a day's travel table with :meth:`DroneFleet.build`)
holds the droneports (table locations: a shop with a droneport), the drone model and
the drone paths from every port to every table location around the avoided airspace
(:func:`maps.airspace.drone_matrix`). The engine keeps a :class:`DroneDay` beside the
vehicle plans: every drone's sorties (take-off, drop, landing, energy) and the wind.

* **Offer** (:func:`drone_offer`): for a delivery of mode ``drone`` or ``auto`` shipped
  from a port's location, every drone of that port is tried; a sortie takes off when the
  parcel is ready, the drone is back and charged (``spec.swap_s`` after landing) and
  late enough to drop inside the customer's window, and must pass
  :func:`routing.drone.check_sortie` in the day's wind (payload, wind limit, energy
  with the reserve). The earliest drop wins; the promised delivery window is the
  drop time to ``window_after_s`` later (inside the customer's window).
* **Confirm**: the sortie is planned again on the offered drone; it must still drop
  inside the promised window, else the offer expired (as for vans).
* **Time** (:func:`next_event`, :func:`execute`): launch (status ``picked_up``), drop
  (``dropped_off``), landing; events ``drone_launched``, ``drone_delivered``,
  ``drone_returned`` in time order with the vehicles' stops.
* **Wind** (:func:`set_wind`): every sortie not yet launched is checked again; one that
  can no longer fly is aborted (``drone_aborted``, cause ``wind``) and its delivery
  cancelled with the cause, the promise recorded as broken.

Drone deliveries never enter a vehicle plan, so re-optimization and
:meth:`~dispatch.engine.Engine.adopt_plans` see the vans only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from dispatch.engine.types import DeliveryOrder, EventKind, Offer, RequestStatus
from dispatch.errors import InvalidRequestError
from routing.model import TimeWindow

if TYPE_CHECKING:
    from dispatch.engine.state import EngineState, RequestState
    from dispatch.network import TravelTable
    from routing.drone import DroneSpec, Wind


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveDroneport:
    """A droneport at table location ``location`` with ``drones`` drones."""

    id: str
    location: int
    drones: int = 2

    def drone_ids(self) -> list[str]:
        """The ids of the port's drones (``<port>/d1`` ...)."""
        return [f"{self.id}/d{k + 1}" for k in range(self.drones)]


@dataclass(frozen=True, slots=True, kw_only=True)
class DroneFleet:
    """Droneports, the drone model and the paths from every port to every location.

    ``length_m[i, j]`` and ``paths[i][j]`` (lon/lat vertices; ``None`` when no path stays
    outside the avoided airspace) from port ``i`` to table location ``j``.
    """

    ports: tuple[LiveDroneport, ...]
    spec: DroneSpec
    length_m: np.ndarray
    paths: tuple[tuple[tuple[tuple[float, float], ...] | None, ...], ...]
    lonlat: np.ndarray
    airspace_note: str = ""

    @classmethod
    def build(cls, table: TravelTable, ports: tuple[LiveDroneport, ...], airspace: Any,
              spec: DroneSpec | None = None) -> DroneFleet:
        """Compute the drone paths for ``table``'s locations around ``airspace``.

        Raises
        ------
        InvalidRequestError
            When a port's location is outside the table or a port has no drone.
        """
        from maps.airspace import drone_matrix
        from routing.drone import DroneSpec

        spec = spec or DroneSpec()
        for p in ports:
            if not 0 <= p.location < table.n or p.drones < 1:
                msg = (f"droneport {p.id!r}: location {p.location} outside the table "
                       f"(n={table.n}) or no drone ({p.drones})")
                raise InvalidRequestError(msg)
        loc = np.asarray(table.locations, dtype=np.float64)
        src = loc[[p.location for p in ports]] if ports else np.zeros((0, 2))
        m = drone_matrix(airspace, src, loc, cruise_altitude_m=spec.cruise_alt_m)
        paths = tuple(tuple(tuple((float(x), float(y)) for x, y in m.path(i, j))
                            if m.reachable[i, j] else None for j in range(len(loc)))
                      for i in range(len(ports)))
        return cls(ports=ports, spec=spec, length_m=np.asarray(m.length_m), paths=paths,
                   lonlat=loc)

    def drone_ids(self) -> list[tuple[str, int]]:
        """Every ``(drone id, port index)``."""
        return [(d, k) for k, p in enumerate(self.ports) for d in p.drone_ids()]


@dataclass(slots=True, kw_only=True)
class LiveSortie:
    """One planned or flown sortie: one parcel from the drone's port and back."""

    request_id: str
    drone: str
    port: int
    takeoff_s: int
    drop_s: int
    landing_s: int
    energy_wh: float
    status: str = "planned"          # planned, launched, delivered, returned, aborted

    def next_time(self) -> int | None:
        """The time of this sortie's next event (``None`` when it is over)."""
        return {"planned": self.takeoff_s, "launched": self.drop_s,
                "delivered": self.landing_s}.get(self.status)


@dataclass(slots=True, kw_only=True)
class DroneDay:
    """The drones' sorties and the day's wind, kept beside the vehicle plans."""

    fleet: DroneFleet
    wind_mps: float = 0.0
    wind_from_deg: float = 0.0
    sorties: list[LiveSortie] = field(default_factory=list)

    def wind(self) -> Wind:
        from routing.drone import Wind

        return Wind(speed_mps=self.wind_mps, from_deg=self.wind_from_deg)

    def free_from(self, drone: str) -> int:
        """When ``drone`` can take off again (after its last landing and battery swap)."""
        return max((s.landing_s + self.fleet.spec.swap_s for s in self.sorties
                    if s.drone == drone and s.status != "aborted"), default=0)

    def of(self, request_id: str) -> LiveSortie | None:
        """The live (not aborted) sortie of a delivery."""
        for s in self.sorties:
            if s.request_id == request_id and s.status != "aborted":
                return s
        return None


# ------------------------------------------------------------------------------ offers
def _profile(day: DroneDay, port: int, home: int, weight: float) -> Any:
    from routing.drone import check_sortie

    f = day.fleet
    path = f.paths[port][home]
    p_ll = (float(f.lonlat[f.ports[port].location, 0]),
            float(f.lonlat[f.ports[port].location, 1]))
    h_ll = (float(f.lonlat[home, 0]), float(f.lonlat[home, 1]))
    return check_sortie(f.spec, day.wind(), p_ll, [h_ll], [weight],
                        paths=[path, None if path is None else path[::-1]])


def plan_sortie(day: DroneDay, order: DeliveryOrder, now: int, *,
                drone: str | None = None, window: TimeWindow | None = None
                ) -> LiveSortie | str:
    """The earliest-dropping sortie for ``order`` (or on ``drone``), or why none fits.

    ``window``: the drop must fall inside it (default: the order's window).
    """
    f = day.fleet
    want = window or order.window
    ports = [k for k, p in enumerate(f.ports) if p.location == order.shop]
    if not ports:
        return "no droneport at the shop"
    if order.weight_kg > f.spec.payload_kg:
        return f"payload: {order.weight_kg:g} kg over the drone's {f.spec.payload_kg:g} kg"
    best: LiveSortie | None = None
    why = ""
    for k in ports:
        prof = _profile(day, k, order.home, order.weight_kg)
        if not prof.ok:
            why = f"{prof.reason}: {prof.detail}" if prof.detail else str(prof.reason)
            continue
        off = float(prof.drop_offsets_s[0])
        for d in f.ports[k].drone_ids():
            if drone is not None and d != drone:
                continue
            takeoff = max(now, order.ready_s, day.free_from(d),
                          math.ceil(want.earliest - off))
            drop = math.ceil(takeoff + off)
            if drop > want.latest:
                why = why or "too late: no drone can drop inside the window"
                continue
            s = LiveSortie(request_id=order.id, drone=d, port=k, takeoff_s=takeoff,
                           drop_s=drop, landing_s=math.ceil(takeoff + prof.duration_s),
                           energy_wh=round(float(prof.energy_wh), 1))
            if best is None or (s.drop_s, s.drone) < (best.drop_s, best.drone):
                best = s
    return best if best is not None else (why or "no drone of the port is free")


def drone_offer(day: DroneDay, order: DeliveryOrder, now: int, ttl_s: int,
                window_after_s: int) -> Offer | str:
    """An offer for ``order`` by drone, or why none fits (see the module docstring)."""
    got = plan_sortie(day, order, now)
    if isinstance(got, str):
        return got
    dw = TimeWindow(earliest=got.drop_s,
                    latest=min(order.window.latest, got.drop_s + window_after_s))
    return Offer(request_id=order.id, vehicle=-1, pickup=order.shop, dropoff=order.home,
                 walk_s=0, pickup_window=TimeWindow(earliest=got.takeoff_s,
                                                    latest=got.takeoff_s),
                 latest_arrival=dw.latest, max_ride_s=None, planned_pickup_s=got.takeoff_s,
                 planned_dropoff_s=got.drop_s, expires_s=now + ttl_s, delivery_window=dw,
                 drone=got.drone)


def confirm(day: DroneDay, r: RequestState, now: int) -> LiveSortie | None:
    """Plan the offered drone's sortie again inside the promised window; ``None`` when it
    no longer fits."""
    o = r.offer
    assert o is not None and o.drone is not None and isinstance(r.request, DeliveryOrder)
    got = plan_sortie(day, r.request, now, drone=o.drone, window=o.delivery_window)
    if isinstance(got, str):
        return None
    day.sorties.append(got)
    return got


def cancel(day: DroneDay, request_id: str) -> None:
    """Drop the planned sortie of a cancelled delivery (the drone is free again)."""
    s = day.of(request_id)
    if s is not None and s.status == "planned":
        day.sorties.remove(s)


# ------------------------------------------------------------------------------- time
def next_event(day: DroneDay, t: int) -> tuple[int, int] | None:
    """``(time, sortie index)`` of the earliest drone event at or before ``t``."""
    best: tuple[int, int] | None = None
    for k, s in enumerate(day.sorties):
        nt = s.next_time()
        if nt is not None and nt <= t and (best is None or nt < best[0]):
            best = (nt, k)
    return best


def execute(st: EngineState, day: DroneDay, k: int) -> None:
    """Run sortie ``k``'s next event (launch, drop or landing) at its time."""
    s = day.sorties[k]
    r = st.requests[s.request_id]
    if s.status == "planned":
        s.status = "launched"
        r.picked_up_s = s.takeoff_s
        st.log(EventKind.DRONE_LAUNCHED, request_id=s.request_id, cause=s.drone,
               t=s.takeoff_s)
        st.set_status(r, RequestStatus.PICKED_UP, "drone", t=s.takeoff_s)
    elif s.status == "launched":
        s.status = "delivered"
        r.dropped_off_s = s.drop_s
        st.log(EventKind.DRONE_DELIVERED, request_id=s.request_id, cause=s.drone, t=s.drop_s)
        st.set_status(r, RequestStatus.DROPPED_OFF, "drone", t=s.drop_s)
    elif s.status == "delivered":
        s.status = "returned"
        st.log(EventKind.DRONE_RETURNED, request_id=s.request_id, cause=s.drone,
               t=s.landing_s, value_s=round(s.energy_wh))


def set_wind(st: EngineState, day: DroneDay, speed_mps: float, from_deg: float) -> None:
    """Set the wind; abort every planned sortie that can no longer fly or keep its
    promise (its delivery is cancelled with the cause ``wind``)."""
    day.wind_mps, day.wind_from_deg = float(speed_mps), float(from_deg)
    st.log(EventKind.WIND, cause=f"{speed_mps:g} m/s from {from_deg:g} deg")
    for s in [x for x in day.sorties if x.status == "planned"]:
        r = st.requests[s.request_id]
        assert isinstance(r.request, DeliveryOrder)
        prof = _profile(day, s.port, r.request.home, r.request.weight_kg)
        o = r.offer
        ok = prof.ok and o is not None and o.delivery_window is not None and (
            math.ceil(s.takeoff_s + float(prof.drop_offsets_s[0])) <= o.delivery_window.latest)
        if ok:
            off = float(prof.drop_offsets_s[0])
            s.drop_s = math.ceil(s.takeoff_s + off)
            s.landing_s = math.ceil(s.takeoff_s + prof.duration_s)
            s.energy_wh = round(float(prof.energy_wh), 1)
            continue
        s.status = "aborted"
        why = str(prof.reason) if not prof.ok else "window"
        st.log(EventKind.DRONE_ABORTED, request_id=s.request_id, cause=f"{s.drone}: wind "
               f"({why})")
        st.broken(r, "wind", 0)
        st.set_status(r, RequestStatus.CANCELLED, "drone aborted: wind")


# ---------------------------------------------------------------------- persistence
def encode(day: DroneDay | None) -> dict[str, Any] | None:
    """The drones' state as JSON data."""
    if day is None:
        return None
    return {"wind_mps": day.wind_mps, "wind_from_deg": day.wind_from_deg,
            "sorties": [{"request_id": s.request_id, "drone": s.drone, "port": s.port,
                         "takeoff_s": s.takeoff_s, "drop_s": s.drop_s,
                         "landing_s": s.landing_s, "energy_wh": s.energy_wh,
                         "status": s.status} for s in day.sorties]}


def decode(day: DroneDay | None, data: dict[str, Any] | None) -> None:
    """Fill ``day`` from :func:`encode`'s data (a snapshot without drones: nothing)."""
    if day is None or data is None:
        return
    day.wind_mps, day.wind_from_deg = float(data["wind_mps"]), float(data["wind_from_deg"])
    day.sorties = [LiveSortie(**s) for s in data["sorties"]]



def day_droneports(places: Any, drones: int) -> tuple[LiveDroneport, ...]:
    """Droneports at a generated day's shops (places of kind ``pharmacy``), ``drones``
    drones shared out over them (the first shops get one more when it does not divide)."""
    shops = [k for k, p in enumerate(places) if str(p.kind) == "pharmacy"]
    if drones < 1 or not shops:
        return ()
    shops = shops[:drones]
    per, extra = divmod(drones, len(shops))
    return tuple(LiveDroneport(id=f"port-{i + 1}", location=k, drones=per + (i < extra))
                 for i, k in enumerate(shops))
