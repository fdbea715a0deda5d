"""Read OpenStreetMap files (``.osm``, ``.osm.bz2``, ``.osm.gz``, ``.osm.pbf``) into graphs.

This is the only module of Hakobu that imports :mod:`osmnx`. PBF files are converted to OSM
XML with pyosmium first, so a ``.osm.pbf`` and an ``.osm``/``.osm.bz2`` file holding the same
data give the same graph.
"""

from __future__ import annotations

import logging
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import networkx as nx
import osmium
import osmnx as ox
import pandas as pd

from maps.errors import MapDataError

logger = logging.getLogger(__name__)

#: File name endings this module reads.
SUPPORTED_SUFFIXES: tuple[str, ...] = (".osm", ".osm.bz2", ".osm.gz", ".osm.pbf", ".xml")

#: Way tags kept as edge attributes (osmnx keeps only a short default list).
WAY_TAGS: tuple[str, ...] = (
    "access",
    "area",
    "bridge",
    "est_width",
    "foot",
    "hgv",
    "highway",
    "junction",
    "lanes",
    "maxheight",
    "maxspeed",
    "maxweight",
    "maxwidth",
    "motor_vehicle",
    "motorcar",
    "name",
    "oneway",
    "ref",
    "service",
    "sidewalk",
    "tunnel",
    "vehicle",
    "width",
)

#: Node tags kept as node attributes.
NODE_TAGS: tuple[str, ...] = ("highway", "junction", "railway", "ref", "public_transport", "name")

#: Node tag values that mark a public-transport stop.
_TRANSIT_HIGHWAY = frozenset({"bus_stop", "platform"})
_TRANSIT_PT = frozenset({"platform", "stop_position", "station"})


def _suffix_of(path: Path) -> str:
    name = path.name.lower()
    for suffix in sorted(SUPPORTED_SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            return suffix
    msg = f"{path}: unsupported file type; expected one of {', '.join(SUPPORTED_SUFFIXES)}"
    raise MapDataError(msg)


def _check_file(path: str | Path) -> tuple[Path, str]:
    p = Path(path)
    suffix = _suffix_of(p)
    if not p.is_file():
        msg = f"{p}: OSM file not found"
        raise MapDataError(msg)
    if p.stat().st_size == 0:
        msg = f"{p}: OSM file is empty (0 bytes)"
        raise MapDataError(msg)
    return p, suffix


@contextmanager
def _osmnx_tags() -> Iterator[None]:
    """Temporarily widen osmnx's retained tags; restore its settings afterwards."""
    saved_way = list(ox.settings.useful_tags_way)
    saved_node = list(ox.settings.useful_tags_node)
    saved_log = ox.settings.log_console
    ox.settings.useful_tags_way = list(WAY_TAGS)
    ox.settings.useful_tags_node = list(NODE_TAGS)
    ox.settings.log_console = False
    try:
        yield
    finally:
        ox.settings.useful_tags_way = saved_way
        ox.settings.useful_tags_node = saved_node
        ox.settings.log_console = saved_log


def _longest_run(refs: list[int], present: set[int]) -> list[int]:
    best: list[int] = []
    run: list[int] = []
    for ref in refs:
        if ref in present:
            run.append(ref)
            if len(run) > len(best):
                best = list(run)
        else:
            run = []
    return best


def to_clean_xml(path: str | Path, out: str | Path) -> int:
    """Rewrite an OSM file (any format pyosmium reads) as OSM XML that osmnx can read.

    Nodes and ways are copied; relations are dropped (no graph uses them). A way whose
    node list refers to nodes missing from the file (an extract clipped without
    ``complete_ways``) is cut to its longest run of present nodes, and dropped if fewer
    than two remain.

    Parameters
    ----------
    path
        The input file.
    out
        The ``.osm`` file to write (overwritten).

    Returns
    -------
    int
        The number of ways that had to be cut or dropped.

    Raises
    ------
    MapDataError
        If pyosmium cannot read the file.
    """
    cut = 0
    try:
        present = {
            n.id
            for n in osmium.FileProcessor(str(path), osmium.osm.NODE)
            if isinstance(n, osmium.osm.Node) and n.location.valid()
        }
        writer = osmium.SimpleWriter(str(out), overwrite=True)
        try:
            for obj in osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY):
                if isinstance(obj, osmium.osm.Node):
                    if obj.id in present:
                        writer.add(obj)
                    continue
                if not isinstance(obj, osmium.osm.Way):
                    continue
                refs = [n.ref for n in obj.nodes]
                if all(r in present for r in refs):
                    writer.add(obj)
                    continue
                cut += 1
                kept = _longest_run(refs, present)
                if len(kept) >= 2:
                    writer.add(obj.replace(nodes=kept))
        finally:
            writer.close()
    except (RuntimeError, OSError, ValueError) as exc:
        msg = f"{path}: not a readable OSM file ({exc})"
        raise MapDataError(msg) from exc
    if cut:
        logger.warning("%s: %d ways refer to nodes missing from the file; cut them", path, cut)
    return cut


