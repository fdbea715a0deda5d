"""Drone airspace: restricted areas, height limits and shortest drone paths around them.

An :class:`Airspace` is a list of :class:`Area` polygons (WGS84 lon/lat), each with a
``policy`` chosen by the operator:

* ``avoid``: a drone may not enter it (at the heights where it applies);
* ``permit``: the operator holds a permission, so it may be crossed; every crossing is
  listed (:meth:`Airspace.crossings`) for the flight plan.

An area may carry ``height_limit_m``: it then restricts only flights above that height
(the airport horizontal surface); without one it applies at every height. A flight's
cruise altitude must stay at or below the airspace ceiling (150 m above ground by
default, Civil Aeronautics Act Art. 132-85).

Sources (:func:`load_airspace`, :func:`airspace_for_region`):

* densely inhabited districts (DID, 人口集中地区, e-Stat 2020 census polygons): policy
  ``avoid`` by default (Level 3.5 operations), ``permit`` with ``level4=True``;
* airports from 国土数値情報 C28 (airport grounds): the grounds are closed at every
  height (``avoid``), and a horizontal surface, approximated as the grounds grown by
  ``airport_surface_radius_m`` (default 4,000 m), limits flights to
  ``airport_surface_height_m`` (default 45 m) above ground. The real restriction surfaces
  (approach, transitional, conical) are not in the data: this is an approximation;
* OpenStreetMap ``aeroway=aerodrome|helipad|runway``, ``landuse=military``,
  ``amenity=prison``, ``power=plant|substation`` (``avoid``);
* any user GeoJSON geofence (``avoid`` unless a feature's ``policy`` property says
  ``permit``; an optional ``height_limit_m`` property).

Drone paths (:func:`drone_matrix`) are the shortest paths in the plane that stay outside
every area avoided at the cruise altitude, grown by a safety margin (default 30 m).
Work happens in the local UTM zone (metres); results are lon/lat. See
:func:`drone_matrix` for the algorithm.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import shapely
from pyproj import CRS, Transformer
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra
from shapely.geometry.base import BaseGeometry

from maps.errors import MapDataError, MapsError
from maps.matrix import UNREACHABLE, TravelMatrices

logger = logging.getLogger(__name__)

Policy = Literal["avoid", "permit"]
#: The two area policies.
POLICIES: tuple[str, ...] = ("avoid", "permit")
#: Altitude ceiling above ground without a permission (m).
DEFAULT_CEILING_M = 150.0
#: Cruise altitude used when none is given (m above ground).
DEFAULT_CRUISE_ALTITUDE_M = 60.0
#: Safety margin kept between a drone path and every avoided area (m).
DEFAULT_MARGIN_M = 30.0
#: Radius of the approximated airport horizontal surface around the grounds (m).
DEFAULT_AIRPORT_SURFACE_RADIUS_M = 4000.0
#: Height limit inside the approximated airport horizontal surface (m above ground).
DEFAULT_AIRPORT_SURFACE_HEIGHT_M = 45.0
#: Radius given to OSM restricted areas mapped as a node (e.g. a helipad), and half the
#: width given to a runway mapped as a line (m).
DEFAULT_OSM_POINT_RADIUS_M = 50.0
#: OSM tags that make an area restricted.
OSM_RESTRICTED_TAGS: dict[str, frozenset[str]] = {
    "aeroway": frozenset({"aerodrome", "helipad", "runway"}),
    "landuse": frozenset({"military"}),
    "amenity": frozenset({"prison"}),
    "power": frozenset({"plant", "substation"}),
}
_CRS = "EPSG:4326"
_F64 = npt.NDArray[np.float64]
_INT64 = npt.NDArray[np.int64]
_EPS_M = 0.01  # segment ends on an obstacle vertex are pulled back by this much


class AirspaceError(MapsError, ValueError):
    """A bad airspace setting (policy, altitude above the ceiling, margin...)."""


# ------------------------------------------------------------------------------ areas


@dataclass(frozen=True, slots=True, kw_only=True)
class Area:
    """One restricted area.

    Attributes
    ----------
    name
        Display name (e.g. ``熊本市中央区`` for a DID, ``熊本空港`` for an airport).
    kind
        ``did``, ``airport`` (grounds), ``airport_surface`` (approximated horizontal
        surface), ``aerodrome``, ``helipad``, ``runway``, ``military``, ``prison``,
        ``power`` or ``geofence``.
    policy
        ``avoid`` or ``permit``.
    geometry
        Polygon or MultiPolygon in WGS84 lon/lat.
    height_limit_m
        The area restricts only flights above this height (m above ground); None: at
        every height.
    source
        File the area was read from.
    """

    name: str
    kind: str
    policy: Policy
    geometry: BaseGeometry
    height_limit_m: float | None = None
    source: str = ""

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            msg = f"area {self.name!r}: policy must be one of {POLICIES}, got {self.policy!r}"
            raise AirspaceError(msg)
        if self.geometry.geom_type not in ("Polygon", "MultiPolygon") or self.geometry.is_empty:
            msg = f"area {self.name!r}: geometry must be a non-empty (Multi)Polygon"
            raise AirspaceError(msg)
        if self.height_limit_m is not None and not self.height_limit_m >= 0:
            msg = f"area {self.name!r}: height_limit_m must be >= 0"
            raise AirspaceError(msg)

    def applies_at(self, altitude_m: float) -> bool:
        """True if a flight at ``altitude_m`` above ground is restricted by this area."""
        return self.height_limit_m is None or altitude_m > self.height_limit_m


@dataclass(frozen=True, slots=True)
class Crossing:
    """A stretch of a path inside an area (``length_m`` inside it, in metres)."""

    name: str
    kind: str
    policy: str
    length_m: float
    height_limit_m: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Airspace:
    """Restricted areas plus the altitude ceiling (see the module docstring).

    Attributes
    ----------
    areas
        The areas, in the order read.
    ceiling_m
        Highest cruise altitude allowed (m above ground).
    notes
        Data caveats found while loading (skipped empty features...).
    """

    areas: tuple[Area, ...]
    ceiling_m: float = DEFAULT_CEILING_M
    notes: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if not self.ceiling_m > 0:
            msg = f"ceiling_m must be > 0, got {self.ceiling_m}"
            raise AirspaceError(msg)

    def check_altitude(self, altitude_m: float) -> None:
        """Raise :class:`AirspaceError` unless ``0 < altitude_m <= ceiling_m``."""
        if not (math.isfinite(altitude_m) and altitude_m > 0):
            msg = f"cruise_altitude_m must be a positive number of metres, got {altitude_m}"
            raise AirspaceError(msg)
        if altitude_m > self.ceiling_m:
            msg = (
                f"cruise_altitude_m {altitude_m:g} m is above the airspace ceiling "
                f"{self.ceiling_m:g} m above ground"
            )
            raise AirspaceError(msg)

    def active(self, altitude_m: float, policy: str | None = None) -> list[Area]:
        """Areas restricting a flight at ``altitude_m`` (optionally of one policy)."""
        return [
            a
            for a in self.areas
            if a.applies_at(altitude_m) and (policy is None or a.policy == policy)
        ]

    def avoided(self, altitude_m: float, margin_m: float = 0.0) -> BaseGeometry:
        """The union of the areas avoided at ``altitude_m``, grown by ``margin_m``
        (prepared for ``shapely.contains_xy``; empty when nothing is avoided): where a
        drone may neither take off nor land."""
        areas = [a.geometry if margin_m <= 0 else _grow_lonlat(a.geometry, margin_m)
                 for a in self.active(altitude_m, "avoid")]
        blocked = shapely.union_all(areas) if areas else shapely.Polygon()
        shapely.prepare(blocked)
        return blocked

    def with_policy(self, kind: str, policy: Policy) -> Airspace:
        """Return a copy where every area of ``kind`` has ``policy``."""
        if policy not in POLICIES:
            msg = f"policy must be one of {POLICIES}, got {policy!r}"
            raise AirspaceError(msg)
        areas = tuple(
            Area(
                name=a.name,
                kind=a.kind,
                policy=policy if a.kind == kind else a.policy,
                geometry=a.geometry,
                height_limit_m=a.height_limit_m,
                source=a.source,
            )
            for a in self.areas
        )
        return Airspace(areas=areas, ceiling_m=self.ceiling_m, notes=self.notes)

    def bounds(self) -> tuple[float, float, float, float] | None:
        """``(min_lon, min_lat, max_lon, max_lat)`` of every area, None if there is none."""
        if not self.areas:
            return None
        b = shapely.bounds(np.array([a.geometry for a in self.areas]))
        return (
            float(b[:, 0].min()),
            float(b[:, 1].min()),
            float(b[:, 2].max()),
            float(b[:, 3].max()),
        )

    def fingerprint(self) -> str:
        """A hash of every area (geometry, policy, height limit) and the ceiling."""
        h = hashlib.sha256(f"ceiling={self.ceiling_m!r}".encode())
        for a in self.areas:
            meta = json.dumps([a.name, a.kind, a.policy, a.height_limit_m], ensure_ascii=False)
            h.update(meta.encode())
            h.update(shapely.to_wkb(a.geometry, output_dimension=2))
        return h.hexdigest()

    def to_geojson(self) -> dict[str, Any]:
        """The areas as a GeoJSON FeatureCollection (properties: name, kind, policy,
        height_limit_m, source)."""
        feats = [
            {
                "type": "Feature",
                "properties": {
                    "name": a.name,
                    "kind": a.kind,
                    "policy": a.policy,
                    "height_limit_m": a.height_limit_m,
                    "source": a.source,
                },
                "geometry": json.loads(shapely.to_geojson(a.geometry)),
            }
            for a in self.areas
        ]
        return {"type": "FeatureCollection", "features": feats}

    def crossings(
        self, path_lonlat: npt.ArrayLike, cruise_altitude_m: float = DEFAULT_CRUISE_ALTITUDE_M
    ) -> list[Crossing]:
        """Every area restricting ``cruise_altitude_m`` that the path enters.

        Parameters
        ----------
        path_lonlat
            ``(k, 2)`` lon/lat vertices of the path (k >= 2).
        cruise_altitude_m
            The flight's altitude above ground.

        Returns
        -------
        list[Crossing]
            One entry per area entered, with the length flown inside it, in area order.
            A path planned by :func:`drone_matrix` only enters ``permit`` areas.
        """
        path = _path_array(path_lonlat)
        proj = _Projection.for_lonlat(path)
        line = proj.geom_to_xy(shapely.linestrings(path))
        out = []
        for a in self.active(cruise_altitude_m):
            poly = proj.geom_to_xy(a.geometry)
            if not shapely.intersects(line, poly):
                continue
            inside = shapely.intersection(line, poly)
            out.append(Crossing(a.name, a.kind, a.policy, float(inside.length), a.height_limit_m))
        return out

    def violations(
        self, path_lonlat: npt.ArrayLike, cruise_altitude_m: float = DEFAULT_CRUISE_ALTITUDE_M
    ) -> list[str]:
        """Why a flight along the path at ``cruise_altitude_m`` is not allowed ([] if it is).

        Checks the ceiling and every ``avoid`` area (the original polygons, not the
        margin) restricting that altitude, including height limits on the way.
        """
        out = []
        if cruise_altitude_m > self.ceiling_m:
            out.append(
                f"cruise altitude {cruise_altitude_m:g} m above the ceiling {self.ceiling_m:g} m"
            )
        for c in self.crossings(path_lonlat, cruise_altitude_m):
            if c.policy != "avoid":
                continue
            if c.height_limit_m is not None:
                out.append(
                    f"crosses {c.kind} {c.name!r} at {cruise_altitude_m:g} m, above its "
                    f"height limit {c.height_limit_m:g} m ({c.length_m:.0f} m inside)"
                )
            else:
                out.append(f"enters avoided {c.kind} {c.name!r} ({c.length_m:.0f} m inside)")
        return out


def _path_array(path_lonlat: npt.ArrayLike) -> _F64:
    path = np.asarray(path_lonlat, dtype=np.float64)
    if path.ndim != 2 or path.shape[1] != 2 or path.shape[0] < 2:
        msg = f"path_lonlat: expected a (k>=2, 2) lon/lat array, got shape {path.shape}"
        raise AirspaceError(msg)
    return path


# ------------------------------------------------------------------------- projection


@dataclass(frozen=True, slots=True)
class _Projection:
    """Local UTM projection (metres) and back."""

    epsg: int
    fwd: Transformer
    inv: Transformer

    @staticmethod
    def for_lonlat(points: _F64) -> _Projection:
        lon = float(np.nanmean(points[:, 0]))
        lat = float(np.nanmean(points[:, 1]))
        return _Projection.for_centre(lon, lat)

    @staticmethod
    def for_centre(lon: float, lat: float) -> _Projection:
        zone = int(np.clip(math.floor((lon + 180.0) / 6.0) + 1, 1, 60))
        epsg = (32600 if lat >= 0 else 32700) + zone
        crs = CRS.from_epsg(epsg)
        fwd = Transformer.from_crs(_CRS, crs, always_xy=True)
        inv = Transformer.from_crs(crs, _CRS, always_xy=True)
        return _Projection(epsg, fwd, inv)

    def to_xy(self, lonlat: _F64) -> _F64:
        x, y = self.fwd.transform(lonlat[:, 0], lonlat[:, 1])
        return np.column_stack([np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)])

    def to_lonlat(self, xy: _F64) -> _F64:
        lon, lat = self.inv.transform(xy[:, 0], xy[:, 1])
        return np.column_stack(
            [np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)]
        )

    def geom_to_xy(self, geom: Any) -> Any:
        return shapely.transform(geom, self.to_xy)


# ---------------------------------------------------------------------------- loading


def _read_polygons(
    path: str | Path, what: str
) -> tuple[list[BaseGeometry], list[dict[str, Any]], list[str]]:
    """Read a GeoJSON/vector file's polygons with their properties; strict checks."""
    import geopandas as gpd  # heavy import only when a file is read

    p = Path(path)
    if not p.is_file():
        msg = f"{p}: {what} file not found"
        raise MapDataError(msg)
    try:
        frame = gpd.read_file(p)
    except Exception as exc:  # pyogrio raises several unrelated types
        msg = f"{p}: not a readable GeoJSON/vector file ({type(exc).__name__}: {exc})"
        raise MapDataError(msg) from exc
    if len(frame) == 0:
        msg = f"{p}: {what} layer has no features"
        raise MapDataError(msg)
    if frame.crs is not None and not frame.crs.is_geographic:
        msg = (
            f"{p}: {what} layer is in the projected CRS {frame.crs.to_string()}; "
            "expected WGS84 lon/lat (EPSG:4326)"
        )
        raise MapDataError(msg)
    if frame.crs is not None and frame.crs.to_epsg() != 4326:
        frame = frame.to_crs(_CRS)
    geoms = frame.geometry.to_numpy()
    present = np.array([g is not None and not g.is_empty for g in geoms], dtype=bool)
    notes = []
    if not present.any():
        msg = f"{p}: {what} layer has no geometries (every feature is empty)"
        raise MapDataError(msg)
    if (~present).any():
        notes.append(f"{p.name}: {int((~present).sum())} feature(s) without geometry skipped")
    kinds = {str(g.geom_type) for g in geoms[present]}
    polys = kinds & {"Polygon", "MultiPolygon"}
    if not polys:
        msg = (
            f"{p}: {what} layer holds {', '.join(sorted(kinds))} features, not polygons "
            "(a points or lines file given as a no-fly layer?)"
        )
        raise MapDataError(msg)
    if kinds - polys:
        msg = f"{p}: {what} layer mixes {', '.join(sorted(kinds - polys))} features with polygons"
        raise MapDataError(msg)
    b = shapely.bounds(geoms[present])
    if b[:, 0].min() < -180 or b[:, 2].max() > 180 or b[:, 1].min() < -90 or b[:, 3].max() > 90:
        msg = (
            f"{p}: {what} layer coordinates are not lon/lat degrees (wrong CRS? "
            "expected WGS84, EPSG:4326)"
        )
        raise MapDataError(msg)
    out_g: list[BaseGeometry] = []
    out_p: list[dict[str, Any]] = []
    props = frame.drop(columns=frame.geometry.name).to_dict("records")
    for i in np.flatnonzero(present):
        g = geoms[i]
        if not shapely.is_valid(g):
            reason = shapely.is_valid_reason(g)
            msg = f"{p}: {what} feature {int(i)} has an invalid polygon ({reason})"
            raise MapDataError(msg)
        out_g.append(g)
        out_p.append(props[i])
    return out_g, out_p, notes


