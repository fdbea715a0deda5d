"""The web console (``/console/``) and the map data it draws: the region's own roads,
the boarding points, and each vehicle's position (moving along the road on its way to
its next stop) and planned route along the roads.

No tile server: the base map is the road graph of the region the service runs on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from api.deps import STAFF, CallerDep

WEB = Path(__file__).resolve().parents[1] / "web"
router = APIRouter(tags=["console"])


@router.get("/", include_in_schema=False)
def home() -> RedirectResponse:
    """Send a browser to the console."""
    return RedirectResponse("/console/")


def _roads(region: Any) -> dict[str, Any]:
    road = region.road
    edges = np.flatnonzero((road.reverse < 0) | (np.arange(len(road.reverse)) < road.reverse))
    feats = []
    for e in edges:
        pts = np.round(road.geom_lonlat[road.geom_ptr[e]:road.geom_ptr[e + 1]], 5)
        if len(pts) > 1:
            feats.append({"type": "Feature", "properties": {},
                          "geometry": {"type": "LineString", "coordinates": pts.tolist()}})
    return {"type": "FeatureCollection", "features": feats}


@router.get("/v1/map/roads", operation_id="map_roads",
            summary="The region's roads as GeoJSON (the console's base map)")
def map_roads(request: Request, caller: CallerDep) -> dict[str, Any]:
    """Return every road once (two-way roads once) as GeoJSON LineStrings."""
    state = request.app.state
    if getattr(state, "roads_geojson", None) is None:
        state.roads_geojson = (_roads(state.region) if state.region is not None
                               else {"type": "FeatureCollection", "features": []})
    return dict(state.roads_geojson)


@router.get("/v1/map/vehicles", operation_id="map_vehicles",
            summary="Vehicles and drones where they are now, routes and flight paths")
def map_vehicles(request: Request, caller: CallerDep) -> dict[str, Any]:
    """Return a point per vehicle and a line per vehicle along the roads through its
    planned stops.

    A vehicle on its way to its next stop is placed along the road path of that leg in
    proportion to the time elapsed since it left (``moving`` is true, ``heading_to`` and
    ``eta`` name the stop and the planned arrival); otherwise at the stop it is at.
    Drones (when the service has them): a point per drone (at its droneport, or along
    the flight path of its sortie in flight: ``moving``, ``heading_to``) and a line per
    sortie planned or in flight (``kind`` ``flight``, its path out and back).
    """
    caller.require(*STAFF)
    svc = caller.service
    region = request.app.state.region
    places = svc.setup.places
    legs: list[tuple[int, int, int, int] | None] = []  # origin, next, left, arrives
    with svc.lock:
        eng = svc.engine
        now = eng.now
        plans = eng.live_plans()
        seqs = [[p.origin, *(s.location for s in eng.plan(k))] for k, p in enumerate(plans)]
        sorties = eng.drone_sorties()
        homes = {x.request_id: getattr(eng.record(x.request_id).request, "home", 0)
                 for x in sorties}
        props = []
        for k, p in enumerate(plans):
            nxt = eng.plan(k)[:1]
            moving = bool(nxt) and nxt[0].location != p.origin and (
                p.origin_s <= now < nxt[0].arrival_s)
            legs.append((p.origin, nxt[0].location, p.origin_s, nxt[0].arrival_s)
                        if moving else None)
            props.append({"kind": "vehicle", "vehicle": eng.vehicle_spec(k).id,
                          "active": p.active, "onboard": sum(p.onboard[:2]),
                          "next_stops": len(p.stops), "moving": moving,
                          "heading_to": places[nxt[0].location].id if moving else None,
                          "eta": svc.to_time(nxt[0].arrival_s).isoformat() if moving
                          else None})
    if region is not None:
        node = _place_nodes(request, region, svc)
        from dispatch.report import node_paths

        first = [[int(node[leg[0]]), int(node[leg[1]])] if leg else [] for leg in legs]
        paths = node_paths(region.road, [[int(node[i]) for i in s] for s in seqs] + first)
        lines = [[[round(x, 5), round(y, 5)] for x, y in line] for line in paths[:len(seqs)]]
        first_lines = paths[len(seqs):]
    else:
        lines = [[[places[i].lon, places[i].lat] for i in s] for s in seqs]
        first_lines = [[(places[leg[0]].lon, places[leg[0]].lat),
                        (places[leg[1]].lon, places[leg[1]].lat)] if leg else []
                       for leg in legs]
    feats: list[dict[str, Any]] = []
    for k, leg in enumerate(legs):
        o = places[plans[k].origin]
        where = [o.lon, o.lat]
        if leg is not None and len(first_lines[k]) > 1:
            share = (now - leg[2]) / max(1, leg[3] - leg[2])
            where = [round(c, 6) for c in along(first_lines[k], share)]
        feats.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": where},
                      "properties": props[k]})
    for k, line in enumerate(lines):
        if len(line) > 1:
            feats.append({"type": "Feature", "geometry": {"type": "LineString",
                                                          "coordinates": line},
                          "properties": {"kind": "route", "vehicle": svc.setup.fleet[k].id}})
    feats += drone_features(svc, sorties, homes, now)
    return {"type": "FeatureCollection", "features": feats}


def drone_features(svc: Any, sorties: list[Any], homes: dict[str, int],
                   now: int) -> list[dict[str, Any]]:
    """A point per drone where it is at ``now`` and a line per sortie not yet over."""
    fleet = svc.setup.drones
    if fleet is None:
        return []
    places = svc.setup.places
    where: dict[str, dict[str, Any]] = {}
    for d, k in fleet.drone_ids():
        p = places[fleet.ports[k].location]
        where[d] = {"at": [p.lon, p.lat], "moving": False, "heading_to": None}
    feats: list[dict[str, Any]] = []
    for s in sorties:
        if s.status in ("returned", "aborted"):
            continue
        out = fleet.paths[s.port][homes[s.request_id]]
        if out is None:
            continue
        path = [(float(x), float(y)) for x, y in out]
        feats.append({"type": "Feature", "geometry": {
            "type": "LineString", "coordinates": [[round(x, 6), round(y, 6)] for x, y in
                                                  [*out, *out[-2::-1]]]},
            "properties": {"kind": "flight", "drone": s.drone, "delivery": s.request_id,
                           "status": s.status,
                           "takeoff": svc.to_time(s.takeoff_s).isoformat()}})
        if s.takeoff_s <= now < s.drop_s:
            share = (now - s.takeoff_s) / max(1, s.drop_s - s.takeoff_s)
            where[s.drone] = {"at": [round(c, 6) for c in along(path, share)],
                              "moving": True, "heading_to": places[homes[s.request_id]].id}
        elif s.drop_s <= now < s.landing_s:
            share = (now - s.drop_s) / max(1, s.landing_s - s.drop_s)
            where[s.drone] = {"at": [round(c, 6) for c in along(path[::-1], share)],
                              "moving": True, "heading_to": places[fleet.ports[s.port].location].id}
    for d, w in where.items():
        feats.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": w["at"]},
                      "properties": {"kind": "drone", "drone": d, "moving": w["moving"],
                                     "heading_to": w["heading_to"]}})
    return feats


def along(line: list[tuple[float, float]], share: float) -> tuple[float, float]:
    """Return the point ``share`` (0..1) of the way along a lon/lat polyline, by length
    (local equirectangular metres)."""
    pts = np.asarray(line, dtype=np.float64)
    kx = np.cos(np.deg2rad(pts[:, 1].mean()))
    seg = np.hypot(np.diff(pts[:, 0]) * kx, np.diff(pts[:, 1]))
    total = float(seg.sum())
    if total <= 0:
        return (float(pts[0, 0]), float(pts[0, 1]))
    target = min(max(share, 0.0), 1.0) * total
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    i = min(int(np.searchsorted(cum, target, side="right")) - 1, len(seg) - 1)
    f = (target - cum[i]) / seg[i] if seg[i] > 0 else 0.0
    x, y = pts[i] + f * (pts[i + 1] - pts[i])
    return (float(x), float(y))


def _place_nodes(request: Request, region: Any, svc: Any) -> Any:
    state = request.app.state
    if getattr(state, "place_nodes", None) is None:
        from maps.snap import snap_points

        ll = np.array([[p.lon, p.lat] for p in svc.setup.places], dtype=np.float64)
        state.place_nodes = snap_points(region.road, ll).node
    return state.place_nodes