class _MissingNodesError(Exception):
    """osmnx refused a file whose ways refer to nodes that are not in it."""


def _graph_from_xml(path: Path, display: Path) -> nx.MultiDiGraph:
    try:
        with _osmnx_tags():
            graph = ox.graph_from_xml(path, simplify=False, retain_all=True)
    except ox._errors.InsufficientResponseError as exc:
        msg = f"{display}: no OSM nodes or ways in the file"
        raise MapDataError(msg) from exc
    except ValueError as exc:
        if "missing nodes" in str(exc):
            raise _MissingNodesError(str(exc)) from exc
        msg = f"{display}: not a readable OSM XML file ({type(exc).__name__}: {exc})"
        raise MapDataError(msg) from exc
    except (ET.ParseError, OSError, EOFError, UnicodeDecodeError, KeyError) as exc:
        msg = f"{display}: not a readable OSM XML file ({type(exc).__name__}: {exc})"
        raise MapDataError(msg) from exc
    return graph


def _graph_via_pyosmium(path: Path) -> nx.MultiDiGraph:
    with tempfile.TemporaryDirectory(prefix="hakobu-osm-") as tmp:
        xml = Path(tmp) / "converted.osm"
        to_clean_xml(path, xml)
        try:
            return _graph_from_xml(xml, path)
        except _MissingNodesError as exc:  # cannot happen after cleaning
            msg = f"{path}: ways refer to missing nodes"
            raise MapDataError(msg) from exc


def graph_from_file(path: str | Path, *, simplify: bool = False) -> nx.MultiDiGraph:
    """Read every ``highway`` way of an OSM file into an osmnx MultiDiGraph.

    Parameters
    ----------
    path
        An ``.osm``, ``.osm.bz2``, ``.osm.gz`` or ``.osm.pbf`` file.
    simplify
        Merge chains of degree-2 nodes into single edges (osmnx ``simplify_graph``).
        The default keeps one edge per OSM way segment, so that every edge carries the
        tags of exactly one way; :mod:`maps.road` filters first and simplifies after.

    Returns
    -------
    networkx.MultiDiGraph
        osmnx graph (``x``/``y`` node coordinates, ``length`` in metres per edge, the tags
        in :data:`WAY_TAGS` per edge). Ways without a ``highway`` tag are dropped; all
        connected components are kept.

    Raises
    ------
    MapDataError
        If the file is missing, empty, of an unsupported type, unreadable, or holds no
        ``highway`` ways.

    Notes
    -----
    osmnx reads ``.bz2``/``.gz`` by file suffix. PBF is converted to a temporary OSM XML
    file with pyosmium first (a lossless conversion of ids, coordinates, tags and node
    lists), so both formats give identical graphs.
    """
    p, suffix = _check_file(path)
    if suffix == ".osm.pbf":
        graph = _graph_via_pyosmium(p)
    else:
        try:
            graph = _graph_from_xml(p, p)
        except _MissingNodesError:
            graph = _graph_via_pyosmium(p)
    no_highway = [
        (u, v, k) for u, v, k, d in graph.edges(keys=True, data=True) if "highway" not in d
    ]
    graph.remove_edges_from(no_highway)
    graph.remove_nodes_from([n for n in list(graph.nodes) if graph.degree(n) == 0])
    if graph.number_of_edges() == 0:
        msg = f"{p}: no highway ways in the file"
        raise MapDataError(msg)
    logger.info("%s: %d nodes, %d edges", p, graph.number_of_nodes(), graph.number_of_edges())
    if simplify:
        graph = simplify_graph(graph)
    return graph