def _prop(props: dict[str, Any], *keys: str) -> Any:
    for k in keys:
        v = props.get(k)
        if v is not None and not (isinstance(v, float) and math.isnan(v)) and str(v) != "":
            return v
    return None


def _grow_lonlat(geom: BaseGeometry, metres: float) -> BaseGeometry:
    """Buffer a lon/lat geometry by ``metres`` in its local UTM zone."""
    c = geom.centroid
    proj = _Projection.for_centre(c.x, c.y)
    grown = proj.geom_to_xy(geom).buffer(metres, quad_segs=8)
    return shapely.transform(grown, proj.to_lonlat)


def did_areas(path: str | Path, *, policy: Policy = "avoid") -> tuple[list[Area], list[str]]:
    """Read a DID (人口集中地区) GeoJSON layer into areas named by ``CITYNAME``.

    Raises
    ------
    MapDataError
        If the file is missing, unreadable, empty, not polygons, invalid or not lon/lat.
    """
    geoms, props, notes = _read_polygons(path, "DID")
    areas = [
        Area(
            name=str(_prop(pr, "CITYNAME", "name") or f"DID {i}"),
            kind="did",
            policy=policy,
            geometry=g,
            source=str(path),
        )
        for i, (g, pr) in enumerate(zip(geoms, props, strict=True))
    ]
    return areas, notes


