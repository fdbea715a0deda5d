"""Drivable and walkable road graphs with integer travel times, as compact CSR arrays.

The networkx graph from :func:`maps.osm.graph_from_file` is filtered per profile, cut to its
largest strongly connected component, simplified, and frozen into a :class:`RoadGraph`
(numpy arrays only), so nothing after the cache needs networkx or osmnx.

Default car speeds (km/h) when a way has no usable ``maxspeed`` (see :data:`DEFAULT_SPEEDS_KMH`)
are typical free-flow speeds on Japanese roads, below the legal 60 km/h on ordinary roads:

============================  =====
highway                       km/h
============================  =====
motorway                      80
motorway_link                 40
trunk                         50
trunk_link / primary          40
primary_link / secondary      35
secondary_link / tertiary     30
tertiary_link / unclassified  25
road                          25
residential                   20
service / track               15 / 10
living_street                 10
============================  =====
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from maps.ch import Hierarchy
from maps.errors import MapDataError

if TYPE_CHECKING:
    import networkx as nx

logger = logging.getLogger(__name__)

#: Car speed in km/h by ``highway`` value when ``maxspeed`` is missing or unusable.
DEFAULT_SPEEDS_KMH: Mapping[str, float] = {
    "motorway": 80.0,
    "motorway_link": 40.0,
    "trunk": 50.0,
    "trunk_link": 40.0,
    "primary": 40.0,
    "primary_link": 35.0,
    "secondary": 35.0,
    "secondary_link": 30.0,
    "tertiary": 30.0,
    "tertiary_link": 25.0,
    "unclassified": 25.0,
    "road": 25.0,
    "residential": 20.0,
    "living_street": 10.0,
    "service": 15.0,
    "track": 10.0,
}

#: Speed for ``maxspeed`` zone codes (``JP:urban`` etc.); Japan's legal limit on ordinary
#: roads is 60 km/h and on expressways 100 km/h.
ZONE_SPEEDS_KMH: Mapping[str, float] = {
    "urban": 60.0,
    "rural": 60.0,
    "nsl": 60.0,
    "motorway": 100.0,
    "zone30": 30.0,
    "zone:30": 30.0,
    "walk": 6.0,
    "living_street": 10.0,
}

#: ``highway`` values a motor vehicle may use (``service`` and ``track`` are filtered per
#: profile).
DRIVABLE_HIGHWAYS: frozenset[str] = frozenset(DEFAULT_SPEEDS_KMH)

#: ``highway`` values a pedestrian may use (motorways are excluded).
WALKABLE_HIGHWAYS: frozenset[str] = frozenset(
    {
        "footway",
        "path",
        "pedestrian",
        "steps",
        "living_street",
        "residential",
        "service",
        "track",
        "unclassified",
        "road",
        "tertiary",
        "tertiary_link",
        "secondary",
        "secondary_link",
        "primary",
        "primary_link",
        "trunk",
        "trunk_link",
        "cycleway",
    }
)

_DENY = frozenset({"no", "private"})
_ALLOW = frozenset({"yes", "designated", "permissive", "destination", "delivery", "customers"})
_NUMBER = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-z/\"']*)\s*$")


def parse_maxspeed(value: object) -> float | None:
    """Parse an OSM ``maxspeed`` value to km/h.

    Parameters
    ----------
    value
        ``"40"``, ``"40 km/h"``, ``"25 mph"``, ``"JP:urban"``, ``"50;40"`` (the lowest
        is used), a list of such values (from merged ways: the lowest), or None.

    Returns
    -------
    float or None
        The speed in km/h, or None if the value is missing or cannot be read
        (``"none"``, ``"signals"``, ``"variable"``...).
    """
    if value is None:
        return None
    if isinstance(value, list | tuple):
        speeds = [s for s in (parse_maxspeed(v) for v in value) if s is not None]
        return min(speeds) if speeds else None
    text = str(value).strip().lower()
    if ";" in text or "|" in text:
        return parse_maxspeed(re.split(r"[;|]", text))
    if ":" in text:
        zone = text.split(":", 1)[1]
        return ZONE_SPEEDS_KMH.get(zone)
    if text in ZONE_SPEEDS_KMH:
        return ZONE_SPEEDS_KMH[text]
    match = _NUMBER.match(text)
    if match is None:
        return None
    speed = float(match.group(1))
    unit = match.group(2)
    if unit == "mph":
        speed *= 1.609344
    elif unit == "knots":
        speed *= 1.852
    return speed if speed > 0 else None


def parse_metres(value: object) -> float | None:
    """Parse an OSM width/height value (``"3"``, ``"2.5 m"``, ``"6'6\\""``) to metres.

    Returns None for missing or unreadable values. Lists (merged ways) give the minimum.
    """
    if value is None:
        return None
    if isinstance(value, list | tuple):
        vals = [s for s in (parse_metres(v) for v in value) if s is not None]
        return min(vals) if vals else None
    text = str(value).strip().lower().replace(",", ".")
    feet = re.match(r"^([0-9.]+)'(?:\s*([0-9.]+)\")?$", text)
    if feet:
        return float(feet.group(1)) * 0.3048 + float(feet.group(2) or 0) * 0.0254
    match = _NUMBER.match(text)
    if match is None or match.group(2) not in ("", "m"):
        return None
    return float(match.group(1))


def parse_tonnes(value: object) -> float | None:
    """Parse an OSM ``maxweight`` value (``"5"``, ``"5.5 t"``, ``"3000 kg"``) to tonnes."""
    if value is None:
        return None
    if isinstance(value, list | tuple):
        vals = [s for s in (parse_tonnes(v) for v in value) if s is not None]
        return min(vals) if vals else None
    match = _NUMBER.match(str(value).strip().lower())
    if match is None:
        return None
    amount, unit = float(match.group(1)), match.group(2)
    if unit == "kg":
        return amount / 1000.0
    if unit in ("", "t"):
        return amount
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class VehicleProfile:
    """A road vehicle and the roads it may use.

    Parameters
    ----------
    name
        Profile name (``car``, ``van``...), stored on the graph.
    width_m
        Vehicle width; roads tagged ``maxwidth`` or ``width`` below it are removed.
    weight_t
        Gross weight; roads tagged ``maxweight`` below it are removed.
    height_m
        Vehicle height; roads tagged ``maxheight`` below it are removed.
    use_track
        Whether ``highway=track`` (farm/forest tracks) is usable.
    service_excluded
        ``service=*`` values to drop (e.g. ``parking_aisle``, ``driveway``).
    speed_factor
        Multiplier on road speeds (e.g. 0.9 for a minibus).
    """

    name: str
    width_m: float
    weight_t: float
    height_m: float = 0.0
    use_track: bool = True
    service_excluded: frozenset[str] = field(default_factory=frozenset)
    speed_factor: float = 1.0

    def __post_init__(self) -> None:
        for attr in ("width_m", "weight_t", "height_m"):
            if not getattr(self, attr) >= 0:
                msg = f"VehicleProfile.{attr}: must be >= 0, got {getattr(self, attr)!r}"
                raise ValueError(msg)
        if not self.speed_factor > 0:
            msg = f"VehicleProfile.speed_factor: must be > 0, got {self.speed_factor!r}"
            raise ValueError(msg)


#: A passenger car (kei/compact class).
CAR = VehicleProfile(name="car", width_m=1.7, weight_t=1.5, height_m=1.6)
#: A 10-seat van (Toyota HiAce class); avoids parking aisles and drive-throughs.
VAN = VehicleProfile(
    name="van",
    width_m=1.9,
    weight_t=3.2,
    height_m=2.3,
    service_excluded=frozenset({"parking_aisle", "drive-through"}),
)
#: A 29-seat minibus (Toyota Coaster class): no tracks, no parking aisles, driveways or alleys.
MINIBUS = VehicleProfile(
    name="minibus",
    width_m=2.1,
    weight_t=6.5,
    height_m=2.7,
    use_track=False,
    service_excluded=frozenset({"parking_aisle", "drive-through", "driveway", "alley"}),
    speed_factor=0.9,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class WalkProfile:
    """A pedestrian.

    Parameters
    ----------
    speed_mps
        Walking speed (1.2 m/s by default; about 1.0 m/s fits frail elderly walkers).
    """

    name: str = "walk"
    speed_mps: float = 1.2

    def __post_init__(self) -> None:
        if not self.speed_mps > 0:
            msg = f"WalkProfile.speed_mps: must be > 0, got {self.speed_mps!r}"
            raise ValueError(msg)


WALK = WalkProfile()

_INT64 = npt.NDArray[np.int64]
_F64 = npt.NDArray[np.float64]


def _readonly(arr: npt.ArrayLike, dtype: type) -> Any:
    out: np.ndarray = np.array(arr, dtype=dtype, copy=True, order="C")
    out.setflags(write=False)
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class RoadGraph:
    """A directed road graph as read-only numpy arrays in CSR form.

    Nodes are numbered ``0..n-1``; edges ``0..m-1`` are sorted by tail node so that the
    edges leaving node ``i`` are ``indptr[i]:indptr[i+1]``.

    Attributes
    ----------
    profile
        Profile name (``car``, ``walk``...).
    node_id
        OSM node id per node.
    lon, lat
        Node coordinates (WGS84).
    indptr
        CSR row pointer, length ``n + 1``.
    tail, head
        Edge endpoints (node indices), length ``m``; ``head`` is the CSR ``indices``.
    travel_s
        Edge travel time in integer seconds (>= 1).
    length_m
        Edge length in integer metres (>= 0).
    reverse
        Index of the edge running the same geometry in the opposite direction, or -1.
    geom_ptr
        Edge ``e``'s polyline is ``geom_lonlat[geom_ptr[e]:geom_ptr[e+1]]``, from tail to
        head, length ``m + 1``.
    geom_lonlat
        Concatenated polyline vertices, shape ``(k, 2)``, (lon, lat).
    hierarchy
        Optional contraction hierarchy (:func:`maps.matrix.with_hierarchy`) that makes
        matrices several times faster; results are identical without it.
    """

    profile: str
    node_id: _INT64
    lon: _F64
    lat: _F64
    indptr: _INT64
    tail: _INT64
    head: _INT64
    travel_s: _INT64
    length_m: _INT64
    reverse: _INT64
    geom_ptr: _INT64
    geom_lonlat: _F64
    hierarchy: Hierarchy | None = None

    def __post_init__(self) -> None:
        for name in ("node_id", "indptr", "tail", "head", "travel_s", "length_m", "reverse"):
            object.__setattr__(self, name, _readonly(getattr(self, name), np.int64))
        for name in ("lon", "lat", "geom_lonlat"):
            object.__setattr__(self, name, _readonly(getattr(self, name), np.float64))
        object.__setattr__(self, "geom_ptr", _readonly(self.geom_ptr, np.int64))
        n, m = self.node_id.shape[0], self.head.shape[0]
        if self.indptr.shape != (n + 1,) or self.indptr[-1] != m:
            msg = f"RoadGraph.indptr: expected {n + 1} entries ending at {m}"
            raise ValueError(msg)
        for name in ("tail", "travel_s", "length_m", "reverse"):
            if getattr(self, name).shape != (m,):
                msg = f"RoadGraph.{name}: expected {m} entries"
                raise ValueError(msg)
        if self.geom_ptr.shape != (m + 1,) or self.geom_lonlat.ndim != 2:
            msg = "RoadGraph.geom_ptr/geom_lonlat: inconsistent edge geometry"
            raise ValueError(msg)
        if self.hierarchy is not None and self.hierarchy.n_nodes != n:
            msg = f"RoadGraph.hierarchy: built for {self.hierarchy.n_nodes} nodes, not {n}"
            raise ValueError(msg)

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return int(self.node_id.shape[0])

    @property
    def n_edges(self) -> int:
        """Number of directed edges."""
        return int(self.head.shape[0])

    @property
    def lonlat(self) -> _F64:
        """Node coordinates as an ``(n, 2)`` array of (lon, lat)."""
        return np.column_stack([self.lon, self.lat])

    def bounds(self) -> tuple[float, float, float, float]:
        """Return ``(min_lon, min_lat, max_lon, max_lat)`` of the nodes."""
        return (
            float(self.lon.min()),
            float(self.lat.min()),
            float(self.lon.max()),
            float(self.lat.max()),
        )

    def to_arrays(self) -> dict[str, Any]:
        """Return the fields as a dict of arrays (for ``numpy.savez``)."""
        out: dict[str, Any] = {name: getattr(self, name) for name in _ARRAY_FIELDS}
        out["profile"] = np.array(self.profile)
        if self.hierarchy is not None:
            out.update({f"ch_{k}": v for k, v in self.hierarchy.to_arrays().items()})
        return out

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, Any]) -> RoadGraph:
        """Rebuild a graph from :meth:`to_arrays` output (e.g. a loaded ``.npz``)."""
        kwargs = {name: np.asarray(arrays[name]) for name in _ARRAY_FIELDS}
        ch_keys = [k for k in arrays if str(k).startswith("ch_")]
        hierarchy = Hierarchy.from_arrays({k[3:]: arrays[k] for k in ch_keys}) if ch_keys else None
        return cls(profile=str(arrays["profile"]), hierarchy=hierarchy, **kwargs)

    def to_networkx(self) -> nx.MultiDiGraph:
        """Return a networkx MultiDiGraph with ``travel_s`` and ``length_m`` edge weights.

        Node keys are the node indices (``0..n-1``). Meant for tests and comparisons.
        """
        import networkx as nx

        graph = nx.MultiDiGraph()
        graph.add_nodes_from(range(self.n_nodes))
        graph.add_edges_from(
            (int(u), int(v), {"travel_s": int(t), "length_m": int(d)})
            for u, v, t, d in zip(self.tail, self.head, self.travel_s, self.length_m, strict=True)
        )
        return graph


_ARRAY_FIELDS = (
    "node_id",
    "lon",
    "lat",
    "indptr",
    "tail",
    "head",
    "travel_s",
    "length_m",
    "reverse",
    "geom_ptr",
    "geom_lonlat",
)


# ---------------------------------------------------------------------------- filters


def _first(value: object) -> object:
    return value[0] if isinstance(value, list) and value else value


def _denied(data: Mapping[str, Any], keys: tuple[str, ...]) -> bool:
    """Apply the OSM access hierarchy: the most specific key that is set wins."""
    for key in keys:  # most specific first
        value = _first(data.get(key))
        if value in _DENY:
            return True
        if value in _ALLOW:
            return False
    return False


def vehicle_can_use(data: Mapping[str, Any], vehicle: VehicleProfile) -> bool:
    """Return whether a vehicle may drive on an (unsimplified) osmnx edge.

    Parameters
    ----------
    data
        The edge's attributes (OSM way tags).
    vehicle
        The vehicle profile.

    Returns
    -------
    bool
        False for non-drivable ``highway`` values, ``area=yes``, ``access``/``vehicle``/
        ``motor_vehicle``/``motorcar`` = ``no``/``private`` (the most specific tag wins),
        ``maxwidth``/``width`` below the vehicle width, ``maxweight`` below its weight,
        ``maxheight`` below its height, tracks for profiles without ``use_track``, and
        excluded ``service`` values.
    """
    highway = _first(data.get("highway"))
    if highway not in DRIVABLE_HIGHWAYS or _first(data.get("area")) == "yes":
        return False
    if highway == "track" and not vehicle.use_track:
        return False
    if highway == "service" and _first(data.get("service")) in vehicle.service_excluded:
        return False
    if _denied(data, ("motorcar", "motor_vehicle", "vehicle", "access")):
        return False
    for key in ("maxwidth", "width"):
        limit = parse_metres(data.get(key))
        if limit is not None and limit < vehicle.width_m:
            return False
    height = parse_metres(data.get("maxheight"))
    if height is not None and height < vehicle.height_m:
        return False
    weight = parse_tonnes(data.get("maxweight"))
    return weight is None or weight >= vehicle.weight_t


def pedestrian_can_use(data: Mapping[str, Any]) -> bool:
    """Return whether a pedestrian may walk on an osmnx edge (see :data:`WALKABLE_HIGHWAYS`)."""
    highway = _first(data.get("highway"))
    if highway not in WALKABLE_HIGHWAYS:
        return False
    foot = _first(data.get("foot"))
    if foot in _DENY:
        return False
    if foot in _ALLOW:
        return True
    return _first(data.get("access")) not in _DENY


def car_speed_kmh(data: Mapping[str, Any]) -> float:
    """Return the speed for an edge: parsed ``maxspeed``, else the ``highway`` default."""
    speed = parse_maxspeed(data.get("maxspeed"))
    if speed is None:
        speed = DEFAULT_SPEEDS_KMH.get(str(_first(data.get("highway"))), 20.0)
    return speed


# ----------------------------------------------------------------------------- builders


def _largest_scc(graph: nx.MultiDiGraph) -> nx.MultiDiGraph:
    if graph.number_of_nodes() == 0:
        return graph
    import networkx as nx

    largest = max(nx.strongly_connected_components(graph), key=len)
    # in place: subgraph(...).copy() costs several seconds on a city graph
    graph.remove_nodes_from([n for n in graph if n not in largest])
    return graph


def drive_graph(raw: nx.MultiDiGraph, vehicle: VehicleProfile = CAR) -> nx.MultiDiGraph:
    """Filter a raw osmnx graph for a vehicle, add ``travel_time``, keep the largest SCC.

    Parameters
    ----------
    raw
        Unsimplified graph from :func:`maps.osm.graph_from_file`.
    vehicle
        The vehicle profile.

    Returns
    -------
    networkx.MultiDiGraph
        A simplified graph with float ``travel_time`` (s) and ``length`` (m) per edge.

    Raises
    ------
    MapDataError
        If no road is usable by the vehicle.
    """
    import networkx as nx

    from maps import osm

    graph = nx.MultiDiGraph(**raw.graph)
    graph.add_nodes_from(raw.nodes(data=True))
    factor = vehicle.speed_factor / 3.6
    for u, v, k, data in raw.edges(keys=True, data=True):
        if vehicle_can_use(data, vehicle):
            attrs = dict(data)
            attrs["travel_time"] = attrs["length"] / (car_speed_kmh(data) * factor)
            graph.add_edge(u, v, key=k, **attrs)
    graph.remove_nodes_from([n for n in list(graph.nodes) if graph.degree(n) == 0])
    graph = _largest_scc(graph)
    if graph.number_of_edges() == 0:
        msg = f"no road in the map is usable by vehicle profile {vehicle.name!r}"
        raise MapDataError(msg)
    return osm.simplify_graph(graph)


def walk_graph(raw: nx.MultiDiGraph, walker: WalkProfile = WALK) -> nx.MultiDiGraph:
    """Filter a raw osmnx graph for walking, both directions on every way, largest component.

    Parameters
    ----------
    raw
        Unsimplified graph from :func:`maps.osm.graph_from_file`.
    walker
        The walking profile (speed).

    Returns
    -------
    networkx.MultiDiGraph
        A simplified graph with float ``travel_time`` (s) and ``length`` (m) per edge.

    Raises
    ------
    MapDataError
        If no way is walkable.
    """
    import networkx as nx

    from maps import osm

    graph = nx.MultiDiGraph(**raw.graph)
    graph.add_nodes_from(raw.nodes(data=True))
    for u, v, data in raw.edges(data=True):
        if pedestrian_can_use(data):
            attrs = dict(data)
            attrs["travel_time"] = attrs["length"] / walker.speed_mps
            attrs["oneway"] = False
            attrs["reversed"] = False
            # one edge per direction; parallel ways between the same nodes collapse
            if not graph.has_edge(u, v):
                graph.add_edge(u, v, key=0, **attrs)
            if not graph.has_edge(v, u):
                graph.add_edge(v, u, key=0, **attrs)
    graph.remove_nodes_from([n for n in list(graph.nodes) if graph.degree(n) == 0])
    graph = _largest_scc(graph)
    if graph.number_of_edges() == 0:
        msg = "no walkable way in the map"
        raise MapDataError(msg)
    return osm.simplify_graph(graph)


def _edge_coords(graph: nx.MultiDiGraph, u: int, v: int, data: Mapping[str, Any]) -> _F64:
    geom = data.get("geometry")
    if geom is not None:
        coords = np.asarray(geom.coords, dtype=np.float64)[:, :2]
    else:
        coords = np.array(
            [
                [graph.nodes[u]["x"], graph.nodes[u]["y"]],
                [graph.nodes[v]["x"], graph.nodes[v]["y"]],
            ],
            dtype=np.float64,
        )
    return coords


def road_graph_from_networkx(graph: nx.MultiDiGraph, *, profile: str) -> RoadGraph:
    """Freeze an osmnx graph with ``travel_time`` and ``length`` into a :class:`RoadGraph`.

    Parameters
    ----------
    graph
        Output of :func:`drive_graph` or :func:`walk_graph`.
    profile
        Profile name stored on the result.

    Returns
    -------
    RoadGraph
        Travel times rounded to integer seconds (at least 1 s per edge), lengths to
        integer metres, once per (simplified) edge.
    """
    nodes = sorted(graph.nodes)
    index = {n: i for i, n in enumerate(nodes)}
    lon = np.array([graph.nodes[n]["x"] for n in nodes], dtype=np.float64)
    lat = np.array([graph.nodes[n]["y"] for n in nodes], dtype=np.float64)
    edges = sorted(
        graph.edges(keys=True, data=True), key=lambda e: (index[e[0]], index[e[1]], e[2])
    )
    tail = np.array([index[u] for u, _, _, _ in edges], dtype=np.int64)
    head = np.array([index[v] for _, v, _, _ in edges], dtype=np.int64)
    travel = np.array([max(1, round(d["travel_time"])) for *_, d in edges], dtype=np.int64)
    length = np.array([round(d["length"]) for *_, d in edges], dtype=np.int64)
    coords = [_edge_coords(graph, u, v, d) for u, v, _, d in edges]
    geom_ptr = np.zeros(len(edges) + 1, dtype=np.int64)
    geom_ptr[1:] = np.cumsum([c.shape[0] for c in coords])
    geom = np.concatenate(coords) if coords else np.zeros((0, 2), dtype=np.float64)
    indptr = np.zeros(len(nodes) + 1, dtype=np.int64)
    np.add.at(indptr, tail + 1, 1)
    indptr = np.cumsum(indptr)
    reverse = _reverse_edges(tail, head, length, coords)
    return RoadGraph(
        profile=profile,
        node_id=np.array(nodes, dtype=np.int64),
        lon=lon,
        lat=lat,
        indptr=indptr,
        tail=tail,
        head=head,
        travel_s=travel,
        length_m=length,
        reverse=reverse,
        geom_ptr=geom_ptr,
        geom_lonlat=geom,
    )


def _reverse_edges(tail: _INT64, head: _INT64, length: _INT64, coords: list[_F64]) -> _INT64:
    """Pair each edge with the opposite-direction edge over the same polyline, if any."""
    by_pair: dict[tuple[int, int], list[int]] = {}
    for e, (u, v) in enumerate(zip(tail.tolist(), head.tolist(), strict=True)):
        by_pair.setdefault((u, v), []).append(e)
    reverse = np.full(tail.shape[0], -1, dtype=np.int64)
    for e, (u, v) in enumerate(zip(tail.tolist(), head.tolist(), strict=True)):
        if reverse[e] >= 0:
            continue
        for cand in by_pair.get((v, u), []):
            if reverse[cand] >= 0 or cand == e:
                continue
            same = coords[cand].shape == coords[e].shape and np.allclose(
                coords[cand][::-1], coords[e], atol=1e-9
            )
            if same and abs(int(length[cand]) - int(length[e])) <= 1:
                reverse[e] = cand
                reverse[cand] = e
                break
    return reverse


def road_graphs_from_file(
    path: str | Path,
    *,
    vehicle: VehicleProfile = CAR,
    walker: WalkProfile = WALK,
) -> tuple[RoadGraph, RoadGraph]:
    """Read an OSM file once and build the drive graph and the walk graph.

    Parameters
    ----------
    path
        An ``.osm``, ``.osm.bz2``, ``.osm.gz`` or ``.osm.pbf`` file.
    vehicle
        The vehicle profile of the drive graph.
    walker
        The walking profile.

    Returns
    -------
    tuple of RoadGraph
        ``(drive, walk)``.

    Raises
    ------
    MapDataError
        If the file cannot be read or has no usable roads.
    """
    from maps import osm  # osmnx is imported only when a file must be read

    raw = osm.graph_from_file(path)
    drive = road_graph_from_networkx(drive_graph(raw, vehicle), profile=vehicle.name)
    walk = road_graph_from_networkx(walk_graph(raw, walker), profile=walker.name)
    return drive, walk


def road_graph_from_file(path: str | Path, *, vehicle: VehicleProfile = CAR) -> RoadGraph:
    """Read an OSM file into a :class:`RoadGraph` for one vehicle profile.

    Raises
    ------
    MapDataError
        If the file cannot be read or has no road usable by the vehicle.
    """
    from maps import osm  # osmnx is imported only when a file must be read

    raw = osm.graph_from_file(path)
    return road_graph_from_networkx(drive_graph(raw, vehicle), profile=vehicle.name)


def haversine_m(lon1: _F64, lat1: _F64, lon2: _F64, lat2: _F64) -> _F64:
    """Great-circle distance in metres (vectorised; Earth radius 6,371,009 m as osmnx)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi = p2 - p1
    dlmb = np.radians(lon2) - np.radians(lon1)
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlmb / 2) ** 2
    return np.asarray(2 * 6_371_009.0 * np.arcsin(np.sqrt(np.clip(a, 0, 1))), dtype=np.float64)


__all__ = [
    "CAR",
    "DEFAULT_SPEEDS_KMH",
    "MINIBUS",
    "VAN",
    "WALK",
    "RoadGraph",
    "VehicleProfile",
    "WalkProfile",
    "car_speed_kmh",
    "drive_graph",
    "parse_maxspeed",
    "road_graph_from_file",
    "road_graph_from_networkx",
    "road_graphs_from_file",
    "vehicle_can_use",
    "walk_graph",
]