def simplify_graph(graph: nx.MultiDiGraph) -> nx.MultiDiGraph:
    """Merge chains of degree-2 nodes (osmnx ``simplify_graph``), summing ``travel_time``.

    Parameters
    ----------
    graph
        An unsimplified osmnx graph; edge attributes ``length`` and (if present)
        ``travel_time`` are summed along merged chains, other attributes become lists
        where they differ.

    Returns
    -------
    networkx.MultiDiGraph
        The simplified graph (merged edges get a shapely ``geometry``).
    """
    with _osmnx_tags():
        return ox.simplify_graph(graph, edge_attr_aggs={"length": sum, "travel_time": sum})


def _transit_kind(tags: Any) -> str | None:
    highway = tags.get("highway")
    if highway in _TRANSIT_HIGHWAY:
        return str(highway)
    pt = tags.get("public_transport")
    if pt in _TRANSIT_PT:
        return f"public_transport={pt}"
    return None


def transit_nodes_from_file(path: str | Path) -> pd.DataFrame:
    """Read the OSM nodes tagged as public-transport stops.

    Parameters
    ----------
    path
        An ``.osm``, ``.osm.bz2``, ``.osm.gz`` or ``.osm.pbf`` file.

    Returns
    -------
    pandas.DataFrame
        Columns ``osm_id`` (int64), ``lon``, ``lat``, ``name`` (``""`` when untagged) and
        ``kind`` (``bus_stop``, ``platform`` or ``public_transport=<value>``), one row per
        node with ``highway=bus_stop|platform`` or
        ``public_transport=platform|stop_position|station``.

    Raises
    ------
    MapDataError
        If the file is missing, empty, of an unsupported type or unreadable.
    """
    p, suffix = _check_file(path)
    rows: list[tuple[int, float, float, str, str]] = []
    try:
        # pyosmium picks the format from the suffix; plain ``.xml`` is OSM XML.
        fp = osmium.FileProcessor(str(p)) if suffix != ".xml" else None
        if fp is None:
            fp = osmium.FileProcessor(osmium.io.File(str(p), "osm"))
        for obj in fp.with_filter(osmium.filter.EntityFilter(osmium.osm.NODE)):
            if not isinstance(obj, osmium.osm.Node):
                continue
            kind = _transit_kind(obj.tags)
            if kind is not None and obj.location.valid():
                name = str(obj.tags.get("name", ""))
                rows.append((obj.id, float(obj.location.lon), float(obj.location.lat), name, kind))
    except (RuntimeError, OSError, ValueError) as exc:
        msg = f"{p}: not a readable OSM file ({exc})"
        raise MapDataError(msg) from exc
    frame = pd.DataFrame(rows, columns=["osm_id", "lon", "lat", "name", "kind"])
    return frame.astype({"osm_id": "int64", "lon": "float64", "lat": "float64"})


def building_points_from_file(path: str | Path) -> Any:
    """Return the ``(lon, lat)`` of every OSM building (``building=*``, not ``no``) in
    the file: the mean of a building way's nodes, or the node itself. Shape ``(n, 2)``.

    Raises
    ------
    MapDataError
        If the file is missing or pyosmium cannot read it.
    """
    import numpy as np

    p, _ = _check_file(path)
    pts: list[tuple[float, float]] = []
    try:
        fp = osmium.FileProcessor(str(p), osmium.osm.NODE | osmium.osm.WAY).with_locations()
        for obj in fp:
            tag = obj.tags.get("building")
            if tag is None or tag == "no":
                continue
            if isinstance(obj, osmium.osm.Node):
                if obj.location.valid():
                    pts.append((obj.location.lon, obj.location.lat))
            elif isinstance(obj, osmium.osm.Way):
                locs = [(n.lon, n.lat) for n in obj.nodes if n.location.valid()]
                if locs:
                    xs, ys = zip(*locs, strict=True)
                    pts.append((sum(xs) / len(xs), sum(ys) / len(ys)))
    except RuntimeError as exc:
        msg = f"{p}: cannot read OSM buildings ({exc})"
        raise MapDataError(msg) from exc
    return np.asarray(pts, dtype=np.float64).reshape(-1, 2)