def airport_areas(
    path: str | Path,
    *,
    surface_radius_m: float = DEFAULT_AIRPORT_SURFACE_RADIUS_M,
    surface_height_m: float = DEFAULT_AIRPORT_SURFACE_HEIGHT_M,
    surface_policy: Policy = "avoid",
    within: BaseGeometry | None = None,
) -> tuple[list[Area], list[str]]:
    """Read airport grounds (国土数値情報 C28 or any polygon layer) into areas.

    Each airport gives two areas: its grounds (``kind="airport"``, ``avoid`` at every
    height) and an approximated horizontal surface (``kind="airport_surface"``): the
    grounds grown by ``surface_radius_m``, restricting flights above
    ``surface_height_m``. Grounds of one airport (same ``C28_005`` name) are merged.
    ``within`` keeps only airports whose surface intersects it (lon/lat); set
    ``surface_radius_m=0`` to skip the surfaces.

    Raises
    ------
    MapDataError
        As :func:`did_areas`.
    """
    if surface_radius_m < 0 or surface_height_m < 0:
        msg = "airport surface radius and height must be >= 0"
        raise AirspaceError(msg)
    geoms, props, notes = _read_polygons(path, "airport")
    by_name: dict[str, list[BaseGeometry]] = {}
    for i, (g, pr) in enumerate(zip(geoms, props, strict=True)):
        name = str(_prop(pr, "C28_005", "name") or f"airport {i}")
        by_name.setdefault(name, []).append(g)
    areas: list[Area] = []
    for name, parts in by_name.items():
        grounds = shapely.union_all(parts)
        surface = _grow_lonlat(grounds, surface_radius_m) if surface_radius_m > 0 else None
        reach = surface if surface is not None else grounds
        if within is not None and not reach.intersects(within):
            continue
        areas.append(
            Area(name=name, kind="airport", policy="avoid", geometry=grounds, source=str(path))
        )
        if surface is not None:
            areas.append(
                Area(
                    name=f"{name} horizontal surface (approx.)",
                    kind="airport_surface",
                    policy=surface_policy,
                    geometry=surface,
                    height_limit_m=surface_height_m,
                    source=str(path),
                )
            )
    return areas, notes


