"""The web console (``/console/``) and the map data it draws: the region's own roads,
the boarding points, and each vehicle's position and planned route along the roads.

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
            summary="Vehicles, their next stops and planned routes as GeoJSON")
def map_vehicles(request: Request, caller: CallerDep) -> dict[str, Any]:
    """Return a point per vehicle (where its plan starts now) and a line per vehicle
    along the roads through its planned stops."""
    caller.require(*STAFF)
    svc = caller.service
    region = request.app.state.region
    places = svc.setup.places
    feats: list[dict[str, Any]] = []
    with svc.lock:
        eng = svc.engine
        plans = eng.live_plans()
        seqs = [[p.origin, *(s.location for s in eng.plan(k))] for k, p in enumerate(plans)]
        for k, p in enumerate(plans):
            o = places[p.origin]
            feats.append({"type": "Feature", "geometry": {
                "type": "Point", "coordinates": [o.lon, o.lat]}, "properties": {
                "kind": "vehicle", "vehicle": eng.vehicle_spec(k).id, "active": p.active,
                "onboard": sum(p.onboard[:2]), "next_stops": len(p.stops)}})
    if region is not None:
        node = _place_nodes(request, region, svc)
        from dispatch.report import node_paths

        lines = [[[round(x, 5), round(y, 5)] for x, y in line] for line in
                 node_paths(region.road, [[int(node[i]) for i in s] for s in seqs])]
    else:
        lines = [[[places[i].lon, places[i].lat] for i in s] for s in seqs]
    for k, line in enumerate(lines):
        if len(line) > 1:
            feats.append({"type": "Feature", "geometry": {"type": "LineString",
                                                          "coordinates": line},
                          "properties": {"kind": "route", "vehicle": svc.setup.fleet[k].id}})
    return {"type": "FeatureCollection", "features": feats}


def _place_nodes(request: Request, region: Any, svc: Any) -> Any:
    state = request.app.state
    if getattr(state, "place_nodes", None) is None:
        from maps.snap import snap_points

        ll = np.array([[p.lon, p.lat] for p in svc.setup.places], dtype=np.float64)
        state.place_nodes = snap_points(region.road, ll).node
    return state.place_nodes