def geofence_areas(path: str | Path, *, policy: Policy = "avoid") -> tuple[list[Area], list[str]]:
    """Read a user GeoJSON geofence: every polygon is an area (``kind="geofence"``).

    Feature properties used when present: ``name``, ``policy`` (``avoid``/``permit``,
    else ``policy``), ``height_limit_m``.

    Raises
    ------
    MapDataError
        As :func:`did_areas`, or a bad ``policy``/``height_limit_m`` property.
    """
    geoms, props, notes = _read_polygons(path, "geofence")
    areas = []
    for i, (g, pr) in enumerate(zip(geoms, props, strict=True)):
        pol = _prop(pr, "policy") or policy
        if pol not in POLICIES:
            msg = f"{path}: feature {i} has policy {pol!r}; expected one of {POLICIES}"
            raise MapDataError(msg)
        lim = _prop(pr, "height_limit_m")
        try:
            limit = None if lim is None else float(lim)
        except (TypeError, ValueError) as exc:
            msg = f"{path}: feature {i} has a non-numeric height_limit_m {lim!r}"
            raise MapDataError(msg) from exc
        if limit is not None and not limit >= 0:
            msg = f"{path}: feature {i} has a negative height_limit_m {lim!r}"
            raise MapDataError(msg)
        name = str(_prop(pr, "name") or f"{Path(path).name.split('.')[0]} {i}")
        areas.append(
            Area(
                name=name,
                kind="geofence",
                policy=pol,
                geometry=g,
                height_limit_m=limit,
                source=str(path),
            )
        )
    return areas, notes


def osm_restricted_areas(  # noqa: C901
    path: str | Path, *, point_radius_m: float = DEFAULT_OSM_POINT_RADIUS_M
) -> list[Area]:
    """Read restricted areas (:data:`OSM_RESTRICTED_TAGS`) from an OSM file with pyosmium.

    Closed ways and multipolygon relations become areas; nodes (e.g. a helipad mapped as
    a point) become circles of ``point_radius_m``; open ways (a runway mapped as a line)
    become bands ``point_radius_m`` wide on each side. An extract without such tags
    gives an empty list.

    Raises
    ------
    MapDataError
        If the file is missing or unreadable.
    """
    import osmium

    p = Path(path)
    if not p.is_file():
        msg = f"{p}: OSM file not found"
        raise MapDataError(msg)

    def match(tags: Any) -> tuple[str, str] | None:
        for key, values in OSM_RESTRICTED_TAGS.items():
            v = tags.get(key)
            if v in values:
                kind = "power" if key == "power" else ("military" if key == "landuse" else v)
                return kind, tags.get("name") or f"{key}={v}"
        return None

    wkb = osmium.geom.WKBFactory()
    areas: list[Area] = []
    try:
        for obj in osmium.FileProcessor(str(p)).with_areas():
            tagged = match(obj.tags)
            if tagged is None:
                continue
            kind, name = tagged
            geom: BaseGeometry | None = None
            if isinstance(obj, osmium.osm.Area):
                try:
                    geom = shapely.from_wkb(bytes.fromhex(wkb.create_multipolygon(obj)))
                except RuntimeError:
                    continue  # broken multipolygon in the data
            elif isinstance(obj, osmium.osm.Node) and obj.location.valid():
                geom = _grow_lonlat(
                    shapely.Point(obj.location.lon, obj.location.lat), point_radius_m
                )
            elif isinstance(obj, osmium.osm.Way) and not obj.is_closed():
                coords = [(n.lon, n.lat) for n in obj.nodes if n.location.valid()]
                if len(coords) >= 2:
                    geom = _grow_lonlat(shapely.LineString(coords), point_radius_m)
            if geom is None or geom.is_empty:
                continue
            geom = shapely.make_valid(geom) if not shapely.is_valid(geom) else geom
            geom = _polygonal(geom)
            if geom is None:
                continue
            areas.append(
                Area(name=str(name), kind=kind, policy="avoid", geometry=geom, source=str(p))
            )
    except (RuntimeError, OSError) as exc:
        msg = f"{p}: cannot read OSM file ({exc})"
        raise MapDataError(msg) from exc
    return areas


def _polygonal(geom: BaseGeometry) -> BaseGeometry | None:
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [g for g in getattr(geom, "geoms", []) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else None


def load_airspace(  # noqa: PLR0913
    *,
    did: Iterable[str | Path] = (),
    airports: Iterable[str | Path] = (),
    osm: Iterable[str | Path] = (),
    geofences: Iterable[str | Path] = (),
    did_policy: Policy | None = None,
    level4: bool = False,
    airport_surface_radius_m: float = DEFAULT_AIRPORT_SURFACE_RADIUS_M,
    airport_surface_height_m: float = DEFAULT_AIRPORT_SURFACE_HEIGHT_M,
    airport_surface_policy: Policy = "avoid",
    geofence_policy: Policy = "avoid",
    ceiling_m: float = DEFAULT_CEILING_M,
    bounds: tuple[float, float, float, float] | None = None,
) -> Airspace:
    """Build an :class:`Airspace` from files.

    Parameters
    ----------
    did
        DID GeoJSON layers (e-Stat 人口集中地区).
    airports
        Airport grounds layers (国土数値情報 C28 or any polygons).
    osm
        OSM files to scan for restricted areas (:func:`osm_restricted_areas`).
    geofences
        User GeoJSON geofences (:func:`geofence_areas`).
    did_policy
        Policy for DIDs; default ``avoid``, or ``permit`` when ``level4`` is true.
    level4
        The operator holds a Level 4 permission (flights over populated areas).
    airport_surface_radius_m, airport_surface_height_m, airport_surface_policy
        The approximated horizontal surface (see :func:`airport_areas`).
    geofence_policy
        Policy of geofence features without a ``policy`` property.
    ceiling_m
        Altitude ceiling above ground.
    bounds
        ``(min_lon, min_lat, max_lon, max_lat)``: keep only areas intersecting it.

    Raises
    ------
    MapDataError
        A file is missing, unreadable, empty, not polygons, invalid or not lon/lat.
    AirspaceError
        A bad policy or setting.
    """
    dpol: str = did_policy if did_policy is not None else ("permit" if level4 else "avoid")
    if (
        dpol not in POLICIES
        or airport_surface_policy not in POLICIES
        or geofence_policy not in POLICIES
    ):
        msg = f"policies must be one of {POLICIES}"
        raise AirspaceError(msg)
    window = None if bounds is None else shapely.box(*bounds)
    areas: list[Area] = []
    notes: list[str] = []
    for path in did:
        got, n = did_areas(path, policy=dpol)  # type: ignore[arg-type]
        areas += got
        notes += n
    for path in airports:
        got, n = airport_areas(
            path,
            surface_radius_m=airport_surface_radius_m,
            surface_height_m=airport_surface_height_m,
            surface_policy=airport_surface_policy,
            within=window,
        )
        areas += got
        notes += n
    for path in osm:
        areas += osm_restricted_areas(path)
    for path in geofences:
        got, n = geofence_areas(path, policy=geofence_policy)
        areas += got
        notes += n
    if window is not None:
        areas = [a for a in areas if a.geometry.intersects(window)]
    return Airspace(areas=tuple(areas), ceiling_m=ceiling_m, notes=tuple(notes))


def airspace_for_region(  # noqa: PLR0913
    region: Any,
    *,
    did_policy: Policy | None = None,
    level4: bool = False,
    osm: Iterable[str | Path] = (),
    geofences: Iterable[str | Path] = (),
    airport_surface_radius_m: float = DEFAULT_AIRPORT_SURFACE_RADIUS_M,
    airport_surface_height_m: float = DEFAULT_AIRPORT_SURFACE_HEIGHT_M,
    airport_surface_policy: Policy = "avoid",
    ceiling_m: float = DEFAULT_CEILING_M,
    margin_deg: float = 0.1,
) -> Airspace:
    """The airspace of a :class:`~maps.region.Region`.

    The built-in region's no-fly files (``maps/data/kumamoto``: the clipped DID layer
    and Kumamoto Airport's C28 grounds) are read with their attributes; for a region built
    from files, each polygon of ``region.no_fly`` is classified by its layer (file stem):
    a stem containing ``did`` is a DID, one containing ``c28`` or ``airport`` an airport,
    anything else an ``avoid`` geofence. Only areas within the region's bounds grown by
    ``margin_deg`` are kept. Other parameters as :func:`load_airspace`.
    """
    from maps.region import DEFAULT_DATA_DIR

    b = tuple(region.bounds)
    bounds = (b[0] - margin_deg, b[1] - margin_deg, b[2] + margin_deg, b[3] + margin_deg)
    common: dict[str, Any] = {
        "osm": osm,
        "geofences": geofences,
        "did_policy": did_policy,
        "level4": level4,
        "airport_surface_radius_m": airport_surface_radius_m,
        "airport_surface_height_m": airport_surface_height_m,
        "airport_surface_policy": airport_surface_policy,
        "ceiling_m": ceiling_m,
        "bounds": bounds,
    }
    layers = set(region.no_fly["layer"]) if len(region.no_fly) else set()
    builtin = {"r02_did_43_kumamoto_clipped", "kumamoto_airport_C28"}
    if layers == builtin:
        return load_airspace(
            did=[DEFAULT_DATA_DIR / "r02_did_43_kumamoto_clipped.geojson"],
            airports=[DEFAULT_DATA_DIR / "kumamoto_airport_C28.geojson"],
            **common,
        )
    base = load_airspace(**common)
    dpol = did_policy if did_policy is not None else ("permit" if level4 else "avoid")
    window = shapely.box(*bounds)
    extra: list[Area] = []
    for layer, geom in zip(region.no_fly["layer"], region.no_fly.geometry, strict=True):
        low = str(layer).lower()
        if geom is None or geom.is_empty or not geom.intersects(window):
            continue
        if "did" in low:
            extra.append(
                Area(name=str(layer), kind="did", policy=dpol, geometry=geom, source=str(layer))
            )
        elif "c28" in low or "airport" in low:
            extra.append(
                Area(
                    name=str(layer),
                    kind="airport",
                    policy="avoid",
                    geometry=geom,
                    source=str(layer),
                )
            )
            if airport_surface_radius_m > 0:
                extra.append(
                    Area(
                        name=f"{layer} horizontal surface (approx.)",
                        kind="airport_surface",
                        policy=airport_surface_policy,
                        geometry=_grow_lonlat(geom, airport_surface_radius_m),
                        height_limit_m=airport_surface_height_m,
                        source=str(layer),
                    )
                )
        else:
            extra.append(
                Area(
                    name=str(layer),
                    kind="geofence",
                    policy="avoid",
                    geometry=geom,
                    source=str(layer),
                )
            )
    return Airspace(areas=base.areas + tuple(extra), ceiling_m=ceiling_m, notes=base.notes)


# ----------------------------------------------------------------------- obstacles


@dataclass(frozen=True, slots=True)
class _Obstacles:
    """Avoided areas at one altitude, grown by the margin, in metres, with their
    visibility graph over convex vertices."""

    proj: _Projection
    grown: BaseGeometry  # buffered + simplified union (metres, prepared); paths stay outside
    xy: _F64  # (V, 2) convex vertices
    prev: _F64  # (V, 2) ring neighbours
    nxt: _F64
    vtail: _INT64  # visibility edges among vertices (both directions)
    vhead: _INT64
    vlen: _F64


def _obstacles(
    airspace: Airspace, altitude_m: float, margin_m: float, proj: _Projection
) -> _Obstacles:
    polys = [proj.geom_to_xy(a.geometry) for a in airspace.active(altitude_m, "avoid")]
    if not polys:
        empty = shapely.Polygon()
        z = np.zeros((0, 2))
        e = np.zeros(0, dtype=np.int64)
        return _Obstacles(proj, empty, z, z, z, e, e, np.zeros(0))
    union = shapely.union_all(polys)
    if margin_m > 0:
        tol = margin_m / 3.0
        quad = 2
        # Vertices of a buffer's arcs lie on the circle and its chords fall inside by
        # r(1 - cos(pi/(4 quad))); simplifying moves the boundary by at most ``tol``.
        # Growing by r keeps every point of the result at least ``margin_m`` away.
        r = (margin_m + tol) / math.cos(math.pi / (4 * quad))
        grown = union.buffer(r, quad_segs=quad).simplify(tol, preserve_topology=True)
    else:
        grown = union
    grown = shapely.make_valid(grown) if not grown.is_valid else grown
    shapely.prepare(grown)
    xy, prev, nxt = _convex_vertices(grown)
    tail, head = _visible_vertex_pairs(xy, prev, nxt, grown)
    length = np.hypot(*(xy[head] - xy[tail]).T)
    return _Obstacles(
        proj,
        grown,
        xy,
        prev,
        nxt,
        np.concatenate([tail, head]),
        np.concatenate([head, tail]),
        np.concatenate([length, length]),
    )


def _convex_vertices(geom: BaseGeometry) -> tuple[_F64, _F64, _F64]:
    """Vertices where the obstacle's boundary turns with the obstacle inside the corner."""
    xs, ps, ns = [], [], []
    oriented = shapely.orient_polygons(geom, exterior_cw=False)  # obstacle on the left
    for poly in getattr(oriented, "geoms", [oriented]):
        if poly.geom_type != "Polygon" or poly.is_empty:
            continue
        for ring in [poly.exterior, *poly.interiors]:
            c = np.asarray(ring.coords)[:-1]
            if len(c) < 3:
                continue
            p = np.roll(c, 1, axis=0)
            n = np.roll(c, -1, axis=0)
            cross = (c[:, 0] - p[:, 0]) * (n[:, 1] - c[:, 1]) - (c[:, 1] - p[:, 1]) * (
                n[:, 0] - c[:, 0]
            )
            keep = cross > 0
            xs.append(c[keep])
            ps.append(p[keep])
            ns.append(n[keep])
    if not xs:
        z = np.zeros((0, 2))
        return z, z, z
    return np.concatenate(xs), np.concatenate(ps), np.concatenate(ns)


def _tangent(u: _F64, up: _F64, un: _F64, q: _F64) -> npt.NDArray[np.bool_]:
    """True where the segment u->q leaves both ring neighbours of u on one side."""
    d = q - u
    a = d[..., 0] * (up[..., 1] - u[..., 1]) - d[..., 1] * (up[..., 0] - u[..., 0])
    b = d[..., 0] * (un[..., 1] - u[..., 1]) - d[..., 1] * (un[..., 0] - u[..., 0])
    return np.asarray(a * b >= 0)


def _free(
    a: _F64,
    b: _F64,
    obstacle: BaseGeometry,
    *,
    trim_a: bool = False,
    trim_b: bool = False,
    chunk: int = 200_000,
) -> npt.NDArray[np.bool_]:
    """Vectorised: True where the segment a->b does not enter the (prepared) obstacle.

    An end lying on the obstacle's boundary (a vertex) is pulled back along the segment
    by 1 cm (``trim_a``/``trim_b``), so touching the boundary there does not count.
    """
    out = np.ones(len(a), dtype=bool)
    if obstacle.is_empty or len(a) == 0:
        return out
    d = b - a
    norm = np.hypot(d[:, 0], d[:, 1])
    step = d * (np.minimum(_EPS_M, norm / 4) / np.where(norm > 0, norm, 1.0))[:, None]
    a2 = a + step if trim_a else a
    b2 = b - step if trim_b else b
    for s in range(0, len(a), chunk):
        seg = shapely.linestrings(np.stack([a2[s : s + chunk], b2[s : s + chunk]], axis=1))
        out[s : s + chunk] = ~shapely.intersects(seg, obstacle)
    return out


def _visible_vertex_pairs(
    xy: _F64, prev: _F64, nxt: _F64, grown: BaseGeometry
) -> tuple[_INT64, _INT64]:
    n = len(xy)
    if n < 2:
        e = np.zeros(0, dtype=np.int64)
        return e, e
    tails, heads = [], []
    block = max(1, 4_000_000 // n)
    for s in range(0, n, block):
        i = np.arange(s, min(n, s + block))
        ii, jj = np.meshgrid(i, np.arange(n), indexing="ij")
        m = jj > ii
        ii, jj = ii[m], jj[m]
        ok = _tangent(xy[ii], prev[ii], nxt[ii], xy[jj]) & _tangent(
            xy[jj], prev[jj], nxt[jj], xy[ii]
        )
        ii, jj = ii[ok], jj[ok]
        free = _free(xy[ii], xy[jj], grown, trim_a=True, trim_b=True)
        # a boundary edge between two convex corners touches the obstacle all along
        free |= (xy[jj] == nxt[ii]).all(axis=1) | (xy[jj] == prev[ii]).all(axis=1)
        tails.append(ii[free])
        heads.append(jj[free])
    return np.concatenate(tails).astype(np.int64), np.concatenate(heads).astype(np.int64)


# --------------------------------------------------------------------------- matrix


@dataclass(frozen=True, slots=True, kw_only=True)
class DroneMatrix:
    """Drone path lengths between two point sets (origins x destinations), read-only.

    Attributes
    ----------
    distance_m
        Path length in integer metres (rounded), :data:`~maps.matrix.UNREACHABLE` where
        no path exists.
    length_m
        The same in float metres (``inf`` where unreachable).
    reachable
        True where a path exists.
    detour
        True where the straight segment is blocked and the path bends around areas.
    cruise_altitude_m, margin_m
        The settings the matrix was computed for.
    """

    distance_m: _INT64
    length_m: _F64
    reachable: npt.NDArray[np.bool_]
    detour: npt.NDArray[np.bool_]
    cruise_altitude_m: float
    margin_m: float
    _origins_lonlat: _F64
    _destinations_lonlat: _F64
    _nodes_xy: _F64
    _pred: npt.NDArray[np.int32]
    _from_targets: bool
    _epsg: int

    def duration_s(self, cruise_speed_mps: float) -> _INT64:
        """Flight time in integer seconds (rounded up) at ``cruise_speed_mps`` in still air,
        :data:`~maps.matrix.UNREACHABLE` where no path exists.

        Take-off, climb and landing are not included (the energy model adds them).
        """
        if not cruise_speed_mps > 0:
            msg = f"cruise_speed_mps must be > 0, got {cruise_speed_mps}"
            raise AirspaceError(msg)
        sec = np.ceil(np.where(self.reachable, self.length_m, 0.0) / cruise_speed_mps - 1e-9)
        return np.where(self.reachable, sec.astype(np.int64), UNREACHABLE)

    def travel_matrices(self, cruise_speed_mps: float) -> TravelMatrices:
        """The matrix as :class:`~maps.matrix.TravelMatrices` (like a road matrix)."""
        return TravelMatrices(
            duration_s=self.duration_s(cruise_speed_mps),
            distance_m=self.distance_m.copy(),
            reachable=self.reachable.copy(),
        )

    def path(self, i: int, j: int) -> _F64:
        """The path from origin ``i`` to destination ``j`` as ``(k, 2)`` lon/lat vertices.

        Raises
        ------
        AirspaceError
            If no path exists for that pair.
        """
        if not self.reachable[i, j]:
            msg = f"no drone path from origin {i} to destination {j}"
            raise AirspaceError(msg)
        a = self._origins_lonlat[i]
        b = self._destinations_lonlat[j]
        if not self.detour[i, j]:
            return np.array([a, b])
        v = len(self._nodes_xy)
        # searches ran from one side; predecessors lead from the other side's point back
        # to the search source through obstacle vertices (columns: vertices, points)
        row, node = (j, v + i) if self._from_targets else (i, v + j)
        chain = []
        cur = int(self._pred[row, node])
        while 0 <= cur < v:
            chain.append(cur)
            cur = int(self._pred[row, cur])
        if not self._from_targets:
            chain.reverse()
        proj = _projection_from_epsg(self._epsg)
        mid = proj.to_lonlat(self._nodes_xy[chain]) if chain else np.zeros((0, 2))
        return np.vstack([a[None, :], mid, b[None, :]])


def _projection_from_epsg(epsg: int) -> _Projection:
    crs = CRS.from_epsg(epsg)
    return _Projection(
        epsg,
        Transformer.from_crs(_CRS, crs, always_xy=True),
        Transformer.from_crs(crs, _CRS, always_xy=True),
    )


def _points(name: str, pts: npt.ArrayLike) -> _F64:
    arr = np.asarray(pts, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 2:
        msg = f"{name}: expected an (n, 2) lon/lat array, got shape {arr.shape}"
        raise AirspaceError(msg)
    bad = ~np.isfinite(arr).all(axis=1) | (np.abs(arr[:, 0]) > 180) | (np.abs(arr[:, 1]) > 90)
    if bad.any():
        msg = f"{name}: rows {np.flatnonzero(bad)[:10].tolist()} are not finite lon/lat degrees"
        raise AirspaceError(msg)
    return arr


def _point_edges(pts: _F64, obs: _Obstacles, chunk: int = 2_000_000) -> tuple[_INT64, _INT64, _F64]:
    """(point index, vertex index, length) for every free tangent segment point-vertex."""
    nv = len(obs.xy)
    if nv == 0 or len(pts) == 0:
        e = np.zeros(0, dtype=np.int64)
        return e, e, np.zeros(0)
    pi_all, vi_all = [], []
    block = max(1, chunk // nv)
    for s in range(0, len(pts), block):
        p = np.arange(s, min(len(pts), s + block))
        pg, vg = np.meshgrid(p, np.arange(nv), indexing="ij")
        pp, vv = pg.ravel(), vg.ravel()
        ok = _tangent(obs.xy[vv], obs.prev[vv], obs.nxt[vv], pts[pp])
        pp, vv = pp[ok], vv[ok]
        free = _free(pts[pp], obs.xy[vv], obs.grown, trim_b=True)
        pi_all.append(pp[free])
        vi_all.append(vv[free])
    pi = np.concatenate(pi_all).astype(np.int64)
    vi = np.concatenate(vi_all).astype(np.int64)
    return pi, vi, np.hypot(*(obs.xy[vi] - pts[pi]).T)


def drone_matrix(
    airspace: Airspace,
    points_lonlat_from: npt.ArrayLike,
    points_lonlat_to: npt.ArrayLike | None = None,
    *,
    cruise_altitude_m: float = DEFAULT_CRUISE_ALTITUDE_M,
    margin_m: float = DEFAULT_MARGIN_M,
    cache_dir: str | Path | bool | None = None,
) -> DroneMatrix:
    """Shortest drone paths between points, staying outside every avoided area.

    Parameters
    ----------
    airspace
        The airspace; ``avoid`` areas restricting ``cruise_altitude_m`` are obstacles,
        ``permit`` areas are crossed freely (list them with :meth:`Airspace.crossings`).
    points_lonlat_from, points_lonlat_to
        ``(n, 2)`` and ``(m, 2)`` lon/lat arrays; destinations default to the origins.
    cruise_altitude_m
        Flight altitude above ground; must not exceed ``airspace.ceiling_m``. Areas
        whose height limit is at or above it do not restrict the flight.
    margin_m
        Safety margin kept around every avoided area (m, >= 0).
    cache_dir
        Cache folder (as :func:`maps.region.cache_root`); False disables the cache. The
        key hashes the airspace, the points, the settings and this module's source.

    Returns
    -------
    DroneMatrix
        ``(n, m)``. A point inside an avoided area or its margin reaches nothing (and is
        reached by nothing): take-off and landing there are refused.

    Raises
    ------
    AirspaceError
        Bad points or settings (altitude above the ceiling, negative margin).

    Notes
    -----
    In the local UTM zone, the avoided areas are merged and grown by the margin (a
    polygonal buffer, then simplified, with the rounding taken on the outside so the
    clearance is never below ``margin_m``). Straight segments for all pairs are tested
    at once (shapely 2 vectorised ``intersects`` against the prepared grown obstacles,
    shrunk by 1 cm so that paths may run along their boundary). Blocked pairs use the
    visibility graph of the obstacles' convex vertices: only segments tangent at both
    ends are kept (a shortest path only bends around convex corners, tangentially),
    then tested. Each point is joined to the vertices it sees tangentially, and one
    Dijkstra (``scipy.sparse.csgraph``) runs from each point of the smaller side.
    """
    src = _points("points_lonlat_from", points_lonlat_from)
    dst = src if points_lonlat_to is None else _points("points_lonlat_to", points_lonlat_to)
    airspace.check_altitude(cruise_altitude_m)
    if not (math.isfinite(margin_m) and margin_m >= 0):
        msg = f"margin_m must be >= 0, got {margin_m}"
        raise AirspaceError(msg)
    folder = None
    if cache_dir is not False:
        from maps.region import cache_root

        h = hashlib.sha256(Path(__file__).read_bytes())
        h.update(airspace.fingerprint().encode())
        h.update(np.ascontiguousarray(src).tobytes() + b"|" + np.ascontiguousarray(dst).tobytes())
        h.update(f"{src.shape}{dst.shape}{cruise_altitude_m!r}{margin_m!r}".encode())
        root = cache_root(None if cache_dir in (None, True) else cache_dir)  # type: ignore[arg-type]
        folder = root / f"drone-{h.hexdigest()[:32]}.npz"
        got = _load_matrix(folder, src, dst, cruise_altitude_m, margin_m)
        if got is not None:
            return got
    m = _compute(airspace, src, dst, cruise_altitude_m, margin_m)
    if folder is not None:
        _save_matrix(m, folder)
    return m


def _compute(
    airspace: Airspace, src: _F64, dst: _F64, altitude: float, margin: float
) -> DroneMatrix:
    allpts = np.vstack([src, dst]) if len(src) + len(dst) else np.zeros((1, 2))
    b = airspace.bounds()
    if b is not None:
        proj = _Projection.for_centre((b[0] + b[2]) / 2, (b[1] + b[3]) / 2)
    else:
        proj = _Projection.for_lonlat(allpts)
    obs = _obstacles(airspace, altitude, margin, proj)
    sxy = proj.to_xy(src) if len(src) else np.zeros((0, 2))
    txy = proj.to_xy(dst) if len(dst) else np.zeros((0, 2))
    n, m = len(src), len(dst)
    bad_s = _inside(sxy, obs)
    bad_t = _inside(txy, obs)
    # straight segments, all pairs
    ig, jg = np.meshgrid(np.arange(n), np.arange(m), indexing="ij")
    ii, jj = ig.ravel(), jg.ravel()
    straight = np.hypot(*(txy[jj] - sxy[ii]).T) if n and m else np.zeros(0)
    ok_pair = ~bad_s[ii] & ~bad_t[jj]
    free = np.zeros(n * m, dtype=bool)
    free[ok_pair] = _free(sxy[ii[ok_pair]], txy[jj[ok_pair]], obs.grown)
    length = np.full(n * m, np.inf)
    length[free] = straight[free]
    blocked = ok_pair & ~free
    nv = len(obs.xy)
    from_targets = m < n
    pred = np.zeros((0, 0), dtype=np.int32)
    if blocked.any() and nv:
        rows_blocked = np.unique((jj if from_targets else ii)[blocked])
        cols_blocked = np.unique((ii if from_targets else jj)[blocked])
        spts, tpts = (txy, sxy) if from_targets else (sxy, txy)
        s_pi, s_vi, s_len = _point_edges(spts[rows_blocked], obs)
        t_pi, t_vi, t_len = _point_edges(tpts[cols_blocked], obs)
        ns, nt = len(spts), len(tpts)
        # nodes: vertices 0..nv-1, search sources nv.., search targets nv+ns..
        tail = np.concatenate([obs.vtail, nv + rows_blocked[s_pi], t_vi])
        head = np.concatenate([obs.vhead, s_vi, nv + ns + cols_blocked[t_pi]])
        w = np.concatenate([obs.vlen, s_len, t_len])
        size = nv + ns + nt
        g = csr_matrix((np.maximum(w, 1e-9), (tail, head)), shape=(size, size))
        dist, pr = dijkstra(g, directed=True, indices=nv + rows_blocked, return_predecessors=True)
        full = np.full((ns, nt), np.inf)
        full[rows_blocked] = dist[:, nv + ns :]
        pred = np.full((ns, size), -9999, dtype=np.int32)
        pred[rows_blocked] = pr.astype(np.int32)
        # target nodes were indexed nv+ns+k; store them as nv+k for DroneMatrix.path
        pred = np.concatenate([pred[:, :nv], pred[:, nv + ns :]], axis=1)
        via = full.T if from_targets else full
        via_flat = via.ravel()
        length[blocked] = via_flat[blocked]
    reach = np.isfinite(length)
    detour = reach & ~free
    shape = (n, m)
    dist_m = np.where(reach, np.round(np.where(reach, length, 0.0)), 0).astype(np.int64)
    dist_m[~reach] = UNREACHABLE
    nodes = obs.xy
    return _freeze(
        DroneMatrix(
            distance_m=dist_m.reshape(shape),
            length_m=length.reshape(shape),
            reachable=reach.reshape(shape),
            detour=detour.reshape(shape),
            cruise_altitude_m=altitude,
            margin_m=margin,
            _origins_lonlat=src,
            _destinations_lonlat=dst,
            _nodes_xy=nodes,
            _pred=pred,
            _from_targets=from_targets,
            _epsg=proj.epsg,
        )
    )


def _inside(xy: _F64, obs: _Obstacles) -> npt.NDArray[np.bool_]:
    if obs.grown.is_empty or len(xy) == 0:
        return np.zeros(len(xy), dtype=bool)
    return np.asarray(shapely.intersects(shapely.points(xy), obs.grown))


def _freeze(m: DroneMatrix) -> DroneMatrix:
    for name in ("distance_m", "length_m", "reachable", "detour"):
        getattr(m, name).setflags(write=False)
    return m


_ARRAYS = (
    "distance_m",
    "length_m",
    "reachable",
    "detour",
    "_origins_lonlat",
    "_destinations_lonlat",
    "_nodes_xy",
    "_pred",
)


def _save_matrix(m: DroneMatrix, path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=path.parent)
        os.close(fd)
        arrays = {k: getattr(m, k) for k in _ARRAYS}
        meta = np.array([m.cruise_altitude_m, m.margin_m, float(m._from_targets), float(m._epsg)])
        with open(tmp, "wb") as fh:
            np.savez(fh, meta=meta, **arrays)
        os.replace(tmp, path)
    except OSError as exc:
        logger.warning("could not write drone matrix cache %s (%s)", path, exc)


def _load_matrix(
    path: Path, src: _F64, dst: _F64, altitude: float, margin: float
) -> DroneMatrix | None:
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in (*_ARRAYS, "meta")}
    except (OSError, ValueError, KeyError) as exc:
        logger.warning("ignoring unreadable drone matrix cache %s (%s)", path, exc)
        return None
    meta = data.pop("meta")
    if not (
        np.array_equal(data["_origins_lonlat"], src)
        and np.array_equal(data["_destinations_lonlat"], dst)
    ):
        return None
    return _freeze(
        DroneMatrix(
            cruise_altitude_m=altitude,
            margin_m=margin,
            _from_targets=bool(meta[2]),
            _epsg=int(meta[3]),
            **data,
        )
    )


def obstacles_lonlat(
    airspace: Airspace,
    *,
    cruise_altitude_m: float = DEFAULT_CRUISE_ALTITUDE_M,
    margin_m: float = DEFAULT_MARGIN_M,
) -> BaseGeometry:
    """The grown obstacles drone paths stay outside of (lon/lat), for maps and checks."""
    b = airspace.bounds()
    if b is None:
        return shapely.Polygon()
    proj = _Projection.for_centre((b[0] + b[2]) / 2, (b[1] + b[3]) / 2)
    obs = _obstacles(airspace, cruise_altitude_m, margin_m, proj)
    return shapely.transform(obs.grown, proj.to_lonlat)
